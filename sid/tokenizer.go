package sid

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sugarme/tokenizer"
)

// Tokenizer is neo's byte-level BPE tokenizer: the BPE vocabulary first
// (<|pad|>=0, <|unk|>=1, the 256 byte tokens, then merges), then added
// tokens (the specials of CONTRACTS.md and the SID tokens) by id.
//
// Encode handles plain text only: added tokens are never recognised inside
// text, so user input cannot smuggle in "<|eos|>" or "[SID]"; specials and
// SIDs are placed by id through Vocab.Encode. A Tokenizer is safe for
// concurrent use.
type Tokenizer struct {
	vocab   []string // BPE id → byte-level token string
	bpeID   map[string]int32
	merges  map[uint64]mergeRule // (left<<32 | right) → rule
	byteID  [256]int32
	added   []string // added token content, id = len(vocab)+i
	addedID map[string]int32
	text    [][]byte // id → decoded bytes (BPE) or token text (added)
	mergesL [][2]string

	mu        sync.RWMutex
	cache     map[string][]int32
	cacheFull atomic.Bool

	lib *tokenizer.Tokenizer // sugarme's reading of tokenizer.json (library.go); nil: built in memory
}

type mergeRule struct {
	rank  int32
	newID int32
}

// Special token strings of every neo vocabulary: TokenPad and TokenUnk are
// BPE ids 0 and 1, the others are added tokens (SpecialTokens). The SID
// markers are TokenOpen and TokenClose.
const (
	TokenPad       = "<|pad|>"
	TokenUnk       = "<|unk|>"
	TokenBOS       = "<|bos|>"
	TokenEOS       = "<|eos|>"
	TokenUser      = "<|user|>"
	TokenAssistant = "<|assistant|>"
)

// FormatToken returns the special token of output format f ("ids", "text",
// "mixed"), e.g. "<|fmt:ids|>".
func FormatToken(f string) string { return "<|fmt:" + f + "|>" }

// Output formats.
const (
	FormatIDs   = "ids"
	FormatText  = "text"
	FormatMixed = "mixed"
)

// SpecialTokens lists the special tokens added after the BPE vocabulary, in
// id order (CONTRACTS.md "Token conventions").
var SpecialTokens = []string{TokenBOS, TokenEOS, TokenUser, TokenAssistant,
	FormatToken(FormatIDs), FormatToken(FormatText), FormatToken(FormatMixed)}

const maxCachedPiece = 64       // longer pieces are rare; don't let them fill the cache
const maxCacheEntries = 1 << 16 // bounds memory on adversarial serving input

