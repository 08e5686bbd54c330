package eval

import (
	"math"
	"slices"
	"sort"
)

// HitRate is 1 when one of the first k ids of ranked is relevant (grade >
// 0), else 0 (HR@k).
func HitRate(ranked []string, relevant map[string]int, k int) float64 {
	for i, id := range ranked {
		if i >= k {
			break
		}
		if relevant[id] > 0 {
			return 1
		}
	}
	return 0
}

// gain is the graded gain 2^grade - 1.
func gain(grade int) float64 {
	if grade <= 0 {
		return 0
	}
	return math.Exp2(float64(grade)) - 1
}

// NDCG is NDCG@k with graded gain 2^grade-1 and discount 1/log2(rank+1);
// the ideal DCG orders the relevant set by grade. Repeated ids in ranked
// count once (at their first position). 0 when nothing is relevant.
func NDCG(ranked []string, relevant map[string]int, k int) float64 {
	grades := make([]int, 0, len(relevant))
	for _, g := range relevant {
		if g > 0 {
			grades = append(grades, g)
		}
	}
	if len(grades) == 0 || k <= 0 {
		return 0
	}
	sort.Sort(sort.Reverse(sort.IntSlice(grades)))
	var ideal float64
	for i, g := range grades {
		if i >= k {
			break
		}
		ideal += gain(g) / math.Log2(float64(i+2))
	}
	var dcg float64
	seen := make(map[string]bool, k)
	for i, id := range ranked {
		if i >= k {
			break
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		dcg += gain(relevant[id]) / math.Log2(float64(i+2))
	}
	return dcg / ideal
}

// Precision is the share of the first k places of ranked that hold a
// relevant item (grade > 0), counting a repeated id once (P@k).
func Precision(ranked []string, relevant map[string]int, k int) float64 {
	if k <= 0 {
		return 0
	}
	hits := 0
	for i, id := range ranked {
		if i >= k {
			break
		}
		if relevant[id] > 0 && !slices.Contains(ranked[:i], id) {
			hits++
		}
	}
	return float64(hits) / float64(k)
}

// MeanStdErr is the standard error of the mean of xs, s/sqrt(n) with the
// sample standard deviation s; 0 for fewer than two values.
func MeanStdErr(xs []float64) float64 {
	n := len(xs)
	if n < 2 {
		return 0
	}
	var mean float64
	for _, x := range xs {
		mean += x
	}
	mean /= float64(n)
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return math.Sqrt(ss / float64(n-1) / float64(n))
}

// StdErr is the standard error of a proportion p over n trials,
// sqrt(p(1-p)/n); 0 when n is 0.
func StdErr(p float64, n int) float64 {
	if n <= 0 {
		return 0
	}
	return math.Sqrt(p * (1 - p) / float64(n))
}
