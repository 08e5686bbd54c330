// Package sid holds neo's semantic item IDs: the SID type and its text form,
// the mapping between SIDs and model tokens, residual k-means assignment of
// SIDs to catalog items, and the constraint Trie the decoder walks. It also
// owns the model directory contract that training and serving must agree
// on: neo.json (ModelMeta, Validate) and tokenizer.json loaded together
// (LoadModel), the tasks and output formats, and the one prompt renderer
// (Prompt, SequencePrompt) that the exporter and the engine both call.
//
// An SID is an entity type plus a fixed number of codes: L semantic levels
// from residual k-means over item embeddings, then one collision level that
// numbers items sharing the same semantic codes. Text form:
//
//	[SID:handbag-12-203-5-0]
package sid

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/neo-search/neo/internal/textutil"
)

// MaxCodes bounds the number of code levels (semantic + collision) in one SID.
const MaxCodes = 8

// MaxCode bounds the value of any one code: codes are stored as uint16.
const MaxCode = 1<<16 - 1

// SID is a typed semantic item ID. Codes holds the semantic levels followed by
// the collision level.
type SID struct {
	Type  string
	Codes []int
}

// Prefix and suffix of the SID text form.
const (
	TextPrefix = "[SID:"
	TextSuffix = "]"
)

// String renders the text form, e.g. "[SID:handbag-12-203-5-0]".
func (s SID) String() string {
	var b strings.Builder
	b.Grow(len(s.Type) + 6 + 4*len(s.Codes))
	b.WriteString(TextPrefix)
	b.WriteString(s.Type)
	for _, c := range s.Codes {
		b.WriteByte('-')
		b.WriteString(strconv.Itoa(c))
	}
	b.WriteString(TextSuffix)
	return b.String()
}

// Key is the text form without brackets ("handbag-12-203-5-0"), handy as a
// map key and as the value stored in the catalog's sid field.
func (s SID) Key() string {
	t := s.String()
	return t[len(TextPrefix) : len(t)-len(TextSuffix)]
}

// Equal reports whether two SIDs are the same.
func (s SID) Equal(o SID) bool {
	if s.Type != o.Type || len(s.Codes) != len(o.Codes) {
		return false
	}
	for i := range s.Codes {
		if s.Codes[i] != o.Codes[i] {
			return false
		}
	}
	return true
}

// ErrSyntax is wrapped by every Parse error.
var ErrSyntax = errors.New("sid: invalid SID")

// ValidType reports whether name can be an entity type in an SID: a lower-case
// letter followed by lower-case letters, digits or underscores, at most 32
// bytes. Hyphens are not allowed because they separate codes.
func ValidType(name string) bool {
	if name == "" || len(name) > 32 || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// NormalizeType maps a free-form entity type ("Hand Bag", "t-shirt") to a
// valid SID type ("hand_bag", "t_shirt"). It returns "" when nothing usable
// remains.
func NormalizeType(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(name)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '_' || r == '/' || r == '.':
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "_") {
				b.WriteByte('_')
			}
		}
	}
	out := strings.TrimRight(b.String(), "_")
	if out != "" && (out[0] < 'a' || out[0] > 'z') {
		out = "t_" + out
	}
	if len(out) > 32 {
		out = strings.TrimRight(out[:32], "_")
	}
	if !ValidType(out) {
		return ""
	}
	return out
}

// Parse reads an SID in text form. It accepts "[SID:handbag-12-203-5-0]" and
// the bare key "handbag-12-203-5-0".
func Parse(text string) (SID, error) {
	body := text
	if strings.HasPrefix(body, TextPrefix) {
		if !strings.HasSuffix(body, TextSuffix) {
			return SID{}, fmt.Errorf("%w: %q lacks closing %q", ErrSyntax, clip(text), TextSuffix)
		}
		body = body[len(TextPrefix) : len(body)-len(TextSuffix)]
	}
	parts := strings.Split(body, "-")
	if len(parts) < 2 {
		return SID{}, fmt.Errorf("%w: %q has no codes", ErrSyntax, clip(text))
	}
	if len(parts)-1 > MaxCodes {
		return SID{}, fmt.Errorf("%w: %q has %d codes (max %d)", ErrSyntax, clip(text), len(parts)-1, MaxCodes)
	}
	if !ValidType(parts[0]) {
		return SID{}, fmt.Errorf("%w: %q has invalid type %q", ErrSyntax, clip(text), clip(parts[0]))
	}
	s := SID{Type: parts[0], Codes: make([]int, len(parts)-1)}
	for i, p := range parts[1:] {
		if p == "" || len(p) > 5 || (len(p) > 1 && p[0] == '0') {
			return SID{}, fmt.Errorf("%w: %q has invalid code %q", ErrSyntax, clip(text), clip(p))
		}
		n := 0
		for j := 0; j < len(p); j++ {
			if p[j] < '0' || p[j] > '9' {
				return SID{}, fmt.Errorf("%w: %q has invalid code %q", ErrSyntax, clip(text), clip(p))
			}
			n = n*10 + int(p[j]-'0')
		}
		if n > MaxCode {
			return SID{}, fmt.Errorf("%w: code %d out of range in %q", ErrSyntax, n, clip(text))
		}
		s.Codes[i] = n
	}
	return s, nil
}

// clip quotes input briefly in error messages.
func clip(s string) string { return textutil.Clip(s, 64) }

// FindAll returns every SID text span in s that parses, in order, with byte
// offsets [start,end). Spans that look like SIDs but do not parse are skipped.
func FindAll(s string) (sids []SID, spans [][2]int) {
	off := 0
	for {
		i := strings.Index(s[off:], TextPrefix)
		if i < 0 {
			return
		}
		start := off + i
		j := strings.Index(s[start:], TextSuffix)
		if j < 0 {
			return
		}
		end := start + j + len(TextSuffix)
		if v, err := Parse(s[start:end]); err == nil {
			sids = append(sids, v)
			spans = append(spans, [2]int{start, end})
		}
		off = start + len(TextPrefix)
	}
}