// NewTokenizer builds a tokenizer from a BPE vocabulary in id order (its
// tokens in byte-level form, see ByteToken; it must start with TokenPad,
// TokenUnk and hold the token of every byte), its merges in rank order (as
// pairs of byte-level tokens whose concatenation is in the vocabulary), and
// the added tokens in id order, which take the ids following the BPE
// vocabulary (SpecialTokens, then Vocab.Strings in neo's layout).
func NewTokenizer(vocab []string, merges [][2]string, added []string) (*Tokenizer, error) {
	if len(vocab) < 2 || vocab[0] != TokenPad || vocab[1] != TokenUnk {
		return nil, fmt.Errorf("sid: BPE vocabulary must start with %s, %s", TokenPad, TokenUnk)
	}
	t := &Tokenizer{
		vocab:   vocab,
		bpeID:   make(map[string]int32, len(vocab)),
		merges:  make(map[uint64]mergeRule, len(merges)),
		addedID: make(map[string]int32, len(added)),
		cache:   make(map[string][]int32),
		mergesL: merges,
	}
	for i, v := range vocab {
		if _, dup := t.bpeID[v]; dup {
			return nil, fmt.Errorf("sid: token %q appears twice in the BPE vocabulary", v)
		}
		t.bpeID[v] = int32(i)
	}
	for b := 0; b < 256; b++ {
		id, ok := t.bpeID[string(byteChar[b])]
		if !ok {
			return nil, fmt.Errorf("sid: BPE vocabulary lacks the token of byte %#02x", b)
		}
		t.byteID[b] = id
	}
	for rank, m := range merges {
		a, okA := t.bpeID[m[0]]
		b, okB := t.bpeID[m[1]]
		n, okN := t.bpeID[m[0]+m[1]]
		if !okA || !okB || !okN {
			return nil, fmt.Errorf("sid: merge %d (%q %q) refers to tokens outside the vocabulary", rank, m[0], m[1])
		}
		key := uint64(uint32(a))<<32 | uint64(uint32(b))
		if _, dup := t.merges[key]; dup {
			// sugarme keeps the later rank, HF the earlier; refuse the ambiguity.
			return nil, fmt.Errorf("sid: merge %q %q appears twice", m[0], m[1])
		}
		t.merges[key] = mergeRule{rank: int32(rank), newID: n}
	}
	t.text = make([][]byte, len(vocab)+len(added))
	for i, v := range vocab {
		if i < 2 {
			t.text[i] = []byte(v)
			continue
		}
		t.text[i] = fromByteLevel(v)
	}
	for i, a := range added {
		id := int32(len(vocab) + i)
		if a == "" {
			return nil, fmt.Errorf("sid: empty added token at id %d", id)
		}
		if _, dup := t.addedID[a]; dup {
			return nil, fmt.Errorf("sid: added token %q appears twice", a)
		}
		if _, dup := t.bpeID[a]; dup {
			return nil, fmt.Errorf("sid: added token %q is also a BPE token", a)
		}
		t.addedID[a] = id
		t.text[id] = []byte(a)
	}
	t.added = added
	return t, nil
}

// VocabSize is the number of token ids, added tokens included.
func (t *Tokenizer) VocabSize() int { return len(t.vocab) + len(t.added) }

// BPESize is the number of BPE token ids (<|pad|> and <|unk|> included); the
// added tokens start there.
func (t *Tokenizer) BPESize() int { return len(t.vocab) }

// TokenID returns the id of an added token ("<|eos|>", "[SID]", ...) or of
// a BPE token in byte-level form.
func (t *Tokenizer) TokenID(tok string) (int32, bool) {
	if id, ok := t.addedID[tok]; ok {
		return id, true
	}
	id, ok := t.bpeID[tok]
	return id, ok
}

// Encode turns plain text into BPE token ids. It never returns special or
// SID ids; invalid UTF-8 bytes are encoded as U+FFFD each. A tokenizer
// loaded from a file encodes through sugarme/tokenizer where that library
// is exact (library.go).
func (t *Tokenizer) Encode(text string) ([]int32, error) {
	if t.lib != nil && text != "" && libSafe(text) {
		return t.libEncode(text)
	}
	return t.AppendEncode(make([]int32, 0, len(text)/3+1), text), nil
}

// AppendEncode appends the ids of text to dst.
func (t *Tokenizer) AppendEncode(dst []int32, text string) []int32 {
	text = SanitizeUTF8(text)
	splitPieces(text, func(piece string) {
		dst = t.appendPiece(dst, piece)
	})
	return dst
}

func (t *Tokenizer) appendPiece(dst []int32, piece string) []int32 {
	if len(piece) <= maxCachedPiece {
		t.mu.RLock()
		ids, ok := t.cache[piece]
		t.mu.RUnlock()
		if ok {
			return append(dst, ids...)
		}
	}
	ids := t.bpe(piece)
	if len(piece) <= maxCachedPiece && !t.cacheFull.Load() {
		t.mu.Lock()
		if len(t.cache) < maxCacheEntries {
			t.cache[piece] = ids
		} else {
			t.cacheFull.Store(true)
		}
		t.mu.Unlock()
	}
	return append(dst, ids...)
}

// symbol is one node of the doubly linked list of a piece being merged.
type symbol struct {
	id         int32
	prev, next int32
	gone       bool
}

// pendingMerge is a candidate merge of the symbol at pos with its successor.
type pendingMerge struct {
	pos   int32
	rank  int32
	newID int32
}

