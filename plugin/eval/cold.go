package eval

import (
	"context"
	"crypto/sha256"
	"encoding/binary"

	"github.com/neo-search/neo/index/folder"
)

// HoldOut picks about frac of the items as new items for a cold-start
// run (`neo eval --train --cold F`): an item is new when a hash of the
// seed and its id falls under frac, so the choice depends on nothing but
// the id and does not change when other items come or go.
func HoldOut(ds *folder.Folder, frac float64, seed uint64) map[string]bool {
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
