package plugin

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/neo-search/neo/sid"
)

// ErrDeadEnd is returned by Accept when the item of the current SID span
// went away (deleted, out of stock) between Process and Accept, or, for
// [SID], when every allowed item did. Nothing is emitted; the caller
// abandons the span as for any dead end (for [SID]: nothing was opened,
// the next Process masks it).
var ErrDeadEnd = errors.New("plugin: SID prefix no longer leads to an allowed item")

// Catalog view a LogitsProcessor walks: the snapshot's main trie and the
// small delta of items added since it was built. Ordinals of the delta
// start after the main trie's.
type TrieSet struct {
	Tries [2]*sid.Trie // [0] main, [1] delta (may be nil)
	// TypeNames[t][i] is the entity type of trie t's type index i.
	TypeNames [2][]string
}

// Emitted is an item a row emitted: which trie and its ordinal there.
type Emitted struct {
	Trie int
	Ord  uint32
}

// Special token ids the processor needs besides the SID vocabulary.
type Specials struct {
	EOS int32
	// Masked lists tokens that may never be generated (bos, pad, chat and
	// format markers).
	Masked []int32
}

// RowOptions configure one row (one sequence) of a batch.
type RowOptions struct {
	Format string // ids, text, mixed
	Budget int    // most items this row may emit
	// Filter[t] is the sorted ordinals trie t may emit (nil = no filter).
	Filter [2][]uint32
	// Exclude[t] is the sorted ordinals trie t must not emit (history).
	Exclude [2][]uint32
	// Types lists allowed entity types (nil = all).
	Types []string
}

// LogitsProcessor is the decoding state machine of DESIGN.md. Outside an
// SID span (text mode) it masks every SID code token and allows [SID] only
// when the format and the item budget allow and some allowed item exists;
// inside a span (SID mode) it allows a type token of an allowed type that
// still has an allowed item, then only trie children that still lead to an
// available, filter-passing, not-yet-emitted item, then forces [/SID].
//
// After NewLogitsProcessor, Process and Accept do not allocate.
type LogitsProcessor struct {
	v      *sid.Vocab
	sp     Specials
	set    TrieSet
	levels int // code levels, collision level included
	// vocab type index → trie type index, per trie (-1: not in that trie)
	typeIdx [2][]int
	// trie type index → vocab type index (-1: the model has no token)
	vocabType [2][]int
	rows      []rowState
	spare     []rowState // Reorder's second buffer
	rowOpts   []RowOptions
	fusion    *fusionState // nil: the model alone
	// scratch, reused by every call
	codes []uint16
	mark  []uint32
	stamp uint32
	toks  []int32
	saved []float32
}

type rowState struct {
	format  string
	budget  int
	emitted int
	inSID   bool
	depth   int // tokens accepted in the current span (0: type expected)
	done    bool
	live    [2]bool
	node    [2]sid.Node
	cons    [2]sid.Constraint
	excl    [2][]uint32 // owns cons[t].Exclude's backing array
	types   []bool      // allowed vocab type indexes (nil = all)
	deadEnd bool
	// logMass caches each fusion expert's log mass of the current prefix
	// (valid while massOK), so FusionGain computes it once per step, not
	// once per child.
	logMass [maxExperts]float64
	massOK  bool
}

