package sid

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
)

// Default SID scheme parameters.
const (
	DefaultLevels      = 3
	DefaultMaxCodebook = 256
	DefaultDim         = 64
	DefaultCoocWeight  = 0.5
)

// CodebookSize is the number of codes per semantic level for a type of n
// items:
//
//	K = min(maxK, n, max(2, ceil(1.5 · n^(1/levels))))
//
// so that K^levels ≈ 3.4·n: room enough for most items to get their own
// semantic codes (the balanced last level does the rest), while each code
// still covers several items and so carries shared meaning. Examples for 3
// levels: 300 items → 11, 3,000 → 22, 10,000 → 33, 1M → 150.
func CodebookSize(n, levels, maxK int) int {
	if levels < 1 {
		levels = 1
	}
	if maxK <= 0 {
		maxK = DefaultMaxCodebook
	}
	k := int(math.Ceil(1.5 * math.Pow(float64(n), 1/float64(levels))))
	return max(1, min(maxK, n, max(2, k)))
}

// k-means stopping rule: at most kmeansMaxIter Lloyd iterations, or stop
// when the inertia improves by less than kmeansTol (relative).
const (
	kmeansMaxIter = 50
	kmeansTol     = 1e-4
)

func sqDist(a, b []float64) float64 {
	s := 0.0
	for i, x := range a {
		d := x - b[i]
		s += d * d
	}
	return s
}

// nearest returns the index of the centroid closest to v (lowest index on
// ties) and its squared distance.
func nearest(v, cent []float64, k, d int) (int, float64) {
	best, bd := 0, math.Inf(1)
	for c := 0; c < k; c++ {
		if dd := sqDist(v, cent[c*d:(c+1)*d]); dd < bd {
			best, bd = c, dd
		}
	}
	return best, bd
}

// kmeans clusters the n rows of x (row-major, d columns) into k groups:
// k-means++ seeding, then Lloyd iterations. An empty cluster is re-seeded
// with the point farthest from its centroid, so all k codes stay in use
// while there are enough distinct points. It returns the centroids and each
// row's nearest centroid.
func kmeans(x []float64, n, d, k int, rng *rand.Rand) (cent []float64, assign []int) {
	cent = make([]float64, k*d)
	dist := make([]float64, n)
	// k-means++: each next centre drawn with probability ∝ squared distance
	// to the nearest centre chosen so far.
	first := rng.IntN(n)
	copy(cent[:d], x[first*d:(first+1)*d])
	for i := range n {
		dist[i] = sqDist(x[i*d:(i+1)*d], cent[:d])
	}
	for c := 1; c < k; c++ {
		total := 0.0
		for _, v := range dist {
			total += v
		}
		pick := -1
		if total <= 0 {
			pick = rng.IntN(n) // all points coincide with centres
		} else {
			r, acc := rng.Float64()*total, 0.0
			for i, v := range dist {
				if v <= 0 {
					continue
				}
				pick = i // the last positive one if rounding leaves acc < r
				if acc += v; acc >= r {
					break
				}
			}
		}
		cc := cent[c*d : (c+1)*d]
		copy(cc, x[pick*d:(pick+1)*d])
		for i := range n {
			if dd := sqDist(x[i*d:(i+1)*d], cc); dd < dist[i] {
				dist[i] = dd
			}
		}
	}

	assign = make([]int, n)
	for i := range assign {
		assign[i] = -1
	}
	counts := make([]int, k)
	prev := math.Inf(1)
	for it := 0; ; it++ {
		inertia, changed := 0.0, 0
		for i := range n {
			c, dd := nearest(x[i*d:(i+1)*d], cent, k, d)
			if c != assign[i] {
				changed++
			}
			assign[i], dist[i] = c, dd
			inertia += dd
		}
		if changed == 0 || it >= kmeansMaxIter || prev-inertia <= kmeansTol*prev {
			return cent, assign
		}
		prev = inertia
		clear(cent)
		clear(counts)
		for i, c := range assign {
			counts[c]++
			axpy(1, x[i*d:(i+1)*d], cent[c*d:(c+1)*d])
		}
		var empty []int
		for c, m := range counts {
			if m == 0 {
				empty = append(empty, c)
			} else {
				scale(1/float64(m), cent[c*d:(c+1)*d])
			}
		}
		if len(empty) > 0 {
			far := make([]int, n)
			for i := range far {
				far[i] = i
			}
			slices.SortFunc(far, func(a, b int) int {
				if c := cmp.Compare(dist[b], dist[a]); c != 0 {
					return c
				}
				return a - b
			})
			for e, c := range empty {
				p := far[e%n]
				copy(cent[c*d:(c+1)*d], x[p*d:(p+1)*d])
			}
		}
	}
}

// roundF32 rounds v to float32 precision in place and returns the float32
// copy: centroids are stored as float32, and codes are computed from the
// stored values so that re-coding an item later gives the same codes.
func roundF32(v []float64) F32s {
	out := make(F32s, len(v))
	for i, f := range v {
		out[i] = float32(f)
		v[i] = float64(out[i])
	}
	return out
}

