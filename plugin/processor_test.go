package plugin

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/neo-search/neo/plugin/prior"
	"github.com/neo-search/neo/sid"
)

// testWorld is a random catalog as the processor sees it: a main trie, an
// optional delta, the vocabulary and the special tokens.
type testWorld struct {
	set   TrieSet
	vocab *sid.Vocab
	sp    Specials
	nText int
	types []string
	// keys[t][ord] is the key of ordinal ord of trie t
	keys [2][][]uint16
}

const (
	tEOS = 0
	tBOS = 1
	tPad = 2
)

func newTestWorld(r *rand.Rand, nMain, nDelta, nTypes, levels, k int) *testWorld {
	w := &testWorld{nText: 40}
	for i := 0; i < nTypes; i++ {
		w.types = append(w.types, fmt.Sprintf("type%d", i))
	}
	width := levels + 2
	seen := map[string]bool{}
	mk := func(n int) sid.Keys {
		keys := sid.Keys{Width: width}
		buf := make([]uint16, width)
		for keys.Len() < n {
			buf[0] = uint16(r.IntN(nTypes))
			for j := 1; j < width-1; j++ {
				buf[j] = uint16(r.IntN(k))
			}
			for c := 0; ; c++ {
				buf[width-1] = uint16(c)
				if !seen[fmt.Sprint(buf)] {
					seen[fmt.Sprint(buf)] = true
					break
				}
			}
			keys.Data = append(keys.Data, buf...)
		}
		return keys
	}
	maxColl := 1
	for t, n := range []int{nMain, nDelta} {
		if t == 1 && n == 0 {
			continue
		}
		keys := mk(n)
		tr, _, err := sid.BuildTrie(keys)
		if err != nil {
			panic(err)
		}
		w.set.Tries[t] = tr
		w.set.TypeNames[t] = w.types
		for o := 0; o < tr.Len(); o++ {
			key := tr.Key(uint32(o), nil)
			w.keys[t] = append(w.keys[t], key)
			maxColl = max(maxColl, int(key[width-1])+1)
		}
	}
	counts := make([]int, levels+1)
	for l := range counts {
		counts[l] = k
	}
	counts[levels] = maxColl
	v, err := sid.NewVocab(int32(w.nText), w.types, counts)
	if err != nil {
		panic(err)
	}
	w.vocab = v
	w.sp = Specials{EOS: tEOS, Masked: []int32{tBOS, tPad}}
	return w
}

func (w *testWorld) vocabSize() int { return int(w.vocab.End()) + 5 }

// randomOptions draws a random format, budget, filter, type set and
// exclusion set.
func (w *testWorld) randomOptions(r *rand.Rand) RowOptions {
	o := RowOptions{Format: []string{FormatIDs, FormatText, FormatMixed}[r.IntN(3)], Budget: 1 + r.IntN(8)}
	for t, tr := range w.set.Tries {
		if tr == nil {
			continue
		}
		if r.IntN(2) == 0 {
			sel := r.Float64()
			o.Filter[t] = []uint32{}
			for i := 0; i < tr.Len(); i++ {
				if r.Float64() < sel {
					o.Filter[t] = append(o.Filter[t], uint32(i))
				}
			}
		}
		for i := 0; i < tr.Len(); i++ {
			if r.Float64() < 0.02 {
				o.Exclude[t] = append(o.Exclude[t], uint32(i))
			}
		}
	}
	if r.IntN(3) == 0 {
		for _, name := range w.types {
			if r.IntN(2) == 0 {
				o.Types = append(o.Types, name)
			}
		}
		if o.Types == nil {
			o.Types = []string{}
		}
	}
	return o
}

// allowedNow reports whether an emitted item satisfies the row's request.
func (w *testWorld) allowedByRequest(o RowOptions, e Emitted) error {
	if f := o.Filter[e.Trie]; f != nil && !containsSorted(f, e.Ord) {
		return fmt.Errorf("item %v outside the filter", e)
	}
	if containsSorted(o.Exclude[e.Trie], e.Ord) {
		return fmt.Errorf("item %v is excluded", e)
	}
	if o.Types != nil {
		typ := w.types[w.keys[e.Trie][e.Ord][0]]
		ok := false
		for _, t := range o.Types {
			ok = ok || t == typ
		}
		if !ok {
			return fmt.Errorf("item %v has type %s, request allows %v", e, typ, o.Types)
		}
	}
	return nil
}

