package sid

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/neo-search/neo/internal/bpetest"
	"github.com/sugarme/tokenizer"
	"github.com/sugarme/tokenizer/pretrained"
)

// tokTexts are catalog-like texts with the hard cases: accents, currency,
// emoji, CJK, digits, contractions, odd white space, repeated characters.
var tokTexts = []string{
	"Lumière rose-gold bracelet from Maison Aurel",
	"Price: €129.00 (was €150) — 15% off!",
	"Sparkly ring 💍✨ for her 👩‍❤️‍👨",
	"日本語のテキストと한국어",
	"we're sure it's the one they'll love, isn't it?",
	"  two  spaces,\ttab\nnewline\r\n trailing  ",
	"aaaa bbbbbb 000000 !!!! ....",
	"Ünïcödé Ångström naïve café",
	"The user interacted with . Recommend items they will like next.",
	"a\u00a0non-breaking\u2009thin space and \u200bzero width",
	"x",
	"",
}

// trainTestTokenizer trains a small tokenizer with specials and a SID
// vocabulary and writes tokenizer.json into a temp dir.
func trainTestTokenizer(t testing.TB, vocabSize int) (*Tokenizer, string) {
	t.Helper()
	counts := map[string]int{}
	count := func(s string) { PreTokenize(s, func(p string) { counts[p]++ }) }
	for i := 0; i < 20; i++ {
		for _, s := range tokTexts {
			count(s)
		}
		count("Understated rose gold pieces from Maison Aurel, mostly bracelets and rings, at mid-range prices.")
	}
	vocab, merges := trainTestBPE(counts, vocabSize, 2)
	sv, err := NewVocab(int32(len(vocab)+len(SpecialTokens)), []string{"bracelet", "ring"}, []int{4, 4, 2})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := NewTokenizer(vocab, merges, append(append([]string(nil), SpecialTokens...), sv.Strings()...))
	if err != nil {
		t.Fatal(err)
	}
	data, err := tok.MarshalHF()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, TokenizerFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return tok, dir
}

// trainTestBPE is textbook byte-level BPE training (bpetest.Train). It
// gives the same vocabulary and merges as the exporter's trainer
// (exporter.TestTrainBPEMatchesNaive).
func trainTestBPE(counts map[string]int, vocabSize, minFreq int) ([]string, [][2]string) {
	return bpetest.Train(counts, vocabSize, minFreq, []string{TokenPad, TokenUnk}, ByteToken)
}

func sugarmeIDs(t testing.TB, tk *tokenizer.Tokenizer, text string) []int32 {
	t.Helper()
	en, err := tk.EncodeSingle(text, false)
	if err != nil {
		t.Fatalf("sugarme encode %q: %v", text, err)
	}
	out := make([]int32, len(en.Ids))
	for i, id := range en.Ids {
		out[i] = int32(id)
	}
	return out
}

func TestTokenizerRoundTrip(t *testing.T) {
	mem, dir := trainTestTokenizer(t, 600)
	sm, err := pretrained.FromFile(filepath.Join(dir, TokenizerFile))
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sm.GetVocabSize(true), mem.VocabSize(); got != want {
		t.Errorf("sugarme vocab size %d, want %d", got, want)
	}
	for _, text := range tokTexts {
		t.Run(text, func(t *testing.T) {
			ids, _ := mem.Encode(text)
			if want := sugarmeIDs(t, sm, text); !slices.Equal(ids, want) {
				t.Errorf("in-memory ids %v, sugarme from tokenizer.json %v", ids, want)
			}
			if l, _ := loaded.Encode(text); !slices.Equal(ids, l) {
				t.Errorf("LoadTokenizer ids %v, in-memory %v", l, ids)
			}
			if got := mem.Decode(ids); got != text {
				t.Errorf("Decode = %q, want %q", got, text)
			}
			sids := make([]int, len(ids))
			for i, id := range ids {
				sids[i] = int(id)
			}
			if got := sm.Decode(sids, false); got != text {
				t.Errorf("sugarme Decode = %q, want %q", got, text)
			}
		})
	}
	// Added tokens: same ids in sugarme, rendered as their strings.
	for _, s := range append([]string{TokenPad, TokenUnk, "[SID]", "<type:ring>", "<l2:1>"}, SpecialTokens...) {
		want, ok := mem.TokenID(s)
		if !ok {
			t.Fatalf("no id for %s", s)
		}
		if got, ok := sm.TokenToId(s); !ok || int32(got) != want {
			t.Errorf("sugarme id of %s = %d, want %d", s, got, want)
		}
		if got := mem.Decode([]int32{want}); got != s {
			t.Errorf("Decode(%s) = %q", s, got)
		}
	}
}

func TestEncodeIgnoresSpecialText(t *testing.T) {
	tok, _ := trainTestTokenizer(t, 400)
	ids, _ := tok.Encode("<|eos|> [SID] <type:ring> <l0:1> [/SID] <|assistant|>")
	for _, id := range ids {
		if int(id) >= tok.BPESize() {
			t.Fatalf("plain-text encode produced added token %d (%q)", id, tok.TokenText(id))
		}
	}
	if got := tok.Decode([]int32{-1, int32(tok.VocabSize())}); got != TokenUnk+TokenUnk {
		t.Errorf("out-of-range ids decode to %q", got)
	}
}