// NewLogitsProcessor prepares a processor for len(rows) sequences.
func NewLogitsProcessor(v *sid.Vocab, sp Specials, set TrieSet, rows []RowOptions) (*LogitsProcessor, error) {
	p := &LogitsProcessor{v: v, sp: sp, set: set, levels: v.Levels()}
	maxCode := len(v.Types)
	for _, n := range v.CodeCount {
		maxCode = max(maxCode, n)
	}
	for t, tr := range set.Tries {
		if tr == nil {
			continue
		}
		if tr.Width() != p.levels+1 {
			return nil, fmt.Errorf("plugin: catalog SIDs have %d codes, the model's vocabulary %d", tr.Width()-1, p.levels)
		}
		p.typeIdx[t] = make([]int, len(v.Types))
		for i := range p.typeIdx[t] {
			p.typeIdx[t][i] = -1
		}
		p.vocabType[t] = make([]int, len(set.TypeNames[t]))
		for i, name := range set.TypeNames[t] {
			vi := v.TypeIndex(name)
			p.vocabType[t][i] = vi
			if vi >= 0 {
				p.typeIdx[t][vi] = i
			}
			maxCode = max(maxCode, i+1)
		}
	}
	p.codes = make([]uint16, 0, maxCode+1)
	p.mark = make([]uint32, maxCode+1)
	p.toks = make([]int32, 0, maxCode+2)
	p.saved = make([]float32, 0, maxCode+2)
	p.rows = make([]rowState, len(rows))
	p.rowOpts = rows
	for i, o := range rows {
		if err := p.initRow(&p.rows[i], o); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *LogitsProcessor) initRow(r *rowState, o RowOptions) error {
	switch o.Format {
	case FormatIDs, FormatText, FormatMixed:
	default:
		return fmt.Errorf("%w: unknown format %q", ErrBadRequest, o.Format)
	}
	*r = rowState{format: o.Format, budget: o.Budget}
	if o.Types != nil {
		r.types = make([]bool, len(p.v.Types))
		for _, name := range o.Types {
			if vi := p.v.TypeIndex(name); vi >= 0 {
				r.types[vi] = true
			}
		}
	}
	for t, tr := range p.set.Tries {
		if tr == nil {
			continue
		}
		// room for every item this row can emit, so Accept never grows it
		r.excl[t] = make([]uint32, len(o.Exclude[t]), len(o.Exclude[t])+o.Budget+1)
		copy(r.excl[t], o.Exclude[t])
		r.cons[t] = sid.Constraint{Filter: o.Filter[t], Exclude: r.excl[t]}
		// type restriction in the trie's own type numbering; types the
		// model has no token for are never allowed
		tt := make([]bool, len(p.vocabType[t]))
		for i, vi := range p.vocabType[t] {
			tt[i] = vi >= 0 && (r.types == nil || r.types[vi])
		}
		r.cons[t].Types = tt
	}
	return nil
}

// Rows is the number of rows.
func (p *LogitsProcessor) Rows() int { return len(p.rows) }

// Done reports whether a row finished (emitted <|eos|>).
func (p *LogitsProcessor) Done(row int) bool { return p.rows[row].done }

// InSID reports whether a row is inside an SID span.
func (p *LogitsProcessor) InSID(row int) bool { return p.rows[row].inSID }

// Emitted is how many items a row emitted.
func (p *LogitsProcessor) EmittedCount(row int) int { return p.rows[row].emitted }

// mayOpen: the row's format and SID budget let it open a span at all,
// whatever the catalog holds.
func (r *rowState) mayOpen() bool { return r.format != FormatText && r.emitted < r.budget }

// canOpen reports whether row r may start an SID span now: the format and
// budget allow one and at least one allowed item exists.
func (p *LogitsProcessor) canOpen(r *rowState) bool {
	if !r.mayOpen() {
		return false
	}
	for t, tr := range p.set.Tries {
		if tr == nil {
			continue
		}
		p.codes = tr.Allowed(tr.Root(), &r.cons[t], p.codes[:0])
		if len(p.codes) > 0 {
			return true
		}
	}
	return false
}

// AllowedSID appends to dst the tokens allowed inside the current SID span
// of row (type, code or [/SID]). An empty result is a dead end: the items
// under the chosen prefix went away while decoding (concurrent delete or
// stock flip); the caller must abandon the span.
func (p *LogitsProcessor) AllowedSID(row int, dst []int32) []int32 {
	r := &p.rows[row]
	if r.depth == p.levels+1 {
		if p.leafAllowed(r) {
			dst = append(dst, p.v.Close)
		}
		return dst
	}
	p.stamp++
	if p.stamp == 0 { // wrapped: reset marks
		clear(p.mark)
		p.stamp = 1
	}
	for t, tr := range p.set.Tries {
		if tr == nil || !r.live[t] {
			continue
		}
		p.codes = tr.Allowed(r.node[t], &r.cons[t], p.codes[:0])
		for _, c := range p.codes {
			var tok int32
			var key int
			if r.depth == 0 {
				vi := p.vocabType[t][c]
				if vi < 0 {
					continue
				}
				tok, key = p.v.TypeToken(vi), vi
			} else {
				l := r.depth - 1
				if int(c) >= p.v.CodeCount[l] {
					continue // a code the model has no token for
				}
				tok, key = p.v.CodeToken(l, int(c)), int(c)
			}
			if p.mark[key] == p.stamp {
				continue
			}
			p.mark[key] = p.stamp
			dst = append(dst, tok)
		}
	}
	if r.depth == 0 || len(dst) < 2 {
		return dst
	}
	// main and delta lists are each sorted; keep the union sorted
	if r.live[0] && r.live[1] {
		sortInt32(dst)
	}
	return dst
}

func sortInt32(a []int32) {
	for i := 1; i < len(a); i++ { // insertion sort: short lists, no allocation
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// leafAllowed re-checks, just before [/SID], that the item is still
// available and not excluded, so nothing is emitted that went away during
// its own span.
func (p *LogitsProcessor) leafAllowed(r *rowState) bool {
	for t, tr := range p.set.Tries {
		if tr == nil || !r.live[t] || !tr.IsLeaf(r.node[t]) {
			continue
		}
		ord := r.node[t].Lo
		if !tr.Available(ord) {
			return false
		}
		if f := r.cons[t].Filter; f != nil && !containsSorted(f, ord) {
			return false
		}
		return !containsSorted(r.cons[t].Exclude, ord)
	}
	return false
}

func containsSorted(a []uint32, x uint32) bool {
	i := sort.Search(len(a), func(i int) bool { return a[i] >= x })
	return i < len(a) && a[i] == x
}

var negInf = float32(math.Inf(-1))

// Process masks logits (one row's vocabulary-sized slice) in place so that
// only allowed tokens keep their value. It returns the number of allowed
// tokens; 0 means a dead end inside an SID span (see AllowedSID).
func (p *LogitsProcessor) Process(row int, logits []float32) int {
	r := &p.rows[row]
	if r.inSID {
		p.toks = p.AllowedSID(row, p.toks[:0])
		return p.keepOnly(logits, p.toks)
	}
	open := p.canOpen(r)
	if r.format == FormatIDs {
		p.toks = p.toks[:0]
		if open {
			p.toks = append(p.toks, p.v.Open)
		}
		if !open || r.emitted > 0 {
			p.toks = append(p.toks, p.sp.EOS)
		}
		return p.keepOnly(logits, p.toks)
	}
	// text and mixed: free text, no SID internals, [SID] only if allowed
	end := min(int(p.v.End()), len(logits))
	openVal := logits[p.v.Open]
	for i := int(p.v.Open); i < end; i++ {
		logits[i] = negInf
	}
	for _, m := range p.sp.Masked {
		if int(m) < len(logits) {
			logits[m] = negInf
		}
	}
	n := len(logits) - (end - int(p.v.Open)) - len(p.sp.Masked)
	if open {
		logits[p.v.Open] = openVal
		n++
	}
	return n
}

// keepOnly sets every logit to -Inf except those of keep.
func (p *LogitsProcessor) keepOnly(logits []float32, keep []int32) int {
	p.saved = p.saved[:0]
	for _, t := range keep {
		p.saved = append(p.saved, logits[t])
	}
	for i := range logits {
		logits[i] = negInf
	}
	for i, t := range keep {
		logits[t] = p.saved[i]
	}
	return len(keep)
}

// Accept advances row's state by the token the decoder chose. When the token
// closes an SID span it returns the emitted item and true. Accepting a token
// that Process would have masked is an error, so a caller bug can never
// smuggle an invalid SID through.
func (p *LogitsProcessor) Accept(row int, tok int32) (Emitted, bool, error) {
	r := &p.rows[row]
	if r.done {
		return Emitted{}, false, fmt.Errorf("plugin: row %d accepted a token after <|eos|>", row)
	}
	if !r.inSID {
		switch {
		case tok == p.sp.EOS:
			r.done = true
		case tok == p.v.Open:
			if !r.mayOpen() {
				return Emitted{}, false, fmt.Errorf("plugin: row %d: [SID] not allowed now", row)
			}
			if !p.canOpen(r) { // every allowed item went away since Process
				return Emitted{}, false, ErrDeadEnd
			}
			r.inSID, r.depth, r.massOK = true, 0, false
			for t, tr := range p.set.Tries {
				r.live[t] = tr != nil && tr.Len() > 0
				if r.live[t] {
					r.node[t] = tr.Root()
				}
			}
		case p.v.IsSIDToken(tok) || r.format == FormatIDs:
			return Emitted{}, false, fmt.Errorf("plugin: row %d: token %d not allowed outside an SID", row, tok)
		}
		return Emitted{}, false, nil
	}
	if r.depth == p.levels+1 {
		if tok != p.v.Close {
			return Emitted{}, false, fmt.Errorf("plugin: row %d: token %d where [/SID] must come", row, tok)
		}
		if !p.leafAllowed(r) {
			return Emitted{}, false, ErrDeadEnd
		}
		for t, tr := range p.set.Tries {
			if tr == nil || !r.live[t] || !tr.IsLeaf(r.node[t]) {
				continue
			}
			e := Emitted{Trie: t, Ord: r.node[t].Lo}
			r.excl[t] = insertSorted(r.excl[t], e.Ord)
			r.cons[t].Exclude = r.excl[t]
			r.emitted++
			r.inSID = false
			return e, true, nil
		}
	}
	depth, val, ok := p.v.Classify(tok)
	if !ok || depth != r.depth {
		return Emitted{}, false, fmt.Errorf("plugin: row %d: token %d is not a level-%d SID token", row, tok, r.depth)
	}
	any := false
	for t, tr := range p.set.Tries {
		if tr == nil || !r.live[t] {
			continue
		}
		code := val
		if depth == 0 {
			code = p.typeIdx[t][val]
			if code < 0 || !r.cons[t].Types[code] {
				r.live[t] = false
				continue
			}
		}
		r.node[t], r.live[t] = tr.Child(r.node[t], uint16(code))
		any = any || r.live[t]
	}
	if !any {
		return Emitted{}, false, fmt.Errorf("plugin: row %d: token %d leads to no catalog item", row, tok)
	}
	r.depth++
	r.massOK = false
	return Emitted{}, false, nil
}

// AbandonSID drops row's current SID span (after a dead end): the row goes
// back to text mode as if [SID] had not been chosen. The caller rewinds the
// model to before the span.
func (p *LogitsProcessor) AbandonSID(row int) {
	r := &p.rows[row]
	r.inSID, r.depth = false, 0
}

// Reorder makes row i a copy of old row parents[i], for i < len(parents)
// (beam search keeps the best expansions). Rows past len(parents) keep
// stale state and must not be used until a later Reorder fills them.
func (p *LogitsProcessor) Reorder(parents []int) {
	if p.spare == nil {
		p.spare = make([]rowState, len(p.rows))
		for i := range p.spare {
			_ = p.initRow(&p.spare[i], p.rowOpts[i])
		}
	}
	for i, src := range parents {
		d, s := &p.spare[i], &p.rows[src]
		excl := d.excl
		*d = *s
		for t := range excl {
			excl[t] = append(excl[t][:0], s.excl[t]...)
			d.excl[t] = excl[t]
			d.cons[t].Exclude = excl[t]
		}
	}
	p.rows, p.spare = p.spare, p.rows
}

func insertSorted(a []uint32, x uint32) []uint32 {
	i := sort.Search(len(a), func(i int) bool { return a[i] >= x })
	a = append(a, 0)
	copy(a[i+1:], a[i:])
	a[i] = x
	return a
}
