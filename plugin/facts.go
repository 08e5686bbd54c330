package plugin

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/neo-search/neo/index"
)

// Facts is the catalog's value vocabulary (brands, attribute values, type
// names), case folded, as a trie over the bytes of each value's text, with
// the case-folded text of every model token, so that a FactGuard can tell
// what a token would make the text say. Values are told apart by their
// lower-case text: two fields with the text "gold" are one value. Matching
// is by bytes, with one rule for what a word is (isWordByte), shared by
// the guard and by Check. A Facts is immutable.
type Facts struct {
	values map[string]int32 // lower-case value text → value id
	texts  []string         // value id → lower-case text
	// forms are the spellings matched (valueForms, ASCII-folded) and
	// formVal their value ids
	forms   []string
	formVal []int32

	// byte trie in CSR form; node 0 is the root
	edgeStart []int32 // node → first edge, len nodes+1
	edgeByte  []byte  // edge byte, sorted within a node
	edgeNode  []int32 // edge target
	term      []int32 // node → the value whose text ends there, or -1
	subStart  []int32 // node → first of the values below it (CSR)
	subVal    []int32 // sorted per node

	toks [][]byte // token id → its case-folded text
	// startFirst[t]: token t's first byte can begin a value (after a
	// non-word byte); startInside[t]: a later byte of it can.
	startFirst, startInside []bool
}

// foldASCII lower-cases the ASCII letters of b in place. Only ASCII is
// folded, byte by byte, so a token that ends inside a multi-byte character
// folds the same alone as in its text; non-ASCII case forms of a value are
// spelled out in the trie instead (valueForms).
func foldASCII(b []byte) []byte {
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return b
}

