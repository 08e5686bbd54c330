package plugin

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/neo-search/neo/plugin/prior"
)

// randomFusion gives the processor 1–3 experts (k of them when k > 0)
// with random sparse hits over the world's global ordinals (main trie
// first, then the delta).
func randomFusion(r *rand.Rand, w *testWorld, p *LogitsProcessor, agg prior.Agg, k ...int) *fusionState {
	f := &fusionState{}
	n := 0
	for t, tr := range w.set.Tries {
		if tr == nil {
			continue
		}
		if t == 1 {
			f.off[1] = uint32(n)
		}
		n += tr.Len()
	}
	nx := 1 + r.IntN(3)
	if len(k) > 0 {
		nx = k[0]
	}
	for j := 0; j < nx; j++ {
		var ords []uint32
		var ws []float64
		for o := 0; o < n; o++ {
			if r.Float64() < 0.3 {
				ords = append(ords, uint32(o))
				ws = append(ws, r.ExpFloat64())
			}
		}
		d := prior.NewDist(ords, ws, n, agg)
		if d == nil {
			continue
		}
		f.names = append(f.names, prior.Names[j])
		f.dists = append(f.dists, d)
		f.lambda = append(f.lambda, 0.25+2*r.Float64())
	}
	if len(f.dists) == 0 {
		return nil
	}
	p.fusion = f
	return f
}

// TestFusionGainTelescopes walks every item of random catalogs token by
// token and checks that the gains of its SID sum to Σ λ·log P(item): the
// product of experts at the leaf, whatever the tries and the aggregation.
func TestFusionGainTelescopes(t *testing.T) {
	if len(prior.Names) > maxExperts {
		t.Fatalf("prior.Names has %d experts, rows cache %d", len(prior.Names), maxExperts)
	}
	r := rand.New(rand.NewPCG(41, 42))
	checked := 0
	for iter := 0; iter < 60; iter++ {
		w := newTestWorld(r, 1+r.IntN(200), r.IntN(2)*r.IntN(30), 1+r.IntN(3), 1+r.IntN(3), 2+r.IntN(5))
		agg := []prior.Agg{prior.Sum, prior.Max}[iter%2]
		p, err := NewLogitsProcessor(w.vocab, w.sp, w.set, []RowOptions{{Format: FormatIDs, Budget: 1 << 20}})
		if err != nil {
			t.Fatal(err)
		}
		f := randomFusion(r, w, p, agg)
		if f == nil {
			continue
		}
		for tt, keys := range w.keys {
			for o, key := range keys {
				if _, _, err := p.Accept(0, w.vocab.Open); err != nil {
					t.Fatal(err)
				}
				toks := []int32{w.vocab.TypeToken(int(key[0]))}
				for l := 1; l < len(key); l++ {
					toks = append(toks, w.vocab.CodeToken(l-1, int(key[l])))
				}
				var sum float64
				for _, tok := range toks {
					sum += p.FusionGain(0, tok)
					if _, _, err := p.Accept(0, tok); err != nil {
						t.Fatalf("iter %d item %d/%d: %v", iter, tt, o, err)
					}
				}
				if g := p.FusionGain(0, w.vocab.Close); g != 0 {
					t.Fatalf("[/SID] gains %g, want 0", g)
				}
				e, ok, err := p.Accept(0, w.vocab.Close)
				if err != nil || !ok || e.Trie != tt || e.Ord != uint32(o) {
					t.Fatalf("iter %d: emitted %v %v %v, want %d/%d", iter, e, ok, err, tt, o)
				}
				var want float64
				g := f.off[tt] + uint32(o)
				for j, d := range f.dists {
					want += f.lambda[j] * (d.LogItem(g) - math.Log(d.Root()))
				}
				if math.Abs(sum-want) > 1e-9*max(1, math.Abs(want)) {
					t.Fatalf("iter %d agg %v item %d/%d: gains sum to %.12g, want Σλ log P = %.12g", iter, agg, tt, o, sum, want)
				}
				checked++
			}
		}
	}
	t.Logf("checked %d items", checked)
}

