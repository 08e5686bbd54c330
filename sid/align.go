package sid

import (
	"cmp"
	"math/rand/v2"
	"slices"
)

// typeRun is one type's quantizer output before its SIDs are numbered.
type typeRun struct {
	typ      string
	members  []int
	tq       *TypeQuantizer
	x        []float64
	codes    [][]int
	fallback int
}

// alignCodes relabels codes so that, level by level, code c of every type
// names the same taste: the codes that shoppers' sessions put together
// get the same number. Quantizers stay per type and the partition of each
// type is unchanged; only the code numbers move. Without it code 3 of a
// bracelet and code 3 of a handbag are unrelated, and a model must learn
// every cross-type pairing from data; with it, "the next item shares the
// history's codes" holds across types (shoppers move between types within
// one taste), which a decoder learns from few examples.
//
// Per level, each (type, code) gets a profile: how often its items sit
// near each other (type, code) in a session (within alignWindow
// positions). Profiles of all types live in one space; they are pooled
// and clustered into K reference centres, and each type's codes are
// matched one-to-one to the references, nearest pairs first. Then, for
// alignRounds rounds, each type in turn takes the numbering that agrees
// most with its session neighbours' current numbers. Types are aligned
// with the others of the same codebook size; a lone type, a catalog
// without sessions, or one with more than maxAlignNodes (type, code) pairs
// at a level is left as it is (the profiles are dense, nodes², and the
// pooled k-means runs in nodes² · K time).
func alignCodes(runs []*typeRun, sessions [][]int, nItems int, seed uint64) {
	if len(sessions) == 0 || len(runs) < 2 {
		return
	}
	runOf, posOf := make([]int, nItems), make([]int, nItems)
	for i := range runOf {
		runOf[i] = -1
	}
	for r, run := range runs {
		for p, i := range run.members {
			runOf[i], posOf[i] = r, p
		}
	}
	for l := range runs[0].tq.K {
		off := make([]int, len(runs)+1)
		for r, run := range runs {
			off[r+1] = off[r] + run.tq.K[l]
		}
		nodes := off[len(runs)]
		if nodes > maxAlignNodes {
			continue
		}
		node := func(i int) int {
			if r := runOf[i]; r >= 0 {
				return off[r] + runs[r].codes[posOf[i]][l]
			}
			return -1
		}
		prof := make([]float64, nodes*nodes)
		for _, s := range sessions {
			for p := range s {
				a := node(s[p])
				for q := p + 1; q < len(s) && q <= p+alignWindow; q++ {
					if b := node(s[q]); a >= 0 && b >= 0 {
						prof[a*nodes+b]++
						prof[b*nodes+a]++
					}
				}
			}
		}
		for n := range nodes {
			if v := norm(prof[n*nodes : (n+1)*nodes]); v > 0 {
				scale(1/v, prof[n*nodes:(n+1)*nodes])
			}
		}
		byK := map[int][]int{}
		var ks []int
		for r, run := range runs {
			k := run.tq.K[l]
			if byK[k] == nil {
				ks = append(ks, k)
			}
			byK[k] = append(byK[k], r)
		}
		for _, k := range ks {
			rs := byK[k]
			if len(rs) < 2 || k < 2 {
				continue
			}
			pooled := make([]float64, 0, len(rs)*k*nodes)
			for _, r := range rs {
				pooled = append(pooled, prof[off[r]*nodes:(off[r]+k)*nodes]...)
			}
			rng := rand.New(rand.NewPCG(seed, uint64(l)<<32|uint64(k)))
			ref, _ := kmeans(pooled, len(rs)*k, nodes, k, rng)
			label := map[int][]int{} // run → its codes' aligned numbers
			for _, r := range rs {
				own := prof[off[r]*nodes : (off[r]+k)*nodes]
				cost := make([]float64, k*k)
				for c := range k {
					for j := range k {
						cost[c*k+j] = sqDist(own[c*nodes:(c+1)*nodes], ref[j*nodes:(j+1)*nodes])
					}
				}
				label[r] = matchMin(cost, k)
			}
			// Refine: each type in turn takes the numbering that agrees
			// most with the session neighbours' current numbers.
			for range alignRounds {
				for _, r := range rs {
					score := make([]float64, k*k)
					for _, o := range rs {
						if o == r {
							continue
						}
						for c := range k {
							row := prof[(off[r]+c)*nodes:]
							for oc, lab := range label[o] {
								score[c*k+lab] -= row[off[o]+oc]
							}
						}
					}
					label[r] = matchMin(score, k)
				}
			}
			for _, r := range rs {
				runs[r].relabel(l, label[r])
			}
		}
	}
}

// Alignment knobs: session neighbours counted, refinement rounds, and the
// most (type, code) pairs per level aligned (1,024: e.g. 85 types of 12
// codes or 4 of 256; at the limit about a second and 8 MB of profiles).
const (
	alignWindow   = 3
	alignRounds   = 5
	maxAlignNodes = 1024
)

// relabel renames code c of level l to perm[c], moving its centroid row.
func (r *typeRun) relabel(l int, perm []int) {
	d := r.tq.Dim
	old := r.tq.Centroids[l]
	moved := make(F32s, len(old))
	for c, p := range perm {
		copy(moved[p*d:(p+1)*d], old[c*d:(c+1)*d])
	}
	r.tq.Centroids[l] = moved
	for _, cs := range r.codes {
		cs[l] = perm[cs[l]]
	}
}

// matchMin pairs each row i of the k×k cost matrix with a distinct
// column, cheapest pairs first (greedy; ties by index, so the result is
// deterministic), and returns row → column.
func matchMin(cost []float64, k int) []int {
	type pair struct {
		cost float64
		i, j int
	}
	pairs := make([]pair, 0, k*k)
	for i := range k {
		for j := range k {
			pairs = append(pairs, pair{cost[i*k+j], i, j})
		}
	}
	slices.SortFunc(pairs, func(x, y pair) int {
		return cmp.Or(cmp.Compare(x.cost, y.cost), cmp.Compare(x.i, y.i), cmp.Compare(x.j, y.j))
	})
	perm := make([]int, k)
	usedA, usedB := make([]bool, k), make([]bool, k)
	for _, p := range pairs {
		if !usedA[p.i] && !usedB[p.j] {
			perm[p.i] = p.j
			usedA[p.i], usedB[p.j] = true, true
		}
	}
	return perm
}

// crossTypeAgreement is, per semantic level, the share of neighbouring
// session items of different types whose SIDs have the same code there;
// nil when no such pair exists.
func crossTypeAgreement(sids []SID, sessions [][]int, levels int) []float64 {
	same := make([]int, levels)
	n := 0
	for _, s := range sessions {
		for p := 1; p < len(s); p++ {
			x, y := sids[s[p-1]], sids[s[p]]
			if x.Type == y.Type {
				continue
			}
			n++
			for l := range levels {
				if x.Codes[l] == y.Codes[l] {
					same[l]++
				}
			}
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]float64, levels)
	for l, c := range same {
		out[l] = float64(c) / float64(n)
	}
	return out
}
