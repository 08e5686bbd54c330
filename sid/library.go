package sid

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sugarme/tokenizer/pretrained"
)

// The tokenizer library: a tokenizer loaded from tokenizer.json
// (LoadTokenizer) also holds github.com/sugarme/tokenizer's reading of the
// same file, the Hugging Face format's Go implementation, and Encode runs
// it for the text it encodes exactly as this package's BPE does (the two
// agree there: FuzzEncodeMatchesSugarme). The rest, where the library has
// known defects, stays with the package's encoder, at the boundary:
//   - invalid UTF-8 (the library's offsets go astray);
//   - text holding the start of an added token ("<", "[": the library
//     splits added tokens out of text, which must never yield one);
//   - a word of more than libMaxWord bytes or a text of more than
//     libMaxText (the library merges in O(n²) per word: a long word from a
//     client would cost seconds).
const (
	libMaxWord = 64
	libMaxText = 4096
)

// attachLibrary loads path with the library.
func (t *Tokenizer) attachLibrary(path string) error {
	lib, err := pretrained.FromFile(path)
	if err != nil {
		return fmt.Errorf("sid: %s: sugarme/tokenizer: %w", path, err)
	}
	t.lib = lib
	return nil
}

// UsesLibrary reports whether Encode runs sugarme/tokenizer (for a
// tokenizer loaded from a file).
func (t *Tokenizer) UsesLibrary() bool { return t.lib != nil }

// libSafe reports whether the library encodes text as the package does.
func libSafe(text string) bool {
	if len(text) > libMaxText || !utf8.ValidString(text) || strings.ContainsAny(text, "<[") {
		return false
	}
	word := 0
	for _, r := range text {
		if unicode.IsSpace(r) {
			word = 0
			continue
		}
		if word += utf8.RuneLen(r); word > libMaxWord {
			return false
		}
	}
	return true
}

// libEncode encodes text with the library.
func (t *Tokenizer) libEncode(text string) ([]int32, error) {
	en, err := t.lib.EncodeSingle(text, false)
	if err != nil {
		return nil, fmt.Errorf("sid: sugarme/tokenizer: %w", err)
	}
	out := make([]int32, len(en.Ids))
	for i, id := range en.Ids {
		out[i] = int32(id)
	}
	return out, nil
}
