package stats

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		q    float64
		want float64
	}{
		{"empty", nil, 0.5, 0},
		{"one", []float64{3}, 0.99, 3},
		{"median odd", []float64{5, 1, 3}, 0.5, 3},
		{"median even", []float64{4, 1, 3, 2}, 0.5, 2},
		{"p99 of 100", func() []float64 {
			xs := make([]float64, 100)
			for i := range xs {
				xs[i] = float64(100 - i)
			}
			return xs
		}(), 0.99, 99},
		{"p99 of 200", func() []float64 {
			xs := make([]float64, 200)
			for i := range xs {
				xs[i] = float64(200 - i)
			}
			return xs
		}(), 0.99, 198},
		{"max", []float64{1, 2, 3}, 1, 3},
		{"min", []float64{2, 1, 3}, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]float64(nil), tc.xs...)
			if got := Percentile(tc.xs, tc.q); got != tc.want {
				t.Fatalf("Percentile(%v, %v) = %v, want %v", in, tc.q, got, tc.want)
			}
			for i := range in {
				if in[i] != tc.xs[i] {
					t.Fatal("Percentile modified its input")
				}
			}
		})
	}
	if got := Durations([]time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond}, 0.5); got != 2e6 {
		t.Fatalf("Durations median = %v, want 2e6", got)
	}
}