func TestEncodeInvalidUTF8(t *testing.T) {
	tok, _ := trainTestTokenizer(t, 400)
	ids, _ := tok.Encode("ab\xffc\xe2\x82")
	if got, want := tok.Decode(ids), "ab\uFFFDc\uFFFD\uFFFD"; got != want {
		t.Errorf("Decode(Encode(invalid)) = %q, want %q", got, want)
	}
}

func TestEncodeConcurrent(t *testing.T) {
	tok, _ := trainTestTokenizer(t, 500)
	want := make([][]int32, len(tokTexts))
	for i, s := range tokTexts {
		want[i] = tok.bpeAll(s)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < 50; r++ {
				for i, s := range tokTexts {
					if got, _ := tok.Encode(s); !slices.Equal(got, want[i]) {
						t.Errorf("concurrent Encode(%q) = %v, want %v", s, got, want[i])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

// bpeAll encodes without the cache.
func (t *Tokenizer) bpeAll(s string) []int32 {
	var out []int32
	PreTokenize(s, func(p string) { out = append(out, t.bpe(p)...) })
	return out
}

func TestParseTokenizerErrors(t *testing.T) {
	tok, _ := trainTestTokenizer(t, 300)
	good, err := tok.MarshalHF()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseTokenizer(good); err != nil {
		t.Fatalf("good file: %v", err)
	}
	cases := []struct {
		name, old, new, want string
	}{
		{"not json", "{", "[", "tokenizer.json"},
		{"wordpiece", `"type": "BPE"`, `"type": "WordPiece"`, "model type"},
		{"prefix space", `"add_prefix_space": false`, `"add_prefix_space": true`, "add_prefix_space"},
		{"vocab gap", `"<|unk|>": 1,`, `"<|unk|>": 7000,`, "vocab ids"},
		{"added id gap", `"id": 301,`, `"id": 9999,`, "without gaps"},
		{"negative id", `"id": 301,`, `"id": -5,`, "negative id"},
		{"bad merge", `"merges": [` + "\n", `"merges": [` + "\n" + `"zzq zzr",`, "outside the vocabulary"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := string(good)
			if !strings.Contains(s, c.old) {
				t.Fatalf("fixture lacks %q", c.old)
			}
			_, err := ParseTokenizer([]byte(strings.Replace(s, c.old, c.new, 1)))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want mention of %q", err, c.want)
			}
		})
	}
	if _, err := LoadTokenizer(t.TempDir()); err == nil {
		t.Error("LoadTokenizer of an empty dir: no error")
	}
}

func FuzzParseTokenizer(f *testing.F) {
	tok, _ := trainTestTokenizer(f, 300)
	good, _ := tok.MarshalHF()
	f.Add(good)
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"<|pad|>":0},"merges":["a b"]}}`))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{},"merges":[["a","b"]]},"added_tokens":[{"id":-1}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := ParseTokenizer(data)
		if err != nil {
			return
		}
		ids, _ := tk.Encode("Lumière €5 💍")
		if got := tk.Decode(ids); got != "Lumière €5 💍" {
			t.Fatalf("parsed tokenizer does not round-trip: %q", got)
		}
	})
}

// FuzzEncodeMatchesSugarme checks the fast encoder against sugarme's
// tokenizer loaded from the same tokenizer.json, and the round trip.
func FuzzEncodeMatchesSugarme(f *testing.F) {
	tok, dir := trainTestTokenizer(f, 600)
	sm, err := pretrained.FromFile(filepath.Join(dir, TokenizerFile))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range tokTexts {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 512 {
			return // sugarme merges in O(n²) per word: 4000 letters take 0.6 s
		}
		if !utf8.ValidString(s) {
			return // sugarme's offsets go astray on invalid UTF-8; see TestEncodeInvalidUTF8
		}
		for _, a := range []string{"<|", "[SID]", "[/SID]", "<type:", "<l"} {
			if strings.Contains(s, a) {
				return // sugarme splits added tokens out of text; Encode does not
			}
		}
		ids, _ := tok.Encode(s)
		if want := sugarmeIDs(t, sm, s); !slices.Equal(ids, want) {
			t.Fatalf("Encode(%q) = %v, sugarme %v", s, ids, want)
		}
		if got := tok.Decode(ids); got != s {
			t.Fatalf("Decode(Encode(%q)) = %q", s, got)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	tok, _ := trainTestTokenizer(b, 600)
	text := strings.Join(tokTexts, " ")
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		tok.Encode(text)
	}
}

func BenchmarkEncodeSugarme(b *testing.B) {
	_, dir := trainTestTokenizer(b, 600)
	sm, err := pretrained.FromFile(filepath.Join(dir, TokenizerFile))
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Join(tokTexts, " ")
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		sm.EncodeSingle(text, false)
	}
}