// decodeRandom runs one row to <|eos|> (or a step limit) with random
// logits. It returns the emitted items and the number of dead ends met.
func decodeRandom(t *testing.T, w *testWorld, r *rand.Rand, p *LogitsProcessor, row int, onEmit func(Emitted, uint64), seq *atomic.Uint64) (items []Emitted, deadEnds int) {
	logits := make([]float32, w.vocabSize())
	for step := 0; step < 200 && !p.Done(row); step++ {
		for i := range logits {
			logits[i] = float32(r.NormFloat64() * 3)
		}
		// bias towards [SID] and away from <|eos|> so that many SIDs come out
		logits[w.vocab.Open] += 4
		logits[tEOS] -= 2
		n := p.Process(row, logits)
		if n == 0 {
			if !p.InSID(row) {
				t.Fatalf("no allowed token in text mode")
			}
			deadEnds++
			p.AbandonSID(row)
			continue
		}
		p.ApplyFusion(row, logits) // a no-op without fusion
		var cand []int32
		best := int32(-1)
		for i, v := range logits {
			if !math.IsInf(float64(v), -1) {
				cand = append(cand, int32(i))
				if best < 0 || v > logits[best] {
					best = int32(i)
				}
			}
		}
		if len(cand) != n {
			t.Fatalf("Process reported %d allowed, %d unmasked", n, len(cand))
		}
		tok := cand[r.IntN(len(cand))]
		if p.fusion != nil && r.IntN(2) == 0 {
			tok = best // follow the fused scores half of the time
		}
		var before uint64
		if seq != nil {
			before = seq.Load()
		}
		e, ok, err := p.Accept(row, tok)
		if errors.Is(err, ErrDeadEnd) {
			deadEnds++
			p.AbandonSID(row)
			continue
		}
		if err != nil {
			t.Fatalf("Accept(%d) of an allowed token: %v", tok, err)
		}
		if ok {
			items = append(items, e)
			if onEmit != nil {
				onEmit(e, before)
			}
		}
	}
	return items, deadEnds
}

// TestProcessorGuarantee decodes with random logits over random catalogs,
// filters, type sets, exclusions and formats, and checks every emitted SID:
// it exists, is available, passes the filter and types, is not excluded,
// and is not emitted twice in one answer; formats are respected.
func TestProcessorGuarantee(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	total := 0
	for iter := 0; total < 60000; iter++ {
		w := newTestWorld(r, 1+r.IntN(300), r.IntN(3)*r.IntN(20), 1+r.IntN(4), 1+r.IntN(3), 2+r.IntN(5))
		// random unavailability
		for tt, tr := range w.set.Tries {
			if tr == nil {
				continue
			}
			for o := 0; o < tr.Len(); o++ {
				if r.Float64() < 0.2 {
					tr.SetAvailable(uint32(o), false)
				}
			}
			_ = tt
		}
		opts := make([]RowOptions, 4)
		for i := range opts {
			opts[i] = w.randomOptions(r)
		}
		p, err := NewLogitsProcessor(w.vocab, w.sp, w.set, opts)
		if err != nil {
			t.Fatal(err)
		}
		for row := range opts {
			items, dead := decodeRandom(t, w, r, p, row, nil, nil)
			if dead != 0 {
				t.Fatalf("iter %d: %d dead ends without concurrent changes", iter, dead)
			}
			seen := map[Emitted]bool{}
			for _, e := range items {
				if !w.set.Tries[e.Trie].Available(e.Ord) {
					t.Fatalf("iter %d: emitted unavailable item %v", iter, e)
				}
				if err := w.allowedByRequest(opts[row], e); err != nil {
					t.Fatalf("iter %d: %v", iter, err)
				}
				if seen[e] {
					t.Fatalf("iter %d: item %v emitted twice", iter, e)
				}
				seen[e] = true
			}
			switch opts[row].Format {
			case FormatText:
				if len(items) > 0 {
					t.Fatalf("text format emitted %d items", len(items))
				}
			default:
				if len(items) > opts[row].Budget {
					t.Fatalf("emitted %d items, budget %d", len(items), opts[row].Budget)
				}
			}
			total += len(items)
		}
	}
	t.Logf("checked %d emitted SIDs", total)
}

