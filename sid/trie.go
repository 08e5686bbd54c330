package sid

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Trie is the immutable constraint trie over a catalog's SIDs, with mutable
// per-item availability. Items are numbered (ordinals) in SID order, so every
// node covers a contiguous ordinal range.
//
// Layout: the upper levels (root, type, all semantic levels but the last) are
// explicit nodes in flat CSR arrays, level by level. The last semantic level
// and the collision level are implicit: they are read from two per-item code
// arrays, because at catalog scale nearly every item has a node of its own
// there and explicit nodes would cost more than the items themselves.
//
// Availability is a bitset plus, for every explicit node, the number of
// available items under it, so that "does this child lead to an available
// item" is one load when no filter is set.
type Trie struct {
	n     uint32
	width int // key values per item: type, semantic codes, collision code
	expl  int // deepest explicit depth (= width-2)

	depthStart []uint32 // first explicit node of each depth 0..expl, plus total
	code       []uint16 // per explicit node: its value at its depth
	lo, hi     []uint32 // per explicit node: ordinal range
	first      []uint32 // per explicit node: first child (explicit depths < expl); len nodes+1
	count      []int32  // per explicit node: available items under it (atomic)

	last []uint16 // per item: last semantic code (key[width-2])
	coll []uint16 // per item: collision code (key[width-1])
	bits []uint64 // per item: available (atomic)

	mu sync.Mutex // serialises availability writers
}

// ErrDuplicateKey is returned by BuildTrie when two items share a key.
var ErrDuplicateKey = errors.New("sid: duplicate SID")

// BuildTrie sorts the items of keys into SID order and builds the trie.
// perm[ord] is the input index of the item with ordinal ord. Keys must be
// unique. All items start available.
func BuildTrie(keys Keys) (*Trie, []uint32, error) {
	w := keys.Width
	if w < 3 || w > MaxCodes+1 {
		return nil, nil, fmt.Errorf("sid: key width %d, want 3..%d", w, MaxCodes+1)
	}
	if len(keys.Data)%w != 0 {
		return nil, nil, fmt.Errorf("sid: %d key values is not a multiple of width %d", len(keys.Data), w)
	}
	nItems := len(keys.Data) / w
	if nItems >= 1<<32-1 {
		return nil, nil, fmt.Errorf("sid: %d items is too many", nItems)
	}
	n := uint32(nItems)
	perm := radixSort(keys)
	t := &Trie{n: n, width: w, expl: w - 2}
	t.last = make([]uint16, n)
	t.coll = make([]uint16, n)
	t.bits = make([]uint64, (n+63)/64)
	for i := range t.bits {
		t.bits[i] = ^uint64(0)
	}
	if r := n % 64; r != 0 {
		t.bits[len(t.bits)-1] = (uint64(1) << r) - 1
	}

	// Count explicit nodes per depth: a node of depth d starts at item i
	// when i's key differs from i-1's within the first d values.
	perDepth := make([][]uint32, t.expl+1) // start ordinals per depth
	perDepth[0] = []uint32{0}
	key := func(ord uint32) []uint16 {
		j := int(perm[ord]) * w
		return keys.Data[j : j+w]
	}
	for ord := uint32(0); ord < n; ord++ {
		k := key(ord)
		t.last[ord] = k[w-2]
		t.coll[ord] = k[w-1]
		lcp := 0
		if ord > 0 {
			p := key(ord - 1)
			for lcp < w && p[lcp] == k[lcp] {
				lcp++
			}
			if lcp == w {
				return nil, nil, fmt.Errorf("%w: items %d and %d", ErrDuplicateKey, perm[ord-1], perm[ord])
			}
		}
		for d := lcp + 1; d <= t.expl; d++ {
			perDepth[d] = append(perDepth[d], ord)
		}
	}
	if n == 0 {
		perDepth = perDepth[:1]
		t.expl = 0
	}
	total := 0
	t.depthStart = make([]uint32, len(perDepth)+1)
	for d, s := range perDepth {
		t.depthStart[d] = uint32(total)
		total += len(s)
	}
	t.depthStart[len(perDepth)] = uint32(total)
	t.code = make([]uint16, total)
	t.lo = make([]uint32, total)
	t.hi = make([]uint32, total)
	t.first = make([]uint32, total+1)
	t.count = make([]int32, total)
	for d, starts := range perDepth {
		base := int(t.depthStart[d])
		for i, lo := range starts {
			hi := n
			if i+1 < len(starts) {
				hi = starts[i+1]
			}
			idx := base + i
			t.lo[idx], t.hi[idx] = lo, hi
			t.count[idx] = int32(hi - lo)
			if d > 0 {
				t.code[idx] = key(lo)[d-1]
			}
		}
	}
	// Children of depth-d nodes are exactly the depth-(d+1) nodes, in order;
	// a child starts where its parent starts, so a merge finds first[].
	for d := 0; d < len(perDepth); d++ {
		base := int(t.depthStart[d])
		if d == len(perDepth)-1 {
			for i := range perDepth[d] {
				t.first[base+i] = uint32(total)
			}
			continue
		}
		cb := int(t.depthStart[d+1])
		c := 0
		for i, lo := range perDepth[d] {
			for perDepth[d+1][c] < lo {
				c++
			}
			t.first[base+i] = uint32(cb + c)
		}
	}
	t.first[total] = uint32(total)
	return t, perm, nil
}

