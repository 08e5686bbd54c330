package sid

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// demoTexts are the demo catalog's titles and descriptions and its
// queries: the text serving and training encode.
func demoTexts(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, name := range []string{"items.ndjson", "queries.ndjson"} {
		f, err := os.Open(filepath.Join("..", "testdata", "demo", name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() && len(out) < 3000 {
			var r struct{ Title, Description, Query string }
			if json.Unmarshal(sc.Bytes(), &r) == nil {
				for _, s := range []string{r.Title, r.Description, r.Query} {
					if s != "" {
						out = append(out, s)
					}
				}
			}
		}
		f.Close()
	}
	return out
}

// A tokenizer loaded from a model directory encodes through
// sugarme/tokenizer, with the same ids as the package's encoder, and falls
// back to it where the library is not exact; concurrently too.
func TestLibraryEncoder(t *testing.T) {
	tok, err := LoadTokenizer(filepath.Join("..", "testdata", "model"))
	if err != nil {
		t.Fatal(err)
	}
	if !tok.UsesLibrary() {
		t.Fatal("a loaded tokenizer does not use sugarme/tokenizer")
	}
	texts := append(demoTexts(t),
		"A shopper searches for \"gold ring\". Which ring fit best?", // prompt text
		strings.Repeat("x", 200),                                     // a long word: the package's encoder
		"bad \xff utf8",                                              // invalid UTF-8: the package's encoder
		"looks like <|eos|> and [SID] text",                          // added-token text: the package's encoder
	)
	used := 0
	for _, s := range texts {
		got, err := tok.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		if want := tok.AppendEncode(nil, s); !slices.Equal(got, want) {
			t.Fatalf("Encode(%q) = %v, package encoder %v", s, got, want)
		}
		if libSafe(s) {
			used++
		}
	}
	if used < len(texts)/2 {
		t.Fatalf("the library encoded %d of %d texts", used, len(texts))
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < len(texts); i += 4 {
				got, _ := tok.Encode(texts[i])
				if want := tok.AppendEncode(nil, texts[i]); !slices.Equal(got, want) {
					t.Errorf("concurrent Encode(%q) differs", texts[i])
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

// BenchmarkEncodeLibrary and BenchmarkEncodePackage time the two encoders
// on the demo's texts (go test -bench Encode -benchmem ./sid).
func BenchmarkEncodeLibrary(b *testing.B) {
	benchEncode(b, func(tok *Tokenizer, s string) { tok.libEncode(s) })
}

func BenchmarkEncodePackage(b *testing.B) {
	benchEncode(b, func(tok *Tokenizer, s string) { tok.AppendEncode(nil, s) })
}

func benchEncode(b *testing.B, enc func(*Tokenizer, string)) {
	tok, err := LoadTokenizer(filepath.Join("..", "testdata", "model"))
	if err != nil {
		b.Fatal(err)
	}
	var texts []string
	for _, s := range demoTexts(b) {
		if libSafe(s) {
			texts = append(texts, s)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		enc(tok, texts[i%len(texts)])
	}
}
