package plugin

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/neo-search/neo/index"
)

// factStats sums what runMixed saw.
type factStats struct {
	answers, mentions, contradictions, ended, tokens, interventions int
	bad                                                             []string
}

func (s factStats) String() string {
	return fmt.Sprintf("%d answers: %d value mentions after an item, %d contradict it (%.1f%%); %.1f%% ended with <|eos|>, mean %.1f tokens; the guard intervened %d times",
		s.answers, s.mentions, s.contradictions, 100*float64(s.contradictions)/max(1, float64(s.mentions)),
		100*float64(s.ended)/max(1, float64(s.answers)), float64(s.tokens)/max(1, float64(s.answers)), s.interventions)
}

// runMixed asks e for n mixed answers over random histories of one to
// three items, half at temperature 0 and half at 1, with workers
// goroutines, and reads the text after each item with Facts.Check against
// that item's fields as the answer gives them. write, when not nil, runs
// beside the answers until they are done.
func runMixed(t *testing.T, e *Engine, n, workers, maxTokens int, write func(stop <-chan struct{})) factStats {
	t.Helper()
	f, err := e.facts()
	if err != nil {
		t.Fatal(err)
	}
	items, err := e.Catalog().Items()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, it := range items {
		if it.SID != "" && it.InStock {
			ids = append(ids, it.ID)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if write != nil {
		wg.Add(1)
		go func() { defer wg.Done(); write(stop) }()
	}
	var mu sync.Mutex
	var st factStats
	var next atomic.Int64
	var aw sync.WaitGroup
	for range workers {
		aw.Add(1)
		go func() {
			defer aw.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				rng := rand.New(rand.NewPCG(uint64(i), 99))
				hist := make([]string, 1+rng.IntN(3))
				for j := range hist {
					hist[j] = ids[rng.IntN(len(ids))]
				}
				req := Request{Task: TaskMixed, Format: FormatMixed, History: hist, MaxTokens: maxTokens, Seed: uint64(i + 1)}
				if i%2 == 1 {
					req.Temperature = 1
				}
				resp, err := e.Generate(context.Background(), req)
				if err != nil {
					t.Errorf("answer %d: %v", i, err)
					return
				}
				var s factStats
				s.answers, s.tokens, s.interventions = 1, resp.Tokens, resp.FactInterventions
				if resp.Tokens < maxTokens {
					s.ended = 1
				}
				m, c, bad := CheckAnswer(f, resp)
				s.mentions, s.contradictions, s.bad = m, c, bad
				mu.Lock()
				st.answers += s.answers
				st.mentions += s.mentions
				st.contradictions += s.contradictions
				st.ended += s.ended
				st.tokens += s.tokens
				st.interventions += s.interventions
				st.bad = append(st.bad, s.bad...)
				mu.Unlock()
			}
		}()
	}
	aw.Wait()
	close(stop)
	wg.Wait()
	return st
}

// factAnswers is how many mixed answers TestMixedTextGrounded reads:
// 1,000 (the grounded-text acceptance), 200 with -short, or
// NEO_FACT_ANSWERS.
func factAnswers() int {
	if v, err := strconv.Atoi(os.Getenv("NEO_FACT_ANSWERS")); err == nil && v > 0 {
		return v
	}
	if testing.Short() {
		return 200
	}
	return 1000
}

// TestMixedTextGrounded: the text neo writes after naming an item never
// states a catalog value (brand, collection, colour, material, style,
// type) that contradicts the item, over random histories at temperatures
// 0 and 1, while other goroutines flip items' stock and rewrite their
// colours. The same answers without the guard are the rate it prevents
// (logged, and required to be above zero so the test can fail).
func TestMixedTextGrounded(t *testing.T) {
	n := factAnswers()
	e := freshDemoEngine(t, Config{})
	colours := []string{"black", "ruby red", "rose gold", "silver grey", "forest green"}
	writes := atomic.Int64{}
	write := func(stop <-chan struct{}) {
		rng := rand.New(rand.NewPCG(5, 5))
		all, _ := e.Catalog().Items()
		for {
			select {
			case <-stop:
				return
			default:
			}
			it := all[rng.IntN(len(all))]
			switch rng.IntN(2) {
			case 0:
				it.InStock = !it.InStock
			default:
				attrs := map[string]string{}
				for k, v := range it.Attributes {
					attrs[k] = v
				}
				attrs["color"] = colours[rng.IntN(len(colours))]
				it.Attributes = attrs
			}
			if err := e.Catalog().Put(it); err != nil && err != index.ErrDuplicateSID {
				t.Error(err)
				return
			}
			writes.Add(1)
		}
	}
	st := runMixed(t, e, n, 4, 64, write)
	t.Logf("with the guard, %d concurrent writes: %v", writes.Load(), st)
	for i, b := range st.bad {
		if i == 10 {
			break
		}
		t.Errorf("contradiction: %s", b)
	}
	if st.contradictions != 0 {
		t.Fatalf("%d contradictions", st.contradictions)
	}
	if st.mentions < n/2 {
		t.Fatalf("only %d value mentions in %d answers: the check reads nothing", st.mentions, n)
	}
	off := freshDemoEngine(t, Config{NoFactGuard: true})
	before := runMixed(t, off, min(n, 300), 4, 64, nil)
	t.Logf("without the guard: %v", before)
	if before.contradictions == 0 {
		t.Fatalf("no contradictions without the guard either: the test cannot fail")
	}
}

// BenchmarkFactGuard: one Process and Accept of the fact guard over the
// demo model's vocabulary, the text after an item: the per-step cost the
// guard adds to a mixed answer (0 allocations).
func BenchmarkFactGuard(b *testing.B) {
	e, skip, err := openDemo(Config{})
	if skip != "" {
		b.Skip(skip)
	}
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	f, err := e.facts()
	if err != nil {
		b.Fatal(err)
	}
	it, _, _ := e.Catalog().Get("sku-00001")
	g := NewFactGuard(f, 64)
	own := f.ValueIDs(nil, Spellings(it))
	text, _ := e.tok.Encode(", a forest green belt from the Prism collection by Ilse Marlow, in rubberised leather.")
	logits := make([]float32, e.model.Vocab())
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range logits {
		logits[i] = float32(rng.NormFloat64())
	}
	work := make([]float32, len(logits))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(text)
		if j == 0 {
			g.SetAllowed(own)
		}
		copy(work, logits)
		g.Process(work, e.sp.EOS, e.meta.SID.Open)
		g.Accept(text[j])
	}
}
