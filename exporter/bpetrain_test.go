package exporter

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/neo-search/neo/internal/bpetest"
	"github.com/neo-search/neo/sid"
)

// naiveBPE is the textbook algorithm (bpetest.Train): trainBPE must give
// exactly the same vocabulary and merges.
func naiveBPE(wc wordCounter, vocabSize, minFreq int) ([]string, [][2]string) {
	return bpetest.Train(wc, vocabSize, minFreq, []string{sid.TokenPad, sid.TokenUnk}, sid.ByteToken)
}

func randomCorpus(rng *rand.Rand, n int) wordCounter {
	alpha := []string{"a", "b", "c", "ab", "é", "€", " ", "0", "'s", "💍"}
	wc := wordCounter{}
	for i := 0; i < n; i++ {
		var b strings.Builder
		for j := rng.IntN(12); j >= 0; j-- {
			b.WriteString(alpha[rng.IntN(len(alpha))])
		}
		wc.add(b.String())
	}
	return wc
}

func TestTrainBPEMatchesNaive(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			wc := randomCorpus(rand.New(rand.NewPCG(seed, 7)), 400)
			for _, size := range []int{MinVocabSize, 300, 400} {
				v, m, err := trainBPE(context.Background(), wc, size, 2, nil)
				if err != nil {
					t.Fatal(err)
				}
				nv, nm := naiveBPE(wc, size, 2)
				if !slices.Equal(v, nv) || !slices.Equal(m, nm) {
					t.Fatalf("size %d: incremental trainer differs from naive:\n%q\n%q\nmerges %q\nnaive  %q", size, v[258:], nv[258:], m, nm)
				}
				if len(v) > size {
					t.Errorf("vocabulary of %d tokens, asked for %d", len(v), size)
				}
			}
		})
	}
}

func TestTrainBPEDeterministic(t *testing.T) {
	wc := randomCorpus(rand.New(rand.NewPCG(3, 3)), 2000)
	v1, m1, _ := trainBPE(context.Background(), wc, 500, 2, nil)
	for i := 0; i < 3; i++ {
		// A fresh map with the same counts iterates in another order.
		wc2 := wordCounter{}
		for k, c := range wc {
			wc2[k] = c
		}
		v2, m2, _ := trainBPE(context.Background(), wc2, 500, 2, nil)
		if !slices.Equal(v1, v2) || !slices.Equal(m1, m2) {
			t.Fatal("two trainings on the same counts differ")
		}
	}
}

func TestTrainBPEStops(t *testing.T) {
	cases := []struct {
		name    string
		text    []string
		size    int
		merges  int
		wantErr bool
	}{
		{"below minimum", []string{"aa"}, 100, 0, true},
		{"only bytes", []string{"abc"}, MinVocabSize, 0, false},
		{"pairs seen once are not merged", []string{"abcdef"}, 1000, 0, false},
		{"frequent pair merged first", []string{"xy xy xy ab"}, 259, 1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wc := wordCounter{}
			for _, s := range c.text {
				wc.add(s)
			}
			v, m, err := trainBPE(context.Background(), wc, c.size, 2, nil)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				return
			}
			if len(m) != c.merges {
				t.Errorf("%d merges %q, want %d", len(m), m, c.merges)
			}
			if c.merges == 1 && (v[len(v)-1] != "Ġx" && v[len(v)-1] != "xy") {
				t.Errorf("first merge made %q", v[len(v)-1])
			}
		})
	}
}

func TestTrainBPECancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := trainBPE(ctx, randomCorpus(rand.New(rand.NewPCG(1, 1)), 100), 400, 2, nil); err == nil {
		t.Error("cancelled training returned no error")
	}
}