// bpe merges the bytes of piece. It follows sugarme's Word.MergeAll step for
// step, heap included (a binary heap ordered by rank only, whose tie order
// decides between equal pairs such as the two "ee" in "eee"), so that ids
// are identical to those of the tokenizer.json loaded with sugarme.
func (t *Tokenizer) bpe(piece string) []int32 {
	n := len(piece)
	syms := make([]symbol, n)
	for i := 0; i < n; i++ {
		syms[i] = symbol{id: t.byteID[piece[i]], prev: int32(i - 1), next: int32(i + 1)}
	}
	if n > 0 {
		syms[n-1].next = -1
	}
	var heap []pendingMerge
	push := func(m pendingMerge) {
		// gods binaryheap.Push: append, then bubble up while parent > child.
		heap = append(heap, m)
		i := len(heap) - 1
		for i > 0 {
			p := (i - 1) >> 1
			if heap[p].rank <= heap[i].rank {
				break
			}
			heap[p], heap[i] = heap[i], heap[p]
			i = p
		}
	}
	pop := func() pendingMerge {
		// gods binaryheap.Pop: swap root and last, drop last, bubble down,
		// taking the right child only when strictly smaller.
		top := heap[0]
		last := len(heap) - 1
		heap[0] = heap[last]
		heap = heap[:last]
		i := 0
		for {
			l := 2*i + 1
			if l >= len(heap) {
				break
			}
			s := l
			if r := l + 1; r < len(heap) && heap[l].rank > heap[r].rank {
				s = r
			}
			if heap[i].rank > heap[s].rank {
				heap[i], heap[s] = heap[s], heap[i]
				i = s
			} else {
				break
			}
		}
		return top
	}
	rule := func(a, b int32) (mergeRule, bool) {
		r, ok := t.merges[uint64(uint32(a))<<32|uint64(uint32(b))]
		return r, ok
	}
	for i := 0; i+1 < n; i++ {
		if r, ok := rule(syms[i].id, syms[i+1].id); ok {
			push(pendingMerge{pos: int32(i), rank: r.rank, newID: r.newID})
		}
	}
	for len(heap) > 0 {
		top := pop()
		cur := &syms[top.pos]
		if cur.gone || cur.next < 0 {
			continue
		}
		rightPos := cur.next
		right := syms[rightPos]
		r, ok := rule(cur.id, right.id)
		if !ok || r.newID != top.newID {
			continue // stale entry
		}
		cur.id = top.newID
		cur.next = right.next
		syms[rightPos].gone = true
		if right.next >= 0 {
			syms[right.next].prev = top.pos
		}
		if cur.prev >= 0 {
			if r, ok := rule(syms[cur.prev].id, cur.id); ok {
				push(pendingMerge{pos: cur.prev, rank: r.rank, newID: r.newID})
			}
		}
		if cur.next >= 0 {
			if r, ok := rule(cur.id, syms[cur.next].id); ok {
				push(pendingMerge{pos: top.pos, rank: r.rank, newID: r.newID})
			}
		}
	}
	out := make([]int32, 0, n)
	for i := range syms {
		if !syms[i].gone {
			out = append(out, syms[i].id)
		}
	}
	return out
}

// Decode turns ids back into text. Special and SID ids render as their
// token strings ("<|eos|>", "[SID]", "<type:ring>", "<l0:12>"); ids outside
// the vocabulary render as <|unk|>. Byte tokens are joined before
// conversion, so multi-byte characters split across tokens come back whole;
// a cut-off character stays as its raw bytes.
func (t *Tokenizer) Decode(ids []int32) string {
	var b strings.Builder
	for _, id := range ids {
		if id < 0 || int(id) >= len(t.text) {
			b.WriteString(TokenUnk)
			continue
		}
		b.Write(t.text[id])
	}
	return b.String()
}

// TokenText returns the text of one id as Decode renders it.
func (t *Tokenizer) TokenText(id int32) string {
	if id < 0 || int(id) >= len(t.text) {
		return TokenUnk
	}
	return string(t.text[id])
}
