package prior

import (
	"cmp"
	"slices"
)

// RRFK is the k of reciprocal rank fusion: an item at rank r (from 1) of a
// list adds 1/(RRFK + r). 60 is the value of Cormack et al., not tuned.
const RRFK = 60

// RRFDepth is how many items of each list reciprocal rank fusion reads.
const RRFDepth = 100

// RRFMembers are the experts whose rankings the rrf expert fuses for a
// task: the members of the baseline-only fusions, bm25 and popularity for
// search, itemknn, seqknn and popularity otherwise. Each member's list is
// its own hits that the request can emit (not the baselines' lists, which
// are filled up with popular items to RRFDepth). As a prior inside the
// beam, rrf is a mixture (a union of the lists) where the other experts
// are a product (an item one expert misses keeps only the smoothing share):
// the product favours items every expert likes, the mixture does not punish
// an item that one list lacks.
func RRFMembers(task string) []string {
	if task == "search" {
		return []string{BM25, Popularity}
	}
	return []string{ItemKNN, SeqKNN, Popularity}
}

// Ranked is the ids of hits, best score first (ties by id, so that the
// order does not depend on the expert's), at most depth of them. The
// caller leaves out what the request cannot emit first, so that ranks
// count only items it can.
func Ranked(hits []Hit, depth int) []string {
	hs := slices.Clone(hits)
	slices.SortFunc(hs, func(a, b Hit) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	out := make([]string, 0, min(depth, len(hs)))
	for _, h := range hs {
		if len(out) == depth {
			break
		}
		if h.Score > 0 {
			out = append(out, h.ID)
		}
	}
	return out
}

// ReciprocalRank fuses ranked lists: an id's score is Σ 1/(RRFK + r) over
// the lists it appears in at rank r (from 1). Best first, ties by first
// appearance.
func ReciprocalRank(lists [][]string) []Hit {
	at := map[string]int{}
	var out []Hit
	for _, l := range lists {
		for r, id := range l {
			i, ok := at[id]
			if !ok {
				i = len(out)
				at[id] = i
				out = append(out, Hit{ID: id})
			}
			out[i].Score += 1 / float64(RRFK+r+1)
		}
	}
	slices.SortStableFunc(out, func(a, b Hit) int { return cmp.Compare(b.Score, a.Score) })
	return out
}
