package sid

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The byte-level pre-tokenizer. It reproduces, without regexp, exactly what
// github.com/sugarme/tokenizer's ByteLevel pre-tokenizer does with
// use_regex and add_prefix_space=false: split on the GPT-2 pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+
//
// (Go RE2, leftmost-first, \s = [\t\n\f\r ]), keep the text between
// matches as pieces of their own, and map every byte to its printable
// stand-in. TestTokenizerRoundTrip and FuzzEncodeMatchesSugarme hold the
// two implementations together; this one is an order of magnitude faster
// and allocation-light, which matters for serving.

// byteChar maps a byte to its GPT-2 printable stand-in rune.
var byteChar [256]rune

// charByte is the inverse of byteChar.
var charByte = map[rune]byte{}

func init() {
	// Same table as GPT-2's bytes_to_unicode: printable Latin-1 bytes map
	// to themselves, the rest to 256+n in byte order.
	n := 0
	for b := 0; b < 256; b++ {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF {
			byteChar[b] = rune(b)
		} else {
			byteChar[b] = rune(256 + n)
			n++
		}
		charByte[byteChar[b]] = byte(b)
	}
}

// ByteToken returns the byte-level token of byte b: its GPT-2 printable
// stand-in rune as a string. The BPE vocabulary holds one for every byte.
func ByteToken(b byte) string { return string(byteChar[b]) }

// byteLevel returns the byte-level form of s (each byte as its stand-in).
func byteLevel(s string) string {
	var b strings.Builder
	b.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		b.WriteRune(byteChar[s[i]])
	}
	return b.String()
}

// fromByteLevel inverts byteLevel; runes outside the table are dropped.
func fromByteLevel(tok string) []byte {
	out := make([]byte, 0, len(tok))
	for _, r := range tok {
		if b, ok := charByte[r]; ok {
			out = append(out, b)
		}
	}
	return out
}

// SanitizeUTF8 replaces every invalid byte with U+FFFD, one per byte, the
// way ranging over a string (and so sugarme's byte-level step) does.
// Tokenizer.Encode applies it before pre-tokenizing.
func SanitizeUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}

func isRE2Space(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\f' || r == '\r'
}

// runClass: 1 letter, 2 number, 3 other (not space, letter or number), 0 space.
func runClass(r rune) int {
	switch {
	case isRE2Space(r):
		return 0
	case unicode.IsLetter(r):
		return 1
	case unicode.IsNumber(r):
		return 2
	default:
		return 3
	}
}

// runLen returns the byte length of the run of class c starting at s[i:].
func runLen(s string, i, c int) int {
	j := i
	for j < len(s) {
		r, w := utf8.DecodeRuneInString(s[j:])
		if runClass(r) != c {
			break
		}
		j += w
	}
	return j - i
}

var contractions = [...]string{"s", "t", "re", "ve", "m", "ll", "d"}

// matchAt returns the length of the pattern match starting at s[i], or 0.
func matchAt(s string, i int) int {
	r, w := utf8.DecodeRuneInString(s[i:])
	if r == '\'' {
		rest := s[i+1:]
		for _, c := range contractions {
			if strings.HasPrefix(rest, c) {
				return 1 + len(c)
			}
		}
	}
	if r == ' ' {
		if i+1 >= len(s) {
			return 0
		}
		r2, _ := utf8.DecodeRuneInString(s[i+1:])
		c := runClass(r2)
		if c == 0 {
			return 0
		}
		return 1 + runLen(s, i+1, c)
	}
	c := runClass(r)
	if c == 0 {
		return 0
	}
	_ = w
	return runLen(s, i, c)
}

// PreTokenize calls yield for every pre-token of text, the pieces BPE merges
// within, exactly as Tokenizer.Encode splits text (invalid UTF-8 replaced
// first, see SanitizeUTF8). A BPE trainer counts these pieces, so that it
// learns merges on the units the tokenizer applies them to.
func PreTokenize(text string, yield func(piece string)) {
	splitPieces(SanitizeUTF8(text), yield)
}

// splitPieces calls yield for every pre-token of s: pattern matches and the
// unmatched stretches between them, in order, covering all of s.
func splitPieces(s string, yield func(piece string)) {
	gap := -1
	for i := 0; i < len(s); {
		if n := matchAt(s, i); n > 0 {
			if gap >= 0 {
				yield(s[gap:i])
				gap = -1
			}
			yield(s[i : i+n])
			i += n
			continue
		}
		if gap < 0 {
			gap = i
		}
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	if gap >= 0 {
		yield(s[gap:])
	}
}
