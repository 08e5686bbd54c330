package sid

import (
	"errors"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
)

// randomKeys makes n unique keys of the given width with prefix sharing:
// few types, small codebooks, so that nodes have several children.
func randomKeys(r *rand.Rand, n, width, types, k int) Keys {
	keys := Keys{Width: width}
	seen := map[string]bool{}
	buf := make([]uint16, width)
	for keys.Len() < n {
		buf[0] = uint16(r.IntN(types))
		for j := 1; j < width-1; j++ {
			buf[j] = uint16(r.IntN(k))
		}
		// collision code: next free one for this prefix
		for c := 0; ; c++ {
			buf[width-1] = uint16(c)
			s := string(u16bytes(buf))
			if !seen[s] {
				seen[s] = true
				break
			}
		}
		keys.Data = append(keys.Data, buf...)
	}
	return keys
}

func u16bytes(a []uint16) []byte {
	b := make([]byte, 2*len(a))
	for i, v := range a {
		b[2*i], b[2*i+1] = byte(v>>8), byte(v)
	}
	return b
}

type walkResult struct {
	leaves   []uint32
	deadEnds int
	steps    int
}

// walk explores every path the trie allows under c.
func walk(t *Trie, c *Constraint) walkResult {
	var res walkResult
	var rec func(n Node)
	rec = func(n Node) {
		if t.IsLeaf(n) {
			res.leaves = append(res.leaves, n.Lo)
			return
		}
		codes := t.Allowed(n, c, nil)
		res.steps++
		if len(codes) == 0 && n.Depth > 0 {
			res.deadEnds++
		}
		for _, code := range codes {
			ch, ok := t.Child(n, code)
			if !ok {
				res.deadEnds++
				continue
			}
			rec(ch)
		}
	}
	rec(t.Root())
	return res
}

func TestTrieProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 300; iter++ {
		width := 3 + r.IntN(4)
		n := r.IntN(400)
		types := 1 + r.IntN(5)
		k := 1 + r.IntN(6)
		keys := randomKeys(r, n, width, types, k)
		tr, perm, err := BuildTrie(keys)
		if err != nil {
			t.Fatal(err)
		}
		// availability
		for o := 0; o < n; o++ {
			if r.Float64() < 0.3 {
				tr.SetAvailable(uint32(o), false)
			}
		}
		var c Constraint
		if r.IntN(2) == 0 {
			c.Filter = []uint32{}
			sel := r.Float64()
			for o := 0; o < n; o++ {
				if r.Float64() < sel {
					c.Filter = append(c.Filter, uint32(o))
				}
			}
		}
		for o := 0; o < n; o++ {
			if r.Float64() < 0.05 {
				c.Exclude = append(c.Exclude, uint32(o))
			}
		}
		if r.IntN(3) == 0 {
			c.Types = make([]bool, types)
			for i := range c.Types {
				c.Types[i] = r.IntN(2) == 0
			}
		}
		want := map[uint32]bool{}
		for o := uint32(0); o < uint32(n); o++ {
			key := tr.Key(o, nil)
			if !tr.Available(o) || (c.Filter != nil && !containsSorted(c.Filter, o)) || containsSorted(c.Exclude, o) ||
				(c.Types != nil && !c.Types[key[0]]) {
				continue
			}
			want[o] = true
		}
		res := walk(tr, &c)
		if res.deadEnds != 0 {
			t.Fatalf("iter %d: %d dead ends", iter, res.deadEnds)
		}
		got := map[uint32]bool{}
		for _, o := range res.leaves {
			if !want[o] {
				t.Fatalf("iter %d: walk reached disallowed item %d", iter, o)
			}
			if got[o] {
				t.Fatalf("iter %d: item %d reached twice", iter, o)
			}
			got[o] = true
		}
		if len(got) != len(want) {
			t.Fatalf("iter %d: reached %d items, %d allowed", iter, len(got), len(want))
		}
		// keys round-trip through Key and Find, and perm maps back to input
		for o := uint32(0); o < uint32(n); o++ {
			key := tr.Key(o, nil)
			in := keys.Data[int(perm[o])*width : int(perm[o]+1)*width]
			for j := range key {
				if key[j] != in[j] {
					t.Fatalf("iter %d: Key(%d)=%v, input %v", iter, o, key, in)
				}
			}
			if f, ok := tr.Find(key); !ok || f != o {
				t.Fatalf("iter %d: Find(%v) = %d,%v want %d", iter, key, f, ok, o)
			}
			if o > 0 {
				prev := tr.Key(o-1, nil)
				if !keyLess(prev, key) {
					t.Fatalf("iter %d: ordinals not in SID order: %v then %v", iter, prev, key)
				}
			}
		}
	}
}

