package eval

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/index/assign"
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

// contentLast is how many of the latest distinct history items the
// content kNN baseline sums over, as itemknn does (prior.CF.LastN).
const contentLast = 20

// ContentKNN recommends by the text of the history: the cosine of TF-IDF
// vectors of item text (title, description, brand, attribute values),
// summed over the latest contentLast history items with weight 1/(1+age).
// It needs no interactions, so it can recommend an item nobody has seen,
// which itemknn cannot; it is the cold-start run's recommendation
// baseline.
type ContentKNN struct {
	st   *stats
	once sync.Once
	vec  [][]posting // per item, L2-normalised
	inv  map[int32][]posting
}

type posting struct {
	id int32 // a term's id in vec, an item's ordinal in inv
	w  float64
}

// ContentKNN is the content kNN baseline over the kit's items.
func (k *Kit) ContentKNN() *ContentKNN { return &ContentKNN{st: k.st} }

func (c *ContentKNN) build() {
	terms := map[string]int32{}
	df := map[int32]int{}
	counts := make([]map[int32]int, len(c.st.ds.Items))
	for i, it := range c.st.ds.Items {
		tf := map[int32]int{}
		for _, w := range strings.FieldsFunc(strings.ToLower(assign.ItemText(it)), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			t, ok := terms[w]
			if !ok {
				t = int32(len(terms))
				terms[w] = t
			}
			if tf[t] == 0 {
				df[t]++
			}
			tf[t]++
		}
		counts[i] = tf
	}
	n := float64(len(counts))
	c.vec = make([][]posting, len(counts))
	c.inv = map[int32][]posting{}
	for i, tf := range counts {
		var v []posting
		norm := 0.0
		for t, f := range tf {
			w := (1 + math.Log(float64(f))) * math.Log(1+n/float64(df[t]))
			v = append(v, posting{t, w})
			norm += w * w
		}
		slices.SortFunc(v, func(a, b posting) int { return int(a.id - b.id) })
		for j := range v {
			v[j].w /= math.Sqrt(norm)
			c.inv[v[j].id] = append(c.inv[v[j].id], posting{int32(i), v[j].w})
		}
		c.vec[i] = v
	}
}

// Recommend implements Recommender.
func (c *ContentKNN) Recommend(_ context.Context, history []string, typ string, k int) ([]string, error) {
	c.once.Do(c.build)
	st := c.st
	q := map[int32]float64{}
	seen := map[int32]bool{}
	for i, age := len(history)-1, 0; i >= 0 && age < contentLast; i-- {
		o, ok := st.ord[history[i]]
		if !ok || seen[o] {
			continue
		}
		seen[o] = true
		for _, p := range c.vec[o] {
			q[p.id] += p.w / float64(1+age)
		}
		age++
	}
	score := make([]float64, len(st.ids))
	var touched []int32
	for t, qw := range q {
		for _, p := range c.inv[t] {
			if score[p.id] == 0 {
				touched = append(touched, p.id)
			}
			score[p.id] += qw * p.w
		}
	}
	slices.Sort(touched)
	return st.topScored(score, touched, st.historySet(history), typ, k), nil
}
