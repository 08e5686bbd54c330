package prior

import (
	"context"
	"math"
	"slices"
	"strings"
	"unicode"
)

// contentLast is how many of the latest distinct history items the content
// scores sum over, as itemknn does.
const contentLast = 20

// ContentIndex scores items by their text: the cosine of TF-IDF vectors (log
// term frequency, smoothed inverse document frequency, L2-normalised),
// summed over the latest contentLast distinct history items with weight
// 1/(1+age). It needs no interactions, so it can score an item nobody has
// seen; it is the contentknn baseline and the content expert.
type ContentIndex struct {
	ids []string
	ord map[string]int32
	vec [][]posting // per item
	inv [][]posting // per term: the items holding it
}

type posting struct {
	id int32 // a term in vec, an item in inv
	w  float64
}

// NewContent indexes the texts of the items ids (texts[i] is ids[i]'s).
func NewContent(ids, texts []string) *ContentIndex {
	c := &ContentIndex{ids: ids, ord: make(map[string]int32, len(ids)), vec: make([][]posting, len(ids))}
	terms := map[string]int32{}
	var df []int
	counts := make([]map[int32]int, len(ids))
	for i, text := range texts {
		c.ord[ids[i]] = int32(i)
		tf := map[int32]int{}
		for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			t, ok := terms[w]
			if !ok {
				t = int32(len(terms))
				terms[w] = t
				df = append(df, 0)
			}
			if tf[t] == 0 {
				df[t]++
			}
			tf[t]++
		}
		counts[i] = tf
	}
	n := float64(len(ids))
	c.inv = make([][]posting, len(terms))
	for i, tf := range counts {
		v := make([]posting, 0, len(tf))
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
	return c
}

// Scores adds each item's content score for history (ids, oldest first)
// into score (len(ids) of NewContent) and returns the items it touched, in
// increasing order.
func (c *ContentIndex) Scores(history []string, score []float64) []int32 {
	q := map[int32]float64{}
	seen := map[int32]bool{}
	for i, age := len(history)-1, 0; i >= 0 && age < contentLast; i-- {
		o, ok := c.ord[history[i]]
		if !ok || seen[o] {
			continue
		}
		seen[o] = true
		for _, p := range c.vec[o] {
			q[p.id] += p.w / float64(1+age)
		}
		age++
	}
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
	return touched
}

// Expert scores a query's history by content (nothing to say without a
// history); its hits are the MaxHits best.
func (c *ContentIndex) Expert() Expert {
	return ExpertFunc(func(_ context.Context, q Query) ([]Hit, error) {
		if len(q.History) == 0 {
			return nil, nil
		}
		score := make([]float64, len(c.ids))
		touched := c.Scores(q.History, score)
		cand := touched[:0:0]
		for _, i := range touched {
			if score[i] > 0 {
				cand = append(cand, i)
			}
		}
		if len(cand) > MaxHits {
			slices.SortFunc(cand, func(a, b int32) int {
				if score[a] != score[b] {
					if score[a] > score[b] {
						return -1
					}
					return 1
				}
				return int(a - b)
			})
			cand = cand[:MaxHits]
		}
		out := make([]Hit, len(cand))
		for k, i := range cand {
			out[k] = Hit{ID: c.ids[i], Score: score[i]}
		}
		return out, nil
	})
}
