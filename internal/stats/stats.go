// Package stats holds the summary statistics the evaluation and the
// benchmarks share.
package stats

import (
	"math"
	"slices"
	"time"
)

// Percentile is the q-quantile (0 ≤ q ≤ 1) of xs by nearest rank: the
// smallest x with at least q·len(xs) values ≤ x. xs is not modified; 0 for
// no values.
func Percentile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// Durations is Percentile of durations, in nanoseconds.
func Durations(ds []time.Duration, q float64) float64 {
	xs := make([]float64, len(ds))
	for i, d := range ds {
		xs[i] = float64(d.Nanoseconds())
	}
	return Percentile(xs, q)
}
