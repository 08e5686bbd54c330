package exporter

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/neo-search/neo/sid"
)

// naiveBPE is the textbook algorithm: recount every pair before each merge.
// trainBPE must give exactly the same vocabulary and merges.
func naiveBPE(wc wordCounter, vocabSize, minFreq int) ([]string, [][2]string) {
	vocab := []string{sid.TokenPad, sid.TokenUnk}
	ids := map[string]int32{}
	for b := 0; b < 256; b++ {
		ids[sid.ByteToken(byte(b))] = int32(len(vocab))
		vocab = append(vocab, sid.ByteToken(byte(b)))
	}
	type word struct {
		syms  []int32
		count int
	}
	var words []word
	for k, c := range wc {
		w := word{count: c}
		for i := 0; i < len(k); i++ {
			w.syms = append(w.syms, int32(2+int(k[i])))
		}
		words = append(words, w)
	}
	var merges [][2]string
	for len(vocab) < vocabSize {
		counts := map[uint64]int{}
		for _, w := range words {
			for i := 0; i+1 < len(w.syms); i++ {
				counts[pairKey(w.syms[i], w.syms[i+1])] += w.count
			}
		}
		best, bc := uint64(0), 0
		for p, c := range counts {
			if c > bc || c == bc && p < best {
				best, bc = p, c
			}
		}
		if bc == 0 || bc < minFreq {
			break
		}
		a, b := int32(best>>32), int32(uint32(best))
		tok := vocab[a] + vocab[b]
		nid, ok := ids[tok]
		if !ok {
			nid = int32(len(vocab))
			ids[tok] = nid
			vocab = append(vocab, tok)
		}
		merges = append(merges, [2]string{vocab[a], vocab[b]})
		for wi := range words {
			s := words[wi].syms
			for i := 0; i+1 < len(s); i++ {
				if s[i] == a && s[i+1] == b {
					s[i] = nid
					s = append(s[:i+1], s[i+2:]...)
				}
			}
			words[wi].syms = s
		}
	}
	return vocab, merges
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