// trainResidual trains a residual quantizer with `levels` codebooks of k
// codes on the n rows of x (d columns) and returns the codebooks and each
// row's codes. Level l clusters what levels 0..l-1 left unexplained. The
// last level is assigned balanced within each group of rows sharing the
// codes of the levels before it (see balancedAssign), which keeps items
// that need a collision code rare.
func trainResidual(x []float64, n, d, levels, k int, rng *rand.Rand, step func()) (books []F32s, codes [][]int) {
	res := slices.Clone(x)
	codes = make([][]int, n)
	for i := range codes {
		codes[i] = make([]int, levels)
	}
	for l := range levels {
		cent := trainCodebook(res, n, d, k, rng)
		books = append(books, roundF32(cent))
		last := l == levels-1
		for _, g := range groupBy(n, func(i int) []int { return codes[i][:l] }) {
			// Upper levels: a code may take up to balanceSlack times its
			// fair share of the group, so natural clusters keep most of
			// their shape but no code swallows a pile of near-duplicates.
			capacity := (balanceSlack*len(g) + k - 1) / k
			if last {
				capacity = (len(g) + k - 1) / k
			}
			for p, c := range balancedAssign(res, d, g, cent, k, capacity, last) {
				it := g[p]
				codes[it][l] = c
				axpy(-1, cent[c*d:(c+1)*d], res[it*d:(it+1)*d])
			}
		}
		if step != nil {
			step()
		}
	}
	return books, codes
}

// maxPointsPerCentroid caps the k-means training sample: past it more
// points barely move the centroids but cost linear time (the same rule as
// faiss). Every point is still assigned.
const maxPointsPerCentroid = 256

// trainCodebook runs k-means on the rows of x, or on a random sample of
// maxPointsPerCentroid·k rows when there are more.
func trainCodebook(x []float64, n, d, k int, rng *rand.Rand) []float64 {
	m := maxPointsPerCentroid * k
	if n <= m {
		cent, _ := kmeans(x, n, d, k, rng)
		return cent
	}
	perm := rng.Perm(n)[:m]
	slices.Sort(perm)
	sample := make([]float64, 0, m*d)
	for _, i := range perm {
		sample = append(sample, x[i*d:(i+1)*d]...)
	}
	cent, _ := kmeans(sample, m, d, k, rng)
	return cent
}

// groupBy groups 0..n-1 by key, groups in order of first appearance and
// members in increasing order.
func groupBy(n int, key func(i int) []int) [][]int {
	idx := map[string]int{}
	var groups [][]int
	var buf []byte
	for i := range n {
		buf = buf[:0]
		for _, c := range key(i) {
			buf = append(buf, byte(c>>8), byte(c))
		}
		g, ok := idx[string(buf)]
		if !ok {
			g = len(groups)
			idx[string(buf)] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// balanceSlack is how many times its fair share of a parent group one code
// may take at the levels above the last.
const balanceSlack = 2

// balancedAssign gives each member row of res one of the k centroids, no
// code more than capacity times, greedily over all (member, centroid) pairs
// sorted by distance, nearest first. With spread set it runs in rounds: in
// round r a code may take its r-th member, so every code is used once
// before any is used twice. On the last level (capacity ceil(group/k)) a
// group of at most k members thus gets distinct codes, and a larger group
// the fewest collisions possible.
func balancedAssign(res []float64, d int, members []int, cent []float64, k, capacity int, spread bool) []int {
	out := make([]int, len(members))
	if len(members) == 1 {
		out[0], _ = nearest(res[members[0]*d:(members[0]+1)*d], cent, k, d)
		return out
	}
	type pair struct {
		dist float64
		m, c int32
	}
	pairs := make([]pair, 0, len(members)*k)
	for m, it := range members {
		r := res[it*d : (it+1)*d]
		for c := range k {
			pairs = append(pairs, pair{sqDist(r, cent[c*d:(c+1)*d]), int32(m), int32(c)})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := cmp.Compare(a.dist, b.dist); c != 0 {
			return c
		}
		if a.m != b.m {
			return int(a.m - b.m)
		}
		return int(a.c - b.c)
	})
	used := make([]int, k)
	done := make([]bool, len(members))
	left := len(members)
	round := capacity
	if spread {
		round = 1
	}
	for ; left > 0; round++ {
		for _, p := range pairs {
			if !done[p.m] && used[p.c] < round {
				out[p.m] = int(p.c)
				done[p.m] = true
				used[p.c]++
				if left--; left == 0 {
					break
				}
			}
		}
	}
	return out
}

// quantize returns the nearest-centroid codes of v through the residual
// codebooks (no balancing: used for items added after assignment).
func quantize(v []float64, books []F32s, k []int, d int) []int {
	r := slices.Clone(v)
	codes := make([]int, len(books))
	cent := make([]float64, 0)
	for l, b := range books {
		cent = cent[:0]
		for _, f := range b {
			cent = append(cent, float64(f))
		}
		c, _ := nearest(r, cent, k[l], d)
		codes[l] = c
		axpy(-1, cent[c*d:(c+1)*d], r)
	}
	return codes
}
