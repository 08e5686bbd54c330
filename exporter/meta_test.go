package exporter

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neo-search/neo/sid"
)

func TestMetaReadByEngine(t *testing.T) {
	_, dir := export(t, fixture(), Options{Seed: 1})
	// The engine reads the directory through sid.LoadModel: neo.json and
	// tokenizer.json validated together.
	m, tok, err := sid.LoadModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.PromptHistory != DefaultMaxHistory {
		t.Errorf("neo.json prompt_history %d, the export used %d", m.PromptHistory, DefaultMaxHistory)
	}
	// sid.ModelMeta describes the whole file: it marshals back byte for byte.
	raw, err := os.ReadFile(filepath.Join(dir, sid.MetaFile))
	if err != nil {
		t.Fatal(err)
	}
	if again, err := m.Marshal(); err != nil || !bytes.Equal(again, raw) {
		t.Errorf("neo.json does not round-trip through sid.ModelMeta (err %v):\n%s\nwant\n%s", err, again, raw)
	}
	// A prompt built here and decoded by the tokenizer reads as the template.
	h := sid.SID{Type: "ring", Codes: []int{1, 0, 1, 1}}
	segs, err := Prompt(m, sid.TaskRecommend, 0, sid.FormatIDs, map[string][]sid.Segment{"history": sid.Spans([]sid.SID{h}), "type": TypeValue("")})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := m.Encode(segs, tok.Encode)
	if err != nil {
		t.Fatal(err)
	}
	want := "<|bos|><|user|>The user interacted with [SID]<type:ring><l0:1><l1:0><l2:1><l3:1>[/SID]. Recommend items they will like next.<|fmt:ids|><|assistant|>"
	if got := tok.Decode(ids); got != want {
		t.Errorf("prompt decodes to\n%q\nwant\n%q", got, want)
	}
	if _, err := Prompt(m, sid.TaskSearch, 99, sid.FormatIDs, nil); err == nil {
		t.Error("template 99 accepted")
	}
}

func TestLoadMetaErrors(t *testing.T) {
	_, dir := export(t, fixture(), Options{Seed: 1})
	raw, _ := os.ReadFile(filepath.Join(dir, sid.MetaFile))
	var good map[string]any
	if err := json.Unmarshal(raw, &good); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		change func(m map[string]any)
		want   string
	}{
		{"format version", func(m map[string]any) { m["format_version"] = 2 }, "format_version"},
		{"prompt version", func(m map[string]any) { m["prompt_version"] = 9 }, "prompt_version"},
		{"vocab size", func(m map[string]any) { m["vocab_size"] = 10 }, "vocab_size"},
		{"missing special", func(m map[string]any) { delete(m["special"].(map[string]any), "<|eos|>") }, "<|eos|>"},
		{"sid levels", func(m map[string]any) { m["sid_levels"] = 7 }, "sid_levels"},
		{"no templates", func(m map[string]any) { delete(m["templates"].(map[string]any), "explain") }, "explain"},
		{"served template with context", func(m map[string]any) {
			m["templates"].(map[string]any)["mixed"] = []any{"{history} {context}"}
		}, "template 0"},
		{"max seq", func(m map[string]any) { m["max_seq"] = 4 }, "max_seq"},
		{"prompt history", func(m map[string]any) { m["prompt_history"] = -1 }, "prompt_history"},
		{"sequence template", func(m map[string]any) {
			m["templates"].(map[string]any)[sid.TaskRecommendSequence] = []any{"{history} next"}
		}, "{history}"},
		{"no sid", func(m map[string]any) { delete(m, "sid") }, "sid vocabulary"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m map[string]any
			json.Unmarshal(raw, &m)
			c.change(m)
			b, _ := json.Marshal(m)
			d := t.TempDir()
			os.WriteFile(filepath.Join(d, sid.MetaFile), b, 0o644)
			_, err := sid.LoadModelMeta(d)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want mention of %q", err, c.want)
			}
		})
	}
	if _, err := sid.LoadModelMeta(t.TempDir()); err == nil {
		t.Error("missing neo.json: no error")
	}
	// A tokenizer from another export does not match: LoadModel refuses
	// the pair.
	_, other := export(t, fixture(), Options{Seed: 1, VocabSize: 300})
	tokRaw, err := os.ReadFile(filepath.Join(other, sid.TokenizerFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, sid.TokenizerFile), tokRaw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sid.LoadModel(dir); err == nil {
		t.Error("mismatched tokenizer accepted")
	}
}
