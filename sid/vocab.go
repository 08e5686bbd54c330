package sid

import (
	"fmt"
	"strconv"
)

// Special token strings of the SID vocabulary.
const (
	TokenOpen  = "[SID]"
	TokenClose = "[/SID]"
)

// TypeTokenString is the token text of an entity type, e.g. "<type:handbag>".
func TypeTokenString(typ string) string { return "<type:" + typ + ">" }

// CodeTokenString is the token text of code c at level l, e.g. "<l0:12>".
// Levels count from 0; the collision level is the last one.
func CodeTokenString(level, code int) string {
	return "<l" + strconv.Itoa(level) + ":" + strconv.Itoa(code) + ">"
}

// Vocab maps SID parts to model token ids. Tokens are laid out in
// contiguous blocks so that classifying a token is a couple of comparisons:
// one block of type tokens, then one block per code level (code tokens are
// shared across types).
type Vocab struct {
	Open  int32 `json:"sid_open"`
	Close int32 `json:"sid_close"`
	// Types lists entity types; type i has token TypeBase+i.
	Types    []string `json:"types"`
	TypeBase int32    `json:"type_base"`
	// CodeBase[l] is the token of code 0 at level l; level l has
	// CodeCount[l] tokens. The last level is the collision level.
	CodeBase  []int32 `json:"code_base"`
	CodeCount []int   `json:"code_count"`
}

// NewVocab lays out SID tokens starting at token id base:
// [SID], [/SID], the type tokens, then each level's code tokens.
func NewVocab(base int32, types []string, codeCount []int) (*Vocab, error) {
	if len(codeCount) < 2 || len(codeCount) > MaxCodes {
		return nil, fmt.Errorf("sid: %d code levels, want 2..%d", len(codeCount), MaxCodes)
	}
	for _, t := range types {
		if !ValidType(t) {
			return nil, fmt.Errorf("sid: invalid type name %q", t)
		}
	}
	v := &Vocab{Open: base, Close: base + 1, Types: append([]string(nil), types...), TypeBase: base + 2}
	next := v.TypeBase + int32(len(types))
	for _, n := range codeCount {
		if n < 1 || n > MaxCode+1 {
			return nil, fmt.Errorf("sid: level with %d codes", n)
		}
		v.CodeBase = append(v.CodeBase, next)
		v.CodeCount = append(v.CodeCount, n)
		next += int32(n)
	}
	return v, nil
}

// Levels is the number of code levels, collision level included.
func (v *Vocab) Levels() int { return len(v.CodeBase) }

// End is one past the last SID token id.
func (v *Vocab) End() int32 {
	l := len(v.CodeBase) - 1
	return v.CodeBase[l] + int32(v.CodeCount[l])
}

// Strings returns the token text of every SID token, indexed by id-Open.
func (v *Vocab) Strings() []string {
	out := []string{TokenOpen, TokenClose}
	for _, t := range v.Types {
		out = append(out, TypeTokenString(t))
	}
	for l, n := range v.CodeCount {
		for c := 0; c < n; c++ {
			out = append(out, CodeTokenString(l, c))
		}
	}
	return out
}

// TypeIndex returns the index of typ, or -1.
func (v *Vocab) TypeIndex(typ string) int {
	for i, t := range v.Types {
		if t == typ {
			return i
		}
	}
	return -1
}

// TypeToken returns the token of type index i.
func (v *Vocab) TypeToken(i int) int32 { return v.TypeBase + int32(i) }

// CodeToken returns the token of code c at level l.
func (v *Vocab) CodeToken(l, c int) int32 { return v.CodeBase[l] + int32(c) }

// IsSIDToken reports whether tok is any SID token ([SID], [/SID], type, code).
func (v *Vocab) IsSIDToken(tok int32) bool { return tok >= v.Open && tok < v.End() }

// Classify returns what tok is: depth -1 for [SID]/[/SID] or a non-SID
// token (ok=false for the latter), depth 0 for a type token (value = type
// index), depth l+1 for a code token of level l (value = code).
func (v *Vocab) Classify(tok int32) (depth, value int, ok bool) {
	if tok < v.Open || tok >= v.End() {
		return 0, 0, false
	}
	if tok < v.TypeBase {
		return -1, int(tok - v.Open), true
	}
	if tok < v.CodeBase[0] {
		return 0, int(tok - v.TypeBase), true
	}
	for l := len(v.CodeBase) - 1; l >= 0; l-- {
		if tok >= v.CodeBase[l] {
			return l + 1, int(tok - v.CodeBase[l]), true
		}
	}
	return 0, 0, false
}

// Tokens returns the full token span of s: [SID] type codes... [/SID].
func (v *Vocab) Tokens(s SID) ([]int32, error) {
	ti := v.TypeIndex(s.Type)
	if ti < 0 {
		return nil, fmt.Errorf("sid: unknown type %q", s.Type)
	}
	if len(s.Codes) != len(v.CodeBase) {
		return nil, fmt.Errorf("sid: %s has %d codes, vocabulary has %d levels", s, len(s.Codes), len(v.CodeBase))
	}
	out := make([]int32, 0, len(s.Codes)+3)
	out = append(out, v.Open, v.TypeToken(ti))
	for l, c := range s.Codes {
		if c < 0 || c >= v.CodeCount[l] {
			return nil, fmt.Errorf("sid: %s code %d out of range at level %d (%d codes)", s, c, l, v.CodeCount[l])
		}
		out = append(out, v.CodeToken(l, c))
	}
	return append(out, v.Close), nil
}

// FromTokens decodes the tokens between [SID] and [/SID] (type then codes).
func (v *Vocab) FromTokens(toks []int32) (SID, error) {
	if len(toks) != len(v.CodeBase)+1 {
		return SID{}, fmt.Errorf("sid: span of %d tokens, want %d", len(toks), len(v.CodeBase)+1)
	}
	d, ti, ok := v.Classify(toks[0])
	if !ok || d != 0 {
		return SID{}, fmt.Errorf("sid: token %d is not a type token", toks[0])
	}
	s := SID{Type: v.Types[ti], Codes: make([]int, len(v.CodeBase))}
	for l := range v.CodeBase {
		d, c, ok := v.Classify(toks[l+1])
		if !ok || d != l+1 {
			return SID{}, fmt.Errorf("sid: token %d is not a level-%d code", toks[l+1], l)
		}
		s.Codes[l] = c
	}
	return s, nil
}
