package prior

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// Mass over any range equals the brute-force sum (or max) of the smoothed
// per-item probabilities, and the root sums to 1 under Sum.
func TestDistMass(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		n := 1 + r.IntN(300)
		var ords []uint32
		var ws []float64
		for i := r.IntN(50); i > 0; i-- {
			ords = append(ords, uint32(r.IntN(n)))
			ws = append(ws, r.Float64()*3)
		}
		for _, agg := range []Agg{Sum, Max} {
			d := NewDist(ords, ws, n, agg)
			if d == nil {
				continue
			}
			p := make([]float64, n)
			var tot float64
			for i, o := range ords {
				tot += ws[i]
				p[o] += ws[i]
			}
			for i := range p {
				p[i] = (1-Smoothing)*p[i]/tot + Smoothing/float64(n)
			}
			for q := 0; q < 20; q++ {
				lo := uint32(r.IntN(n))
				hi := lo + 1 + uint32(r.IntN(n-int(lo)))
				var want float64
				for o := lo; o < hi; o++ {
					if agg == Sum {
						want += p[o]
					} else {
						want = max(want, p[o])
					}
				}
				if got := d.Mass(lo, hi); math.Abs(got-want) > 1e-9 {
					t.Fatalf("agg %d n %d [%d,%d): mass %g, want %g", agg, n, lo, hi, got, want)
				}
			}
			if agg == Sum && math.Abs(d.Root()-1) > 1e-9 {
				t.Fatalf("root mass %g, want 1", d.Root())
			}
		}
	}
}

func TestDistNoHits(t *testing.T) {
	if d := NewDist([]uint32{1}, []float64{0}, 5, Sum); d != nil {
		t.Fatal("a Dist of zero weights must be nil")
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   any
		ok   bool
		want Weights
	}{
		{"none", true, Weights{}},
		{map[string]any{"cf": 1.0, "bm25": 0.5}, true, Weights{ItemKNN: 1, SeqKNN: 1, BM25: 0.5}},
		{map[string]any{"spaceship": 1.0}, false, nil},
		{map[string]any{"bm25": -1.0}, false, nil},
		{map[string]any{"bm25": "x"}, false, nil},
		{"all", false, nil},
		{3.0, false, nil},
	} {
		got, err := Parse(tc.in)
		if (err == nil) != tc.ok {
			t.Fatalf("Parse(%v): err %v", tc.in, err)
		}
		if tc.ok && len(got) != len(tc.want) {
			t.Fatalf("Parse(%v) = %v, want %v", tc.in, got, tc.want)
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Fatalf("Parse(%v) = %v, want %v", tc.in, got, tc.want)
			}
		}
	}
}

func TestParseAgg(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Agg
		ok   bool
	}{
		{"sum", Sum, true},
		{" MAX ", Max, true},
		{"", Sum, false},
		{"mean", Sum, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseAgg(tc.in)
			if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
				t.Fatalf("ParseAgg(%q) = %v, %v", tc.in, got, err)
			}
			if tc.ok {
				var back Agg
				b, _ := got.MarshalText()
				if err := back.UnmarshalText(b); err != nil || back != got {
					t.Fatalf("round trip %q: %v, %v", b, back, err)
				}
			}
		})
	}
}

func TestReciprocalRank(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lists [][]string
		want  []string
	}{
		{"empty", nil, nil},
		{"one list keeps its order", [][]string{{"a", "b", "c"}}, []string{"a", "b", "c"}},
		{"in both lists wins", [][]string{{"a", "b"}, {"c", "b"}}, []string{"b", "a", "c"}},
		{"ties by first appearance", [][]string{{"a"}, {"c"}}, []string{"a", "c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hits := ReciprocalRank(tc.lists)
			var got []string
			for _, h := range hits {
				got = append(got, h.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for _, h := range hits {
				var want float64
				for _, l := range tc.lists {
					if r := slices.Index(l, h.ID); r >= 0 {
						want += 1 / float64(RRFK+r+1)
					}
				}
				if math.Abs(h.Score-want) > 1e-12 {
					t.Fatalf("%s: score %v, want %v", h.ID, h.Score, want)
				}
			}
		})
	}
}

func TestRanked(t *testing.T) {
	hits := []Hit{{"c", 1}, {"a", 2}, {"b", 2}, {"z", 0}, {"h", 5}}
	for _, tc := range []struct {
		name  string
		depth int
		want  []string
	}{
		{"best first, ties by id, no zero", 10, []string{"h", "a", "b", "c"}},
		{"depth", 2, []string{"h", "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Ranked(hits, tc.depth); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	if hits[0].ID != "c" {
		t.Fatal("Ranked reordered its input")
	}
}