// TestFusionKeepsGuarantee decodes random catalogs with fusion on (gains
// added to the logits as sampling does) and checks that fusion only
// reweights what the processor allows: the tokens left finite after
// ApplyFusion are exactly those Process allowed, and every emitted item
// passes the request.
func TestFusionKeepsGuarantee(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	total := 0
	for iter := 0; total < 20000; iter++ {
		w := newTestWorld(r, 1+r.IntN(300), r.IntN(3)*r.IntN(20), 1+r.IntN(4), 1+r.IntN(3), 2+r.IntN(5))
		opts := make([]RowOptions, 3)
		for i := range opts {
			opts[i] = w.randomOptions(r)
		}
		p, err := NewLogitsProcessor(w.vocab, w.sp, w.set, opts)
		if err != nil {
			t.Fatal(err)
		}
		randomFusion(r, w, p, []prior.Agg{prior.Sum, prior.Max}[iter%2])
		logits := make([]float32, w.vocabSize())
		for row := range opts {
			seen := map[Emitted]bool{}
			for step := 0; step < 200 && !p.Done(row); step++ {
				for i := range logits {
					logits[i] = float32(r.NormFloat64() * 3)
				}
				logits[w.vocab.Open] += 4
				logits[tEOS] -= 2
				n := p.Process(row, logits)
				if n == 0 {
					t.Fatalf("iter %d: dead end", iter)
				}
				allowed := map[int32]bool{}
				for i, v := range logits {
					if !math.IsInf(float64(v), -1) {
						allowed[int32(i)] = true
					}
				}
				p.ApplyFusion(row, logits)
				var cand []int32
				for i, v := range logits {
					fin := !math.IsInf(float64(v), -1) && !math.IsNaN(float64(v))
					if fin != allowed[int32(i)] {
						t.Fatalf("iter %d: token %d allowed %v before fusion, finite %v after (%g)", iter, i, allowed[int32(i)], fin, v)
					}
					if fin {
						cand = append(cand, int32(i))
					}
				}
				tok := cand[r.IntN(len(cand))]
				e, ok, err := p.Accept(row, tok)
				if err != nil {
					t.Fatalf("iter %d: Accept(%d): %v", iter, tok, err)
				}
				if !ok {
					continue
				}
				if err := w.allowedByRequest(opts[row], e); err != nil {
					t.Fatalf("iter %d: %v", iter, err)
				}
				if seen[e] {
					t.Fatalf("iter %d: %v emitted twice", iter, e)
				}
				seen[e] = true
				total++
			}
		}
	}
	t.Logf("checked %d emitted SIDs", total)
}

// TestFusionGainNoAllocs: the gain of every candidate at every step of a
// long decode allocates nothing.
func TestFusionGainNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	w := newTestWorld(r, 5000, 10, 4, 3, 8)
	p, err := NewLogitsProcessor(w.vocab, w.sp, w.set, []RowOptions{{Format: FormatIDs, Budget: 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	if randomFusion(r, w, p, prior.Sum) == nil {
		t.Fatal("no experts")
	}
	logits := make([]float32, w.vocabSize())
	allocs := testing.AllocsPerRun(500, func() { fusionStep(t, w, p, logits) })
	if allocs != 0 {
		t.Fatalf("Process+FusionGain+Accept allocate %.2f times per step", allocs)
	}
}

// fusionStep is one greedy beam step of row 0 under fusion: the allowed
// tokens' logits plus their gains, best accepted.
func fusionStep(t testing.TB, w *testWorld, p *LogitsProcessor, logits []float32) {
	for i := range logits {
		logits[i] = float32(i % 7)
	}
	if !p.InSID(0) {
		logits[w.vocab.Open] = 100
	}
	if p.Process(0, logits) == 0 {
		t.Fatal("dead end")
	}
	best, bestScore := int32(-1), math.Inf(-1)
	for i, v := range logits {
		if math.IsInf(float64(v), -1) {
			continue
		}
		if s := float64(v) + p.FusionGain(0, int32(i)); s > bestScore {
			best, bestScore = int32(i), s
		}
	}
	if _, _, err := p.Accept(0, best); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkFusionStep(b *testing.B) {
	for _, experts := range []int{0, 3} {
		b.Run(map[int]string{0: "model", 3: "fusion3"}[experts], func(b *testing.B) {
			r := rand.New(rand.NewPCG(71, 72))
			w := newTestWorld(r, 20000, 0, 4, 3, 16)
			var p *LogitsProcessor
			fresh := func() {
				var err error
				if p, err = NewLogitsProcessor(w.vocab, w.sp, w.set, []RowOptions{{Format: FormatIDs, Budget: 1 << 30}}); err != nil {
					b.Fatal(err)
				}
				if experts > 0 && len(randomFusion(rand.New(rand.NewPCG(73, 74)), w, p, prior.Sum, experts).dists) != experts {
					b.Fatal("experts missing")
				}
			}
			fresh()
			logits := make([]float32, w.vocabSize())
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if p.EmittedCount(0) == 10000 { // long before the catalog runs out
					b.StopTimer()
					fresh()
					b.StartTimer()
				}
				fusionStep(b, w, p, logits)
			}
		})
	}
}