// TestProcessorConcurrentDeletes decodes while other goroutines flip stock
// and delete items, every other request with random fusion priors. An item
// deleted before its [/SID] was accepted must never be emitted.
func TestProcessorConcurrentDeletes(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	w := newTestWorld(r, 3000, 40, 4, 3, 6)
	n0, n1 := w.set.Tries[0].Len(), w.set.Tries[1].Len()
	var seq atomic.Uint64
	seq.Store(1)
	deletedAt := [2][]atomic.Uint64{make([]atomic.Uint64, n0), make([]atomic.Uint64, n1)}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // deleter: permanent, slowly, up to a third of the catalog
		defer wg.Done()
		rr := rand.New(rand.NewPCG(1, 1))
		for deleted := 0; !stop.Load() && deleted < (n0+n1)/3; deleted++ {
			t := rr.IntN(2)
			o := uint32(rr.IntN([]int{n0, n1}[t]))
			w.set.Tries[t].SetAvailable(o, false)
			if deletedAt[t][o].Load() == 0 {
				deletedAt[t][o].Store(seq.Add(1))
			}
			for i := 0; i < 2000 && !stop.Load(); i++ {
			}
		}
	}()
	go func() { // stock flipper on items never deleted
		defer wg.Done()
		rr := rand.New(rand.NewPCG(2, 2))
		for !stop.Load() {
			t := rr.IntN(2)
			o := uint32(rr.IntN([]int{n0, n1}[t]))
			if deletedAt[t][o].Load() == 0 {
				w.set.Tries[t].SetAvailable(o, rr.IntN(2) == 0)
			}
		}
	}()
	total, dead := 0, 0
	for iter := 0; total < 45000; iter++ {
		if iter > 200000 {
			t.Fatalf("only %d SIDs emitted in %d requests", total, iter)
		}
		opts := []RowOptions{w.randomOptions(r)}
		opts[0].Format = []string{FormatIDs, FormatMixed}[iter%2]
		p, err := NewLogitsProcessor(w.vocab, w.sp, w.set, opts)
		if err != nil {
			t.Fatal(err)
		}
		if r.IntN(2) == 1 { // independent of the format, which follows iter
			randomFusion(r, w, p, []prior.Agg{prior.Sum, prior.Max}[r.IntN(2)])
		}
		var bad error
		items, d := decodeRandom(t, w, r, p, 0, func(e Emitted, before uint64) {
			if at := deletedAt[e.Trie][e.Ord].Load(); at != 0 && at < before {
				bad = fmt.Errorf("emitted item %v deleted (seq %d) before its [/SID] (seq %d)", e, at, before)
			}
		}, &seq)
		if bad != nil {
			t.Fatal(bad)
		}
		seen := map[Emitted]bool{}
		for _, e := range items {
			if err := w.allowedByRequest(opts[0], e); err != nil {
				t.Fatal(err)
			}
			if seen[e] {
				t.Fatalf("item %v emitted twice", e)
			}
			seen[e] = true
		}
		total += len(items)
		dead += d
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("checked %d emitted SIDs under concurrent deletes; %d spans abandoned at dead ends", total, dead)
}

func TestProcessorNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	w := newTestWorld(r, 5000, 10, 4, 3, 8)
	opts := []RowOptions{{Format: FormatMixed, Budget: 1000}}
	p, err := NewLogitsProcessor(w.vocab, w.sp, w.set, opts)
	if err != nil {
		t.Fatal(err)
	}
	logits := make([]float32, w.vocabSize())
	allocs := testing.AllocsPerRun(200, func() {
		if p.Done(0) {
			return
		}
		for i := range logits {
			logits[i] = float32(i % 7)
		}
		if !p.InSID(0) {
			logits[w.vocab.Open] = 100
		}
		if p.Process(0, logits) == 0 {
			t.Fatal("dead end")
		}
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		if _, _, err := p.Accept(0, int32(best)); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Process+Accept allocate %.2f times per step", allocs)
	}
}

func TestProcessorIDsFormatForcesSIDs(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	w := newTestWorld(r, 200, 0, 2, 3, 4)
	p, err := NewLogitsProcessor(w.vocab, w.sp, w.set, []RowOptions{{Format: FormatIDs, Budget: 3}})
	if err != nil {
		t.Fatal(err)
	}
	logits := make([]float32, w.vocabSize())
	for i := range logits {
		logits[i] = 1
	}
	p.Process(0, logits)
	var allowed []int
	for i, v := range logits {
		if !math.IsInf(float64(v), -1) {
			allowed = append(allowed, i)
		}
	}
	if len(allowed) != 1 || int32(allowed[0]) != w.vocab.Open {
		t.Fatalf("ids format with nothing emitted allows %v, want only [SID]", allowed)
	}
	sort.Ints(allowed)
}

func TestLogSumExpCut(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	x := make([]float32, 10000)
	for trial := 0; trial < 20; trial++ {
		for i := range x {
			x[i] = float32(r.NormFloat64() * float64(1+trial))
		}
		m := float64(x[0])
		for _, v := range x {
			m = math.Max(m, float64(v))
		}
		var s float64
		for _, v := range x {
			s += math.Exp(float64(v) - m)
		}
		exact := m + math.Log(s)
		if got := logSumExp(x); math.Abs(got-exact) > 1e-5 {
			t.Fatalf("trial %d: logSumExp %v, exact %v", trial, got, exact)
		}
	}
}

func TestExpNeg(t *testing.T) {
	worst := 0.0
	for d := float32(0); d >= -lseCut; d -= 0.0007 {
		want := math.Exp(float64(d))
		rel := math.Abs(float64(expNeg(d))-want) / want
		worst = math.Max(worst, rel)
	}
	if worst > 2e-6 {
		t.Fatalf("expNeg relative error %g", worst)
	}
}

// TestProcessorOpenAfterAllGone: [SID] allowed by Process, then every
// allowed item goes out of stock before Accept: Accept reports a dead end
// (not a request error), and the next Process masks [SID].
func TestProcessorOpenAfterAllGone(t *testing.T) {
	w := newTestWorld(rand.New(rand.NewPCG(5, 6)), 50, 5, 2, 2, 4)
	p, err := NewLogitsProcessor(w.vocab, w.sp, w.set, []RowOptions{{Format: FormatMixed, Budget: 3}})
	if err != nil {
		t.Fatal(err)
	}
	logits := make([]float32, w.vocab.End())
	if p.Process(0, logits); logits[w.vocab.Open] == negInf {
		t.Fatal("[SID] masked with every item in stock")
	}
	for _, tr := range w.set.Tries {
		for o := 0; tr != nil && o < tr.Len(); o++ {
			tr.SetAvailable(uint32(o), false)
		}
	}
	if _, _, err := p.Accept(0, w.vocab.Open); !errors.Is(err, ErrDeadEnd) {
		t.Fatalf("Accept([SID]) with nothing left: %v, want ErrDeadEnd", err)
	}
	if p.InSID(0) {
		t.Fatal("row is inside an SID span after the dead end")
	}
	logits = make([]float32, w.vocab.End())
	if p.Process(0, logits); logits[w.vocab.Open] != negInf {
		t.Fatal("[SID] still allowed with no item in stock")
	}
	text, err := NewLogitsProcessor(w.vocab, w.sp, w.set, []RowOptions{{Format: FormatText}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := text.Accept(0, w.vocab.Open); err == nil || errors.Is(err, ErrDeadEnd) {
		t.Fatalf("[SID] in the text format: %v, want a plain error", err)
	}
}
