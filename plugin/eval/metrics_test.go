package eval

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestHitRateAndNDCG(t *testing.T) {
	tests := []struct {
		name     string
		ranked   []string
		relevant map[string]int
		k        int
		hr, ndcg float64
	}{
		{"miss", []string{"a", "b", "c"}, map[string]int{"x": 1}, 10, 0, 0},
		{"beyond k", []string{"a", "b", "c"}, map[string]int{"c": 1}, 2, 0, 0},
		{"rank 3 of 3", []string{"a", "b", "c"}, map[string]int{"c": 1}, 3, 1, 0.5},
		{"rank 2", []string{"a", "b", "c"}, map[string]int{"b": 1}, 10, 1, 1 / math.Log2(3)},
		{"rank 1", []string{"a", "b"}, map[string]int{"a": 1}, 1, 1, 1},
		{"ideal graded order", []string{"a", "b"}, map[string]int{"a": 2, "b": 1}, 10, 1, 1},
		// DCG = 1 + 3/log2 3; IDCG = 3 + 1/log2 3.
		{"swapped grades", []string{"b", "a"}, map[string]int{"a": 2, "b": 1}, 10, 1, 0.7967075809905066},
		// DCG = 3/log2 4 = 1.5; IDCG over the 3 relevant = 3 + 3/log2 3 + 1/2.
		{"ideal from relevant set", []string{"x", "y", "a"}, map[string]int{"a": 2, "b": 2, "c": 1}, 3, 1, 0.2781491965442198},
		// IDCG is cut at k too: with k=1 only the best grade counts.
		{"ideal cut at k", []string{"c"}, map[string]int{"a": 2, "c": 1}, 1, 1, 1.0 / 3},
		{"grade 0 is not relevant", []string{"a"}, map[string]int{"a": 0}, 10, 0, 0},
		{"repeated id counts once", []string{"a", "a"}, map[string]int{"a": 1}, 10, 1, 1},
		{"empty list", nil, map[string]int{"a": 1}, 10, 0, 0},
		{"no relevant", []string{"a"}, nil, 10, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := HitRate(tc.ranked, tc.relevant, tc.k); got != tc.hr {
				t.Errorf("HR@%d = %v, want %v", tc.k, got, tc.hr)
			}
			if got := NDCG(tc.ranked, tc.relevant, tc.k); !near(got, tc.ndcg) {
				t.Errorf("NDCG@%d = %v, want %v", tc.k, got, tc.ndcg)
			}
		})
	}
}

func TestStdErrAndPercentile(t *testing.T) {
	se := []struct {
		p    float64
		n    int
		want float64
	}{
		{0.1, 100, 0.03}, {0.5, 4, 0.25}, {0, 10, 0}, {1, 10, 0}, {0.3, 0, 0},
	}
	for _, tc := range se {
		if got := StdErr(tc.p, tc.n); !near(got, tc.want) {
			t.Errorf("StdErr(%v, %d) = %v, want %v", tc.p, tc.n, got, tc.want)
		}
	}
	pc := []struct {
		name string
		xs   []float64
		q    float64
		want float64
	}{
		{"p50 odd", []float64{5, 1, 3, 2, 4}, 0.5, 3},
		{"p99 small", []float64{5, 1, 3, 2, 4}, 0.99, 5},
		{"p50 even", []float64{4, 1, 3, 2}, 0.5, 2},
		{"p99 of 200", ramp(200), 0.99, 198},
		{"empty", nil, 0.5, 0},
	}
	for _, tc := range pc {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.xs, tc.q); got != tc.want {
				t.Errorf("percentile = %v, want %v", got, tc.want)
			}
		})
	}
}

// ramp is 1..n.
func ramp(n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = float64(n - i)
	}
	return xs
}