// radixSort returns the item indexes of keys in key order (LSD radix sort,
// stable, one 16-bit digit per key position; positions with a single value
// are skipped).
func radixSort(keys Keys) []uint32 {
	w := keys.Width
	n := len(keys.Data) / w
	a := make([]uint32, n)
	for i := range a {
		a[i] = uint32(i)
	}
	if n < 2 {
		return a
	}
	b := make([]uint32, n)
	var cnt [1 << 16]uint32
	for pos := w - 1; pos >= 0; pos-- {
		clear(cnt[:])
		minV, maxV := uint16(0xffff), uint16(0)
		for i := 0; i < n; i++ {
			v := keys.Data[i*w+pos]
			cnt[v]++
			minV, maxV = min(minV, v), max(maxV, v)
		}
		if minV == maxV {
			continue
		}
		sum := uint32(0)
		for v := int(minV); v <= int(maxV); v++ {
			c := cnt[v]
			cnt[v] = sum
			sum += c
		}
		for _, idx := range a {
			v := keys.Data[int(idx)*w+pos]
			b[cnt[v]] = idx
			cnt[v]++
		}
		a, b = b, a
	}
	return a
}

// Len is the number of items (ordinals 0..Len()-1).
func (t *Trie) Len() int { return int(t.n) }

// Width is the number of key values per item: 1 (type) + code levels.
func (t *Trie) Width() int { return t.width }

// Bytes is the memory held by the trie's arrays.
func (t *Trie) Bytes() int {
	return len(t.depthStart)*4 + len(t.code)*2 + len(t.lo)*4 + len(t.hi)*4 + len(t.first)*4 +
		len(t.count)*4 + len(t.last)*2 + len(t.coll)*2 + len(t.bits)*8 + int(unsafe.Sizeof(*t))
}

// Available reports whether an item is available.
func (t *Trie) Available(ord uint32) bool {
	return atomic.LoadUint64(&t.bits[ord>>6])&(1<<(ord&63)) != 0
}

