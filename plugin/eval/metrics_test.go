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

func TestStdErr(t *testing.T) {
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
}

func TestPrecision(t *testing.T) {
	rel := map[string]int{"a": 2, "b": 1, "z": 0}
	for _, tc := range []struct {
		name   string
		ranked []string
		k      int
		want   float64
	}{
		{"two of five", []string{"a", "x", "b", "y", "w"}, 5, 0.4},
		{"short list", []string{"a"}, 5, 0.2},
		{"grade 0 is not relevant", []string{"z", "z2"}, 2, 0},
		{"repeat counts once", []string{"a", "a", "a"}, 3, 1.0 / 3},
		{"past k ignored", []string{"x", "a"}, 1, 0},
		{"k 0", []string{"a"}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Precision(tc.ranked, rel, tc.k); math.Abs(got-tc.want) > 1e-12 {
				t.Fatalf("Precision = %g, want %g", got, tc.want)
			}
		})
	}
}

func TestMeanStdErr(t *testing.T) {
	for _, tc := range []struct {
		name string
		xs   []float64
		want float64
	}{
		{"none", nil, 0},
		{"one", []float64{3}, 0},
		{"constant", []float64{2, 2, 2}, 0},
		// mean 0.5, sample variance 1/3, se = sqrt(1/3/4)
		{"coin", []float64{0, 1, 0, 1}, math.Sqrt(1.0 / 12)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := MeanStdErr(tc.xs); math.Abs(got-tc.want) > 1e-12 {
				t.Fatalf("MeanStdErr = %g, want %g", got, tc.want)
			}
		})
	}
}
