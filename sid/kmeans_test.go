package sid

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestCodebookSize(t *testing.T) {
	tests := []struct {
		n, levels, maxK, want int
	}{
		{1, 3, 256, 1},
		{2, 3, 256, 2},
		{5, 3, 256, 3},
		{300, 3, 256, 11},
		{3000, 3, 256, 22},
		{9742, 3, 256, 33},
		{1000000, 3, 256, 150},
		{1000000, 2, 256, 256},
		{1000000, 3, 64, 64},
		{100, 1, 256, 100},
	}
	for _, tt := range tests {
		if got := CodebookSize(tt.n, tt.levels, tt.maxK); got != tt.want {
			t.Errorf("CodebookSize(%d, %d, %d) = %d, want %d", tt.n, tt.levels, tt.maxK, got, tt.want)
		}
	}
}

// blobs returns n points in d dimensions around `centers` well separated
// centres, and each point's true centre.
func blobs(rng *rand.Rand, n, d, centers int, spread float64) ([]float64, []int) {
	ctr := make([]float64, centers*d)
	for i := range ctr {
		ctr[i] = 10 * rng.NormFloat64()
	}
	x := make([]float64, n*d)
	truth := make([]int, n)
	for i := range n {
		c := i % centers
		truth[i] = c
		for j := range d {
			x[i*d+j] = ctr[c*d+j] + spread*rng.NormFloat64()
		}
	}
	return x, truth
}

func TestKMeans(t *testing.T) {
	tests := []struct {
		name       string
		n, d, k    int
		duplicates bool
	}{
		{"blobs", 400, 8, 5, false},
		{"k equals n", 6, 3, 6, false},
		{"duplicate points", 30, 4, 5, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			x, truth := blobs(rng, tt.n, tt.d, tt.k, 0.5)
			if tt.duplicates {
				// Only two distinct points: most centroids coincide and
				// clusters go empty; k-means must still terminate sanely.
				for i := range tt.n {
					copy(x[i*tt.d:(i+1)*tt.d], x[(i%2)*tt.d:(i%2+1)*tt.d])
				}
			}
			cent, assign := kmeans(x, tt.n, tt.d, tt.k, rand.New(rand.NewPCG(9, 9)))
			cent2, assign2 := kmeans(x, tt.n, tt.d, tt.k, rand.New(rand.NewPCG(9, 9)))
			if !slices.Equal(cent, cent2) || !slices.Equal(assign, assign2) {
				t.Fatal("not deterministic")
			}
			for i, c := range assign {
				if c < 0 || c >= tt.k {
					t.Fatalf("point %d assigned to %d", i, c)
				}
				if want, _ := nearest(x[i*tt.d:(i+1)*tt.d], cent, tt.k, tt.d); want != c {
					t.Fatalf("point %d assigned to %d, nearest is %d", i, c, want)
				}
			}
			if tt.duplicates {
				return
			}
			// Well-separated blobs: clusters match the truth up to renaming.
			m := map[int]int{}
			for i, c := range assign {
				if prev, ok := m[truth[i]]; ok && prev != c {
					t.Fatalf("true cluster %d split over codes %d and %d", truth[i], prev, c)
				}
				m[truth[i]] = c
			}
			if len(m) != tt.k {
				t.Errorf("found %d clusters, want %d", len(m), tt.k)
			}
		})
	}
}

func TestBalancedAssign(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const d, k = 4, 6
	cent := make([]float64, k*d)
	for i := range cent {
		cent[i] = rng.NormFloat64()
	}
	tests := []struct {
		name     string
		g        int
		capacity int
		spread   bool
	}{
		{"single", 1, 1, true},
		{"fewer than k", 5, 1, true},
		{"exactly k", 6, 1, true},
		{"more than k", 20, 4, true},
		{"capped greedy", 20, 7, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// All members sit near centroid 0, the worst case for balance.
			res := make([]float64, tt.g*d)
			members := make([]int, tt.g)
			for i := range members {
				members[i] = i
				for j := range d {
					res[i*d+j] = cent[j] + 0.01*rng.NormFloat64()
				}
			}
			codes := balancedAssign(res, d, members, cent, k, tt.capacity, tt.spread)
			used := make([]int, k)
			for _, c := range codes {
				used[c]++
			}
			for c, u := range used {
				if u > tt.capacity {
					t.Errorf("code %d used %d times, capacity %d", c, u, tt.capacity)
				}
			}
			if tt.spread {
				// Every code is used before any is reused.
				distinct := 0
				for _, u := range used {
					if u > 0 {
						distinct++
					}
				}
				if want := min(tt.g, k); distinct != want {
					t.Errorf("%d distinct codes, want %d (used %v)", distinct, want, used)
				}
			}
			if tt.g == 1 && codes[0] != 0 {
				t.Errorf("single member: code %d, want nearest 0", codes[0])
			}
		})
	}
}

func TestTrainResidual(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	const n, d, levels = 500, 6, 3
	x, truth := blobs(rng, n, d, 8, 1)
	k := CodebookSize(n, levels, 256)
	books, codes := trainResidual(x, n, d, levels, k, rand.New(rand.NewPCG(1, 1)), nil)
	if len(books) != levels || len(books[0]) != k*d {
		t.Fatalf("%d codebooks of %d floats", len(books), len(books[0]))
	}
	// Level 0 follows the blobs: items of one blob share few level-0 codes.
	perBlob := map[int]map[int]bool{}
	for i, c := range codes {
		if perBlob[truth[i]] == nil {
			perBlob[truth[i]] = map[int]bool{}
		}
		perBlob[truth[i]][c[0]] = true
	}
	for b, cs := range perBlob {
		if len(cs) > 3 {
			t.Errorf("blob %d spread over %d level-0 codes", b, len(cs))
		}
	}
	// Full codes are almost all unique (balanced last level).
	groups := groupBy(n, func(i int) []int { return codes[i] })
	if coll := n - len(groups); coll > n/20 {
		t.Errorf("%d of %d items collide", coll, n)
	}
}