// SetAvailable marks an item available or not. It is safe to call while
// other goroutines walk the trie; a walk that starts after it returns sees
// the change. Counts are lowered before the bit is cleared and raised after
// it is set, so a count never claims an item its bit does not show.
func (t *Trie) SetAvailable(ord uint32, ok bool) {
	if ord >= t.n {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.Available(ord) == ok {
		return
	}
	word := &t.bits[ord>>6]
	mask := uint64(1) << (ord & 63)
	if ok {
		for {
			old := atomic.LoadUint64(word)
			if atomic.CompareAndSwapUint64(word, old, old|mask) {
				break
			}
		}
		t.addCounts(ord, 1)
		return
	}
	t.addCounts(ord, -1)
	for {
		old := atomic.LoadUint64(word)
		if atomic.CompareAndSwapUint64(word, old, old&^mask) {
			break
		}
	}
}

func (t *Trie) addCounts(ord uint32, delta int32) {
	for d := 0; d <= t.expl; d++ {
		atomic.AddInt32(&t.count[t.nodeAt(d, ord)], delta)
	}
}

// nodeAt returns the explicit node of depth d that covers ord.
func (t *Trie) nodeAt(d int, ord uint32) int {
	s, e := int(t.depthStart[d]), int(t.depthStart[d+1])
	// last node at depth d with lo <= ord
	i := sort.Search(e-s, func(i int) bool { return t.lo[s+i] > ord })
	return s + i - 1
}

// AvailableCount is the number of available items.
func (t *Trie) AvailableCount() int {
	if t.n == 0 {
		return 0
	}
	return int(atomic.LoadInt32(&t.count[0]))
}

// Root is the root node.
func (t *Trie) Root() Node { return Node{Lo: 0, Hi: t.n, Idx: 0, Depth: 0} }

// IsLeaf reports whether n is a single item (a full SID).
func (t *Trie) IsLeaf(n Node) bool { return int(n.Depth) == t.width }

// allowedItem reports whether ord is available and not excluded; filter
// membership is checked by the caller.
func (t *Trie) allowedItem(ord uint32, excl []uint32) bool {
	if atomic.LoadUint64(&t.bits[ord>>6])&(1<<(ord&63)) == 0 {
		return false
	}
	return len(excl) == 0 || !containsSorted(excl, ord)
}

func containsSorted(a []uint32, x uint32) bool {
	i := lowerBound(a, x)
	return i < len(a) && a[i] == x
}

// lowerBound is the first index i with a[i] >= x.
func lowerBound(a []uint32, x uint32) int {
	lo, hi := 0, len(a)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if a[m] < x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// gallop is lowerBound on a[from:], cheap when the answer is near from.
func gallop(a []uint32, from int, x uint32) int {
	if from >= len(a) || a[from] >= x {
		return from
	}
	step := 1
	lo := from
	hi := from + 1
	for hi < len(a) && a[hi] < x {
		lo = hi
		step <<= 1
		hi = from + step
	}
	if hi > len(a) {
		hi = len(a)
	}
	return lo + 1 + lowerBound(a[lo+1:hi], x)
}

// countIn counts the sorted values of a within [lo, hi) that are available.
func (t *Trie) excludedAvailable(excl []uint32, lo, hi uint32) int32 {
	var c int32
	for i := lowerBound(excl, lo); i < len(excl) && excl[i] < hi; i++ {
		if t.Available(excl[i]) {
			c++
		}
	}
	return c
}

// Allowed appends to dst the codes of n's children (type indexes at the
// root) that lead to at least one allowed item, in increasing order. It does
// not allocate when dst has room.
func (t *Trie) Allowed(n Node, c *Constraint, dst []uint16) []uint16 {
	if t.n == 0 || int(n.Depth) >= t.width {
		return dst
	}
	var filter, excl []uint32
	var types []bool
	if c != nil {
		filter, excl, types = c.Filter, c.Exclude, c.Types
		if filter != nil && len(filter) == 0 {
			return dst
		}
	}
	d := int(n.Depth)
	if d < t.expl {
		return t.allowedExplicit(n, filter, excl, types, dst)
	}
	if d == t.expl {
		return t.allowedRuns(n, filter, excl, dst)
	}
	return t.allowedItems(n, filter, excl, dst)
}

// allowedExplicit lists explicit children of an explicit node.
func (t *Trie) allowedExplicit(n Node, filter, excl []uint32, types []bool, dst []uint16) []uint16 {
	cs, ce := int(t.first[n.Idx]), int(t.first[n.Idx+1])
	root := n.Depth == 0
	if filter == nil {
		for ch := cs; ch < ce; ch++ {
			if root && types != nil && (int(t.code[ch]) >= len(types) || !types[t.code[ch]]) {
				continue
			}
			cnt := atomic.LoadInt32(&t.count[ch])
			if cnt <= 0 {
				continue
			}
			if len(excl) > 0 && cnt <= t.excludedAvailable(excl, t.lo[ch], t.hi[ch]) {
				continue
			}
			dst = append(dst, t.code[ch])
		}
		return dst
	}
	// With a filter: walk the filter's ordinals inside n, jump to the child
	// holding each one, and skip the rest of a child once it is allowed.
	p := lowerBound(filter, n.Lo)
	ch := cs
	for p < len(filter) && filter[p] < n.Hi && ch < ce {
		x := filter[p]
		if x >= t.hi[ch] {
			ch = cs + lowerBoundHi(t.hi[cs:ce], x)
			if ch >= ce {
				break
			}
		}
		if root && types != nil && (int(t.code[ch]) >= len(types) || !types[t.code[ch]]) {
			p = gallop(filter, p, t.hi[ch])
			ch++
			continue
		}
		if atomic.LoadInt32(&t.count[ch]) <= 0 {
			p = gallop(filter, p, t.hi[ch])
			ch++
			continue
		}
		if t.allowedItem(x, excl) {
			dst = append(dst, t.code[ch])
			p = gallop(filter, p, t.hi[ch])
			ch++
			continue
		}
		p++
	}
	return dst
}

// lowerBoundHi is the first i with a[i] > x.
func lowerBoundHi(a []uint32, x uint32) int {
	lo, hi := 0, len(a)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if a[m] <= x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// nextCandidate returns the first ordinal in [ord, hi) the filter lets
// through (every ordinal when filter is nil), or hi; p is the caller's
// position in filter, moved forward.
func nextCandidate(filter []uint32, p *int, ord, hi uint32) uint32 {
	if filter == nil {
		return ord
	}
	*p = gallop(filter, *p, ord)
	if *p >= len(filter) || filter[*p] >= hi {
		return hi
	}
	return filter[*p]
}

// allowedRuns lists the last-semantic-level codes under a deepest explicit
// node: runs of equal t.last values in the node's range.
func (t *Trie) allowedRuns(n Node, filter, excl []uint32, dst []uint16) []uint16 {
	p := 0
	have := false
	var cur uint16
	for ord := nextCandidate(filter, &p, n.Lo, n.Hi); ord < n.Hi; ord = nextCandidate(filter, &p, ord+1, n.Hi) {
		code := t.last[ord]
		if have && code == cur {
			continue // this run is already allowed
		}
		if t.allowedItem(ord, excl) {
			dst = append(dst, code)
			have, cur = true, code
		}
	}
	return dst
}

// allowedItems lists collision codes of the items of an implicit
// last-semantic-level node.
func (t *Trie) allowedItems(n Node, filter, excl []uint32, dst []uint16) []uint16 {
	p := 0
	for ord := nextCandidate(filter, &p, n.Lo, n.Hi); ord < n.Hi; ord = nextCandidate(filter, &p, ord+1, n.Hi) {
		if t.allowedItem(ord, excl) {
			dst = append(dst, t.coll[ord])
		}
	}
	return dst
}

// Child returns n's child with the given code.
func (t *Trie) Child(n Node, code uint16) (Node, bool) {
	d := int(n.Depth)
	if t.n == 0 || d >= t.width {
		return Node{}, false
	}
	if d < t.expl {
		cs, ce := int(t.first[n.Idx]), int(t.first[n.Idx+1])
		i := cs + sort.Search(ce-cs, func(i int) bool { return t.code[cs+i] >= code })
		if i < ce && t.code[i] == code {
			return Node{Lo: t.lo[i], Hi: t.hi[i], Idx: int32(i), Depth: n.Depth + 1}, true
		}
		return Node{}, false
	}
	if d == t.expl {
		// runs of t.last are sorted within the node: binary search the run
		a := t.last[n.Lo:n.Hi]
		i := sort.Search(len(a), func(i int) bool { return a[i] >= code })
		if i == len(a) || a[i] != code {
			return Node{}, false
		}
		j := i + sort.Search(len(a)-i, func(k int) bool { return a[i+k] > code })
		return Node{Lo: n.Lo + uint32(i), Hi: n.Lo + uint32(j), Idx: -1, Depth: n.Depth + 1}, true
	}
	a := t.coll[n.Lo:n.Hi]
	i := sort.Search(len(a), func(i int) bool { return a[i] >= code })
	if i == len(a) || a[i] != code {
		return Node{}, false
	}
	o := n.Lo + uint32(i)
	return Node{Lo: o, Hi: o + 1, Idx: -1, Depth: n.Depth + 1}, true
}

// Key appends the key (type index, codes) of ordinal ord to dst.
func (t *Trie) Key(ord uint32, dst []uint16) []uint16 {
	if ord >= t.n {
		return dst
	}
	for d := 1; d <= t.expl; d++ {
		dst = append(dst, t.code[t.nodeAt(d, ord)])
	}
	return append(dst, t.last[ord], t.coll[ord])
}

// Find returns the ordinal of the item with the given key.
func (t *Trie) Find(key []uint16) (uint32, bool) {
	if len(key) != t.width {
		return 0, false
	}
	n := t.Root()
	for _, c := range key {
		var ok bool
		if n, ok = t.Child(n, c); !ok {
			return 0, false
		}
	}
	return n.Lo, true
}
