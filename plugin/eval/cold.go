package eval

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"github.com/neo-search/neo/index"
)

// HoldOut picks about frac of the items as new items for a cold-start
// run (`neo eval --train --cold F`): an item is new when a hash of the
// seed and its id falls under frac, so the choice depends on nothing but
// the id and does not change when other items come or go.
func HoldOut(ds *Dataset, frac float64, seed uint64) map[string]bool {
	out := map[string]bool{}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	for _, it := range ds.Items {
		sum := sha256.Sum256(append(b[:], it.ID...))
		if float64(binary.LittleEndian.Uint64(sum[:])>>11)/float64(1<<53) < frac {
			out[it.ID] = true
		}
	}
	return out
}

// Cold returns the data set as a cold-start run sees it: the items named
// in fresh were added after training, so every train interaction and train
// query that names one is gone (no model, baseline or prior learns from
// them). Valid and test records stay: they are what happened after the
// items arrived, and their targets may be new items.
func (ds *Dataset) Cold(fresh map[string]bool) *Dataset {
	out := *ds
	out.Interactions = nil
	for _, x := range ds.Interactions {
		if x.Split == index.SplitTrain && fresh[x.Item] {
			continue
		}
		out.Interactions = append(out.Interactions, x)
	}
	out.Queries = nil
	for _, q := range ds.Queries {
		if q.Split == index.SplitTrain && slices.ContainsFunc(q.Relevant, func(r index.Relevance) bool { return fresh[r.Item] }) {
			continue
		}
		out.Queries = append(out.Queries, q)
	}
	return &out
}

// ContentKNN recommends by the text of the history (prior.ContentIndex:
// TF-IDF cosine over item text, summed over the latest history items). It
// needs no interactions, so it can recommend an item nobody has seen,
// which itemknn cannot.
type ContentKNN struct {
	st *stats
}

// ContentKNN is the content kNN baseline over the kit's items (the same
// index as the content expert).
func (k *Kit) ContentKNN() *ContentKNN { return &ContentKNN{st: k.st} }

// Recommend implements Recommender.
func (c *ContentKNN) Recommend(_ context.Context, history []string, typ string, k int) ([]string, error) {
	st := c.st
	score := make([]float64, len(st.ids))
	touched := st.content().Scores(history, score)
	return st.topScored(score, touched, st.historySet(history), typ, k), nil
}
