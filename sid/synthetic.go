package sid

import (
	"math/rand"
)

// SyntheticKeys makes n unique keys for benchmarks: types types, levels
// semantic levels of k codes, then a collision level. Codes share prefixes
// the way residual k-means codes do: the first two levels are skewed
// (Zipf), with each parent permuting its children's popularity, and the last
// level is spread evenly, as balanced assignment makes it. Collision codes
// number items that share all semantic codes.
func SyntheticKeys(n, types, levels, k int, seed int64) Keys {
	w := levels + 2
	r := rand.New(rand.NewSource(seed))
	zt := rand.NewZipf(r, 1.1, 4, uint64(types-1))
	zk := rand.NewZipf(r, 1.05, 8, uint64(k-1))
	data := make([]uint16, n*w)
	for i := 0; i < n; i++ {
		row := data[i*w : (i+1)*w]
		row[0] = uint16(zt.Uint64())
		h := uint64(row[0])*0x9e3779b97f4a7c15 + 1
		for l := 1; l <= levels; l++ {
			var c uint64
			if l < levels && l <= 2 {
				c = (zk.Uint64() + h) % uint64(k) // parent-dependent popularity
			} else {
				c = uint64(r.Intn(k))
			}
			row[l] = uint16(c)
			h = (h ^ c) * 0x9e3779b97f4a7c15
		}
	}
	keys := Keys{Width: w, Data: data}
	// collision codes: count equal semantic prefixes in sorted order
	perm := radixSort(keys)
	for i := 1; i < len(perm); i++ {
		a := data[int(perm[i-1])*w : int(perm[i-1])*w+w]
		b := data[int(perm[i])*w : int(perm[i])*w+w]
		same := true
		for j := 0; j < w-1; j++ {
			if a[j] != b[j] {
				same = false
				break
			}
		}
		if same {
			b[w-1] = a[w-1] + 1
		}
	}
	return keys
}
