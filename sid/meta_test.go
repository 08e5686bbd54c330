package sid

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// testMeta lays out neo.json for tok the way the exporter does: <|pad|>,
// <|unk|>, the specials after the BPE vocabulary, then the SID tokens.
func testMeta(t *testing.T, tok *Tokenizer) *ModelMeta {
	t.Helper()
	v, err := NewVocab(int32(tok.BPESize()+len(SpecialTokens)), []string{"bracelet", "ring"}, []int{4, 4, 2})
	if err != nil {
		t.Fatal(err)
	}
	m := &ModelMeta{FormatVersion: MetaFormatVersion, PromptVersion: 1, VocabSize: int(v.End()), SID: v, SIDLevels: v.Levels() - 1,
		Special: map[string]int32{TokenPad: 0, TokenUnk: 1}, Templates: map[string][]string{TaskSearch: {"Find {type}: {query}"}, TaskRecommend: {"After {history}: {type}"}, TaskExplain: {"Explain {history}"}, TaskMixed: {"Recommend {type} after {history}"}}, MaxSeq: 64}
	for i, s := range SpecialTokens {
		m.Special[s] = int32(tok.BPESize() + i)
	}
	return m
}

func TestModelMetaWithTokenizer(t *testing.T) {
	tok, dir := trainTestTokenizer(t, 400)
	m := testMeta(t, tok)
	if err := m.CheckTokenizer(tok); err != nil {
		t.Fatal(err)
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, MetaFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := LoadModelMeta(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, m) {
		t.Errorf("LoadModelMeta(Marshal(m)) = %+v, want %+v", back, m)
	}
	loaded, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := SID{Type: "ring", Codes: []int{1, 3, 0}}
	segs := []Segment{{Special: TokenBOS}, {Text: "Lumière "}, {SID: &s}, {Text: " ring"}, {Special: FormatToken(FormatMixed)}}
	ids, err := back.Encode(segs, loaded.Encode)
	if err != nil {
		t.Fatal(err)
	}
	want := "<|bos|>Lumière [SID]<type:ring><l0:1><l1:3><l2:0>[/SID] ring<|fmt:mixed|>"
	if got := loaded.Decode(ids); got != want {
		t.Errorf("Decode(Encode(segments)) = %q, want %q", got, want)
	}

	other, _ := trainTestTokenizer(t, 300)
	if err := m.CheckTokenizer(other); err == nil {
		t.Error("tokenizer of another vocabulary size accepted")
	}
	m.Special[TokenEOS]++
	if err := m.CheckTokenizer(tok); err == nil {
		t.Error("special id mismatch accepted")
	}
}