// valueForms are the spellings of a value the guard and Check match (after
// foldASCII): as the catalog writes it, in lower case, capitalised and in
// upper case.
func valueForms(orig, low string) []string {
	var out []string
	add := func(x string) {
		x = string(foldASCII([]byte(x)))
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	add(orig)
	add(low)
	if r, n := utf8.DecodeRuneInString(low); n > 0 {
		add(string(unicode.ToUpper(r)) + low[n:])
	}
	add(strings.ToUpper(orig))
	return out
}

// isWordByte is a word character: an ASCII letter or digit, or any byte of
// a multi-byte UTF-8 character (so a word is never split inside one).
func isWordByte(c byte) bool {
	return c >= 0x80 || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// FactValues returns the fact values of an item: its brand, each
// attribute value (multi-valued attributes split at '|' and ','), and its
// type, trimmed and in lower case, without duplicates.
func FactValues(it index.Item) []string {
	var out []string
	for _, v := range Spellings(it) {
		if v = strings.ToLower(strings.TrimSpace(v)); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// Spellings returns the catalog spellings of an item's fact values (see
// FactValues), as NewFacts takes them.
func Spellings(it index.Item) []string {
	out := []string{it.Brand}
	keys := make([]string, 0, len(it.Attributes))
	for k := range it.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, strings.FieldsFunc(it.Attributes[k], func(r rune) bool { return r == '|' || r == ',' })...)
	}
	return append(out, it.Type)
}

// NewFacts builds the trie of the given value spellings (catalog text; a
// value's lower-case form names it); decode says what text a single token
// writes, for the vocab tokens of the model.
func NewFacts(spellings []string, decode func(int32) string, vocab int) *Facts {
	f := &Facts{values: map[string]int32{}, toks: make([][]byte, vocab)}
	for id := range vocab {
		f.toks[id] = foldASCII([]byte(decode(int32(id))))
	}
	type node struct {
		kids map[byte]int32
		term int32
		sub  []int32
	}
	nodes := []node{{kids: map[byte]int32{}, term: -1}}
	for _, sp := range spellings {
		orig := strings.Join(strings.Fields(sp), " ")
		low := strings.ToLower(orig)
		if low == "" || !isWordByte(low[0]) || !isWordByte(low[len(low)-1]) {
			continue // a value must start and end a word to be named
		}
		v, ok := f.values[low]
		if !ok {
			v = int32(len(f.texts))
			f.values[low] = v
			f.texts = append(f.texts, low)
		}
		for _, form := range valueForms(orig, low) {
			if slices.Contains(f.forms, form) {
				continue
			}
			f.forms, f.formVal = append(f.forms, form), append(f.formVal, v)
			n := int32(0)
			for i := 0; i < len(form); i++ {
				c, ok := nodes[n].kids[form[i]]
				if !ok {
					c = int32(len(nodes))
					nodes = append(nodes, node{kids: map[byte]int32{}, term: -1})
					nodes[n].kids[form[i]] = c
				}
				n = c
				if !slices.Contains(nodes[n].sub, v) {
					nodes[n].sub = append(nodes[n].sub, v)
				}
			}
			nodes[n].term = v
		}
	}
	f.startFirst, f.startInside = make([]bool, vocab), make([]bool, vocab)
	for id, b := range f.toks {
		for j := range b {
			if isWordByte(b[j]) && (j == 0 || !isWordByte(b[j-1])) && nodes[0].kids[b[j]] != 0 {
				if j == 0 {
					f.startFirst[id] = true
				} else {
					f.startInside[id] = true
				}
			}
		}
	}
	f.edgeStart = make([]int32, len(nodes)+1)
	f.subStart = make([]int32, len(nodes)+1)
	f.term = make([]int32, len(nodes))
	for i, n := range nodes {
		slices.Sort(n.sub)
		f.subVal = append(f.subVal, n.sub...)
		f.subStart[i+1] = int32(len(f.subVal))
		bs := make([]byte, 0, len(n.kids))
		for b := range n.kids {
			bs = append(bs, b)
		}
		slices.Sort(bs)
		for _, b := range bs {
			f.edgeByte = append(f.edgeByte, b)
			f.edgeNode = append(f.edgeNode, n.kids[b])
		}
		f.edgeStart[i+1] = int32(len(f.edgeByte))
		f.term[i] = n.term
	}
	return f
}

// Value returns the id of a value (any case), or -1.
func (f *Facts) Value(text string) int32 {
	if v, ok := f.values[strings.Join(strings.Fields(strings.ToLower(text)), " ")]; ok {
		return v
	}
	return -1
}

// Text is the lower-case text of value v.
func (f *Facts) Text(v int32) string { return f.texts[v] }

// Len is the number of distinct values.
func (f *Facts) Len() int { return len(f.texts) }

// ValueIDs appends to dst the sorted ids of the values among texts that
// the trie knows (unknown ones are left out: the guard cannot tell a value
// it does not know, nor does it stop it).
func (f *Facts) ValueIDs(dst []int32, texts []string) []int32 {
	for _, t := range texts {
		if v := f.Value(t); v >= 0 && !slices.Contains(dst, v) {
			dst = append(dst, v)
		}
	}
	slices.Sort(dst)
	return dst
}

func (f *Facts) child(n int32, c byte) int32 {
	if c >= 'A' && c <= 'Z' {
		c += 'a' - 'A'
	}
	lo, hi := f.edgeStart[n], f.edgeStart[n+1]
	for i := lo; i < hi; i++ { // a handful of edges: a scan beats a search
		if f.edgeByte[i] == c {
			return f.edgeNode[i]
		}
		if f.edgeByte[i] > c {
			break
		}
	}
	return -1
}

// maxMatches bounds the value matches a guard follows at once (one per
// word start inside the longest value being written).
const maxMatches = 16

// match is a value match begun at a word start (byte offset start): its
// trie node (-1: it can grow no further), the longest value it completed
// at a word end so far, and a value completed at the last byte whose word
// end is not yet known; done once it can change no more.
type match struct {
	start, read, bestLen, pendLen int // offset, bytes read, lengths of best and pend
	node, best, pend              int32
	done                          bool
}

// matcher is the guard's reading of the text since the item was named.
// It reads as Check does: matches are judged from the left, and the
// longest value of one hides the matches that begin inside it.
type matcher struct {
	m      [maxMatches]match
	n      int
	pos    int  // bytes read
	inWord bool // the last byte was a word byte
}

// judge removes the finished matches at the left; false when one of them
// names a value own does not admit.
func (r *matcher) judge(f *Facts, own func(int32) bool) bool {
	ok := true
	for r.n > 0 && r.m[0].done {
		m := r.m[0]
		copy(r.m[:], r.m[1:r.n])
		r.n--
		if m.best < 0 {
			continue
		}
		if !own(m.best) {
			ok = false
		}
		cover := m.start + m.bestLen
		k := 0
		for i := 0; i < r.n; i++ {
			if r.m[i].start >= cover {
				r.m[k] = r.m[i]
				k++
			}
		}
		r.n = k
	}
	return ok
}

// step reads byte c; it returns false when the text now names a value
// own does not admit.
func (r *matcher) step(f *Facts, c byte, own func(int32) bool) bool {
	word := isWordByte(c)
	for i := 0; i < r.n; i++ {
		m := &r.m[i]
		if m.done {
			continue
		}
		if m.pend >= 0 {
			if !word {
				m.best, m.bestLen = m.pend, m.pendLen
			}
			m.pend = -1
		}
		if m.node >= 0 {
			if m.node = f.child(m.node, c); m.node >= 0 {
				m.read++
				m.pend, m.pendLen = f.term[m.node], m.read
			}
		}
		m.done = m.node < 0 && m.pend < 0
	}
	ok := r.judge(f, own)
	if word && !r.inWord {
		if nd := f.child(0, c); nd >= 0 {
			if r.n == maxMatches {
				ok = false // more than it can follow: refuse rather than miss one
			} else {
				r.m[r.n] = match{start: r.pos, read: 1, node: nd, best: -1, pend: f.term[nd], pendLen: 1}
				r.n++
			}
		}
	}
	r.pos++
	r.inWord = word
	return ok
}

// end reports whether the text may end here (an item, <|eos|> or the
// budget follows) without naming a value own does not admit.
func (r matcher) end(f *Facts, own func(int32) bool) bool {
	for i := 0; i < r.n; i++ {
		m := &r.m[i]
		if m.pend >= 0 {
			m.best, m.bestLen = m.pend, m.pendLen
		}
		m.done = true
	}
	return r.judge(f, own)
}

// FactGuard keeps one row's text true to the catalog: once the row names
// an item (SetAllowed with its values), the text may not name another
// value. It reads the text as Check does, byte by byte: at every word
// start the longest catalog value written there must be one the guard
// admits, so a token is masked when it would finish such a match with a
// value it does not admit ("black" for a silver ring, "rose" when the item
// is rose gold unless "gold" follows). Other words stay free, and a value
// followed by a word byte is a different word ("roses"). It is a pure value
// with no I/O; after NewFactGuard, Process and Accept do not allocate.
type FactGuard struct {
	f       *Facts
	allowed []int32 // sorted value ids admitted; guarding only when on
	on      bool
	paused  bool // on before Pause
	saved   struct {
		r             matcher
		written, okAt int
	} // the reading at Pause
	r   matcher
	tmp matcher // scratch for Process
	// fresh[w][tok] remembers reads(tok) from no open match, with a word
	// open (w 1) or not: 0 unknown, 1 fine, 2 masked. SetAllowed clears it.
	fresh [2][]int8
	// suffix[tok] remembers whether tok's bytes after the first read
	// fine from no match (as fresh); byteRes[c] is, for this step (stamp),
	// what the first byte c does to the open matches: 1 ends them all, 2
	// names a value not admitted, 3 leaves some open.
	suffix    []int8
	stamp     uint32
	byteStamp [256]uint32
	byteRes   [256]int8
	// tokens accepted, and how many of them the text could end after
	// (for Pending)
	written, okAt int
	// Blocked counts the tokens Process masked, Interventions the calls
	// that masked the token the model preferred most: how often the
	// catalog had to correct what the model was about to write.
	Blocked, Interventions int
}

// NewFactGuard makes an inactive guard over f; room sizes its buffer of
// admitted values.
func NewFactGuard(f *Facts, room int) *FactGuard {
	g := &FactGuard{f: f, allowed: make([]int32, 0, room), suffix: make([]int8, len(f.toks))}
	g.fresh[0], g.fresh[1] = make([]int8, len(f.toks)), make([]int8, len(f.toks))
	return g
}

// SetAllowed makes the guard admit only the values vals (sorted ids, as
// ValueIDs gives) from now on, reading from a fresh text. Empty vals
// still guard: then no value can be named.
func (g *FactGuard) SetAllowed(vals []int32) {
	g.allowed = append(g.allowed[:0], vals...)
	g.on, g.r, g.written, g.okAt = true, matcher{}, 0, 0
	clear(g.fresh[0])
	clear(g.fresh[1])
	clear(g.suffix)
}

// Pause stops guarding while an SID span is written; Resume goes back to
// guarding what was admitted before it (after an abandoned span).
// SetAllowed after the span admits the new item's values instead.
func (g *FactGuard) Pause() {
	g.paused, g.on = g.on, false
	g.saved.r, g.saved.written, g.saved.okAt = g.r, g.written, g.okAt
}

// Resume undoes Pause: the text goes on where it was.
func (g *FactGuard) Resume() {
	g.on = g.paused
	g.r, g.written, g.okAt = g.saved.r, g.saved.written, g.saved.okAt
}

func (g *FactGuard) own(v int32) bool {
	_, ok := slices.BinarySearch(g.allowed, v)
	return ok
}

// reads reports whether the text may go on with tok's bytes without a
// finished match naming a value the guard does not admit.
func (g *FactGuard) reads(tok int32) bool {
	f := g.f
	if g.r.n == 0 {
		if !f.startInside[tok] && (!f.startFirst[tok] || g.r.inWord) {
			return true // no value can begin or end in it
		}
		// from no match, the answer depends on the token, on whether a
		// word is open and on the admitted values only: remember it
		w := 0
		if g.r.inWord {
			w = 1
		}
		switch g.fresh[w][tok] {
		case 1:
			return true
		case 2:
			return false
		}
		ok := g.simulate(tok)
		g.fresh[w][tok] = 2
		if ok {
			g.fresh[w][tok] = 1
		}
		return ok
	}
	// open matches: most tokens end them all at their first byte, and then
	// the rest of the token reads as from no match
	b := f.toks[tok]
	if len(b) == 0 {
		return true
	}
	c := b[0]
	if g.byteStamp[c] != g.stamp {
		g.byteStamp[c] = g.stamp
		r := &g.tmp
		r.n, r.pos, r.inWord = g.r.n, g.r.pos, g.r.inWord
		copy(r.m[:r.n], g.r.m[:g.r.n])
		switch {
		case !r.step(f, c, g.own):
			g.byteRes[c] = 2
		case r.n == 0:
			g.byteRes[c] = 1
		default:
			g.byteRes[c] = 3
		}
	}
	switch g.byteRes[c] {
	case 2:
		return false
	case 3:
		return g.simulate(tok)
	}
	switch g.suffix[tok] {
	case 1:
		return true
	case 2:
		return false
	}
	r := &g.tmp
	r.n, r.pos, r.inWord = 0, 0, isWordByte(c)
	ok := true
	for _, c := range b[1:] {
		if !r.step(f, c, g.own) {
			ok = false
			break
		}
	}
	if ok && r.n > 0 {
		if m := &r.m[0]; m.node >= 0 && !g.admittedBelow(m.node) && g.atWordEnd(m.node) {
			ok = false
		}
	}
	g.suffix[tok] = 2
	if ok {
		g.suffix[tok] = 1
	}
	return ok
}

// simulate reads tok's bytes on a copy of the guard's matcher (see
// reads).
func (g *FactGuard) simulate(tok int32) bool {
	f := g.f
	r := &g.tmp
	r.n, r.pos, r.inWord = g.r.n, g.r.pos, g.r.inWord
	copy(r.m[:r.n], g.r.m[:g.r.n])
	for _, c := range f.toks[tok] {
		if !r.step(f, c, g.own) {
			return false
		}
	}
	// nor may it begin a value that no admitted value goes on from:
	// another item's value cannot be started ("forest" for a silver grey
	// item, on the way to "forest green"). Only the leftmost match is sure
	// not to be hidden inside a longer one.
	if r.n > 0 {
		if m := &r.m[0]; m.node >= 0 && !g.admittedBelow(m.node) && g.atWordEnd(m.node) {
			return false
		}
	}
	return true
}

// atWordEnd reports whether trie node n ends a whole word of some value
// (a value ends there, or a space follows): "forest" of "forest green",
// not "for" or "a", which begin ordinary words too.
func (g *FactGuard) atWordEnd(n int32) bool {
	return g.f.term[n] >= 0 || g.f.child(n, ' ') >= 0
}

// admittedBelow reports whether an admitted value's text goes through
// trie node n.
func (g *FactGuard) admittedBelow(n int32) bool {
	for _, v := range g.f.subVal[g.f.subStart[n]:g.f.subStart[n+1]] {
		if g.own(v) {
			return true
		}
	}
	return false
}

// Process masks, in logits (the vocabulary, in place), the text tokens
// that would make the text name a value the guard does not admit. ends
// lists the ids after which the text ends (<|eos|>, [SID]): masked when the
// text may not end here.
func (g *FactGuard) Process(logits []float32, ends ...int32) {
	if !g.on || g.f == nil {
		return
	}
	best := argmax(logits)
	before := g.Blocked
	if g.stamp++; g.stamp == 0 {
		clear(g.byteStamp[:])
		g.stamp = 1
	}
	n := min(len(logits), len(g.f.toks))
	for t := 0; t < n; t++ {
		if logits[t] == negInf || slices.Contains(ends, int32(t)) {
			continue
		}
		if !g.reads(int32(t)) {
			logits[t] = negInf
			g.Blocked++
		}
	}
	if !g.r.end(g.f, g.own) {
		for _, t := range ends {
			if int(t) < len(logits) && logits[t] != negInf {
				logits[t] = negInf
				g.Blocked++
			}
		}
	}
	if g.Blocked > before && logits[best] == negInf {
		g.Interventions++
	}
}

// Accept advances the guard by the token the row wrote.
func (g *FactGuard) Accept(tok int32) {
	if !g.on || g.f == nil || int(tok) >= len(g.f.toks) {
		return
	}
	for _, c := range g.f.toks[tok] {
		g.r.step(g.f, c, g.own)
	}
	g.written++
	if g.r.end(g.f, g.own) {
		g.okAt = g.written
	}
}

// Pending returns how many of the last tokens the text must drop to end
// without naming a value the guard does not admit (0: it may end now). An
// answer cut off by its token budget drops them.
func (g *FactGuard) Pending() int {
	if !g.on {
		return 0
	}
	return g.written - g.okAt
}

func argmax(xs []float32) int {
	best := 0
	for i, v := range xs {
		if v > xs[best] {
			best = i
		}
	}
	return best
}

// Check reads text as a reader would: at each word start (isWordByte) the
// longest catalog value written there (in any of its valueForms, ASCII
// case folded) that ends a word is a mention, and a mention of a value not in own (sorted ids) contradicts.
// It works on the text alone, not on tokens, so it checks the guard
// rather than repeating it.
func (f *Facts) Check(text string, own []int32) (mentions, contradictions int, bad []string) {
	low := string(foldASCII([]byte(text)))
	for i := 0; i < len(low); i++ {
		if !isWordByte(low[i]) || (i > 0 && isWordByte(low[i-1])) {
			continue
		}
		best := -1
		for k, form := range f.forms {
			if strings.HasPrefix(low[i:], form) && (i+len(form) == len(low) || !isWordByte(low[i+len(form)])) &&
				(best < 0 || len(form) > len(f.forms[best])) {
				best = k
			}
		}
		if best < 0 {
			continue
		}
		mentions++
		v := f.formVal[best]
		if _, ok := slices.BinarySearch(own, v); !ok {
			contradictions++
			bad = append(bad, f.texts[v])
		}
		i += len(f.forms[best]) - 1
	}
	return mentions, contradictions, bad
}

// factState is the engine's Facts: built from the catalog on the first
// request that writes text, and rebuilt when an answer names an item with
// a value it does not know (a write since), so the guard follows the live
// catalog.
type factState struct {
	once      sync.Once
	mu        sync.Mutex
	cur       atomic.Pointer[Facts]
	spellings map[string]bool
	err       error
}

// facts returns the current Facts (nil when it cannot be built: the guard
// is then off, and the error is logged once by the caller).
func (e *Engine) facts() (*Facts, error) {
	fs := &e.factSt
	fs.once.Do(func() {
		items, err := e.cat.Items()
		if err != nil {
			fs.err = err
			return
		}
		fs.spellings = map[string]bool{}
		for _, it := range items {
			for _, s := range Spellings(it) {
				if strings.TrimSpace(s) != "" {
					fs.spellings[s] = true
				}
			}
		}
		fs.err = e.rebuildFacts()
	})
	return fs.cur.Load(), fs.err
}

// rebuildFacts makes Facts of the known spellings; call with fs.mu held
// or inside once.
func (e *Engine) rebuildFacts() error {
	fs := &e.factSt
	sp := make([]string, 0, len(fs.spellings))
	for s := range fs.spellings {
		sp = append(sp, s)
	}
	sort.Strings(sp)
	vocab := e.meta.SID.End()
	if e.model != nil {
		vocab = int32(e.model.Vocab())
	}
	fs.cur.Store(NewFacts(sp, func(t int32) string { return e.tok.Decode([]int32{t}) }, int(vocab)))
	return nil
}

// learnFacts adds the spellings an answer met that the current Facts
// lacks; the next request guards them too.
func (e *Engine) learnFacts(f *Facts, spellings []string) {
	var fresh []string
	for _, s := range spellings {
		if strings.TrimSpace(s) != "" && f.Value(s) < 0 {
			fresh = append(fresh, s)
		}
	}
	if len(fresh) == 0 {
		return
	}
	fs := &e.factSt
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, s := range fresh {
		fs.spellings[s] = true
	}
	_ = e.rebuildFacts() // on error the old Facts stays
}

// fieldSpellings are the fact spellings of an answer's item fields (as
// fieldsOf writes them).
func fieldSpellings(fields map[string]any) []string {
	it := index.Item{Attributes: map[string]string{}}
	it.Brand, _ = fields["brand"].(string)
	it.Type, _ = fields["type"].(string)
	if attrs, ok := fields["attributes"].(map[string]any); ok {
		for k, v := range attrs {
			if s, ok := v.(string); ok {
				it.Attributes[k] = s
			}
		}
	}
	return Spellings(it)
}

// Facts returns the engine's catalog value vocabulary (built on first
// use), for checking answers with CheckAnswer.
func (e *Engine) Facts() (*Facts, error) { return e.facts() }

// SetFactGuard turns the fact guard on or off for later requests (see
// Config.NoFactGuard): only to measure what it prevents, and not while
// requests run.
func (e *Engine) SetFactGuard(on bool) { e.cfg.NoFactGuard = !on }

// CheckAnswer reads an answer as a client shows it: for each item it
// names, the text after it (up to the next item) is checked with
// f.Check against that item's own fields. It returns the value mentions,
// the contradictions, and each contradiction as "ID: text names value".
func CheckAnswer(f *Facts, resp *Response) (mentions, contradictions int, bad []string) {
	for k, seg := range resp.Segments {
		if seg.Item == nil {
			continue
		}
		var text strings.Builder
		for _, after := range resp.Segments[k+1:] {
			if after.Item != nil {
				break
			}
			text.WriteString(after.Text)
		}
		own := f.ValueIDs(nil, fieldSpellings(seg.Item.Fields))
		m, c, b := f.Check(text.String(), own)
		mentions += m
		contradictions += c
		for _, v := range b {
			bad = append(bad, seg.Item.ID+": "+strconv.Quote(text.String())+" names "+strconv.Quote(v))
		}
	}
	return mentions, contradictions, bad
}