func keyLess(a, b []uint16) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

func TestTrieBuildErrors(t *testing.T) {
	tests := []struct {
		name string
		keys Keys
		want error
	}{
		{"duplicate", Keys{Width: 3, Data: []uint16{0, 1, 0, 0, 1, 0}}, ErrDuplicateKey},
		{"narrow", Keys{Width: 2, Data: []uint16{0, 1}}, nil},
		{"ragged", Keys{Width: 3, Data: []uint16{0, 1}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := BuildTrie(tc.keys)
			if err == nil {
				t.Fatal("want error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("empty", func(t *testing.T) {
		tr, _, err := BuildTrie(Keys{Width: 4})
		if err != nil {
			t.Fatal(err)
		}
		if got := tr.Allowed(tr.Root(), nil, nil); len(got) != 0 {
			t.Fatalf("empty trie allows %v", got)
		}
	})
}

// TestTrieConcurrentFlips walks while other goroutines flip stock. Items
// deleted before the walk starts must never be reached, and once writers
// stop the counts agree with the bits.
func TestTrieConcurrentFlips(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	keys := randomKeys(r, 5000, 5, 4, 8)
	tr, _, err := BuildTrie(keys)
	if err != nil {
		t.Fatal(err)
	}
	n := tr.Len()
	deleted := map[uint32]bool{}
	for o := 0; o < n; o += 7 {
		tr.SetAvailable(uint32(o), false)
		deleted[uint32(o)] = true
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rr := rand.New(rand.NewPCG(seed, 9))
			for !stop.Load() {
				o := uint32(rr.IntN(n))
				if deleted[o] {
					continue
				}
				tr.SetAvailable(o, rr.IntN(2) == 0)
			}
		}(uint64(w))
	}
	for i := 0; i < 20; i++ {
		res := walk(tr, &Constraint{})
		for _, o := range res.leaves {
			if deleted[o] {
				t.Fatalf("walk reached deleted item %d", o)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	// counts agree with bits
	for idx := range tr.count {
		var c int32
		for o := tr.lo[idx]; o < tr.hi[idx]; o++ {
			if tr.Available(o) {
				c++
			}
		}
		if tr.count[idx] != c {
			t.Fatalf("node %d count %d, bits say %d", idx, tr.count[idx], c)
		}
	}
	res := walk(tr, &Constraint{})
	if res.deadEnds != 0 {
		t.Fatalf("%d dead ends after flips", res.deadEnds)
	}
}

func TestTrieAllowedAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	keys := randomKeys(r, 20000, 5, 6, 16)
	tr, _, err := BuildTrie(keys)
	if err != nil {
		t.Fatal(err)
	}
	var filter []uint32
	for o := 0; o < tr.Len(); o += 3 {
		filter = append(filter, uint32(o))
	}
	cs := []*Constraint{nil, {Exclude: []uint32{1, 5, 9}}, {Filter: filter, Exclude: []uint32{3}}}
	// one node per depth along the first path
	var nodes []Node
	n := tr.Root()
	for !tr.IsLeaf(n) {
		nodes = append(nodes, n)
		codes := tr.Allowed(n, nil, nil)
		n, _ = tr.Child(n, codes[0])
	}
	dst := make([]uint16, 0, 1<<16)
	for _, c := range cs {
		allocs := testing.AllocsPerRun(100, func() {
			for _, nd := range nodes {
				dst = tr.Allowed(nd, c, dst[:0])
			}
		})
		if allocs != 0 {
			t.Fatalf("Allowed allocates %.1f times per run", allocs)
		}
	}
}

func TestRadixSortMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	keys := randomKeys(r, 3000, 4, 3, 300)
	perm := radixSort(keys)
	idx := make([]int, keys.Len())
	for i := range idx {
		idx[i] = i
	}
	w := keys.Width
	sort.SliceStable(idx, func(a, b int) bool {
		return keyLess(keys.Data[idx[a]*w:idx[a]*w+w], keys.Data[idx[b]*w:idx[b]*w+w])
	})
	for i := range idx {
		if int(perm[i]) != idx[i] {
			t.Fatalf("position %d: radix %d, sort %d", i, perm[i], idx[i])
		}
	}
}
