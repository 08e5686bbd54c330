package prior

import (
	"cmp"
	"context"
	"math"
	"slices"

	"github.com/neo-search/neo/index/folder"
)

// CF holds the collaborative statistics of an interaction log: which users
// touched each item (item-kNN), which items followed each item within a
// short window (sequential kNN) and how often each item occurs
// (popularity). It is the one owner of these statistics: the evaluation's
// itemknn, seqknn and popularity baselines and the engine's experts of the
// same names all read them, so a baseline and the prior it becomes in the
// beam are the same numbers. Read-only after NewCF; safe for concurrent use.
type CF struct {
	ids       []string
	ord       map[string]int32
	userItems [][]int32 // per user, distinct items in first-seen order
	itemUsers [][]int32 // per item, distinct users
	next      []map[int32]float64
	count     []float64

	// LastN is how many distinct recent history items item-kNN sums over.
	LastN int
	// Window: b following a within Window positions counts once for a→b.
	Window int
	// HistoryN is how many recent history items sequential kNN weighs
	// (1/p for the p-th most recent).
	HistoryN int
}

// NewCF builds the statistics over the items ids (dense index = position)
// from sequences: each user's items in time order, as indexes into ids.
func NewCF(ids []string, seqs [][]int32) *CF {
	n := len(ids)
	c := &CF{ids: ids, ord: make(map[string]int32, n), itemUsers: make([][]int32, n),
		next: make([]map[int32]float64, n), count: make([]float64, n), LastN: 5, Window: 3, HistoryN: 20}
	for i, id := range ids {
		c.ord[id] = int32(i)
	}
	for u, seq := range seqs {
		seen := map[int32]bool{}
		var items []int32
		for a, x := range seq {
			c.count[x]++
			if !seen[x] {
				seen[x] = true
				items = append(items, x)
				c.itemUsers[x] = append(c.itemUsers[x], int32(u))
			}
			for b := a + 1; b < len(seq) && b <= a+c.Window; b++ {
				y := seq[b]
				if x == y {
					continue
				}
				if c.next[x] == nil {
					c.next[x] = map[int32]float64{}
				}
				c.next[x][y]++
			}
		}
		c.userItems = append(c.userItems, items)
	}
	return c
}

// Len is the number of items.
func (c *CF) Len() int { return len(c.ids) }

// ID is item i's id.
func (c *CF) ID(i int32) string { return c.ids[i] }

// Index is the dense index of an item id.
func (c *CF) Index(id string) (int32, bool) {
	i, ok := c.ord[id]
	return i, ok
}

// Count is how often item i occurs in the log.
func (c *CF) Count(i int32) float64 { return c.count[i] }

// lastDistinct returns up to n distinct known history items, most recent
// first.
func (c *CF) lastDistinct(history []string, n int) []int32 {
	var out []int32
	for j := len(history) - 1; j >= 0 && len(out) < n; j-- {
		i, ok := c.ord[history[j]]
		if ok && !slices.Contains(out, i) {
			out = append(out, i)
		}
	}
	return out
}

// ItemKNNScores adds to score (len Len()) each candidate's item-item cosine
// similarity of user sets, summed over the last LastN distinct history
// items, and returns the candidates it touched (score > 0 can still be 0
// for none). History items may score too; callers exclude them.
func (c *CF) ItemKNNScores(ctx context.Context, history []string, score []float64) ([]int32, error) {
	cnt := make([]float64, len(c.ids))
	var touched []int32
	for _, h := range c.lastDistinct(history, c.LastN) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		nh := float64(len(c.itemUsers[h]))
		if nh == 0 {
			continue
		}
		var local []int32
		for _, u := range c.itemUsers[h] {
			for _, x := range c.userItems[u] {
				if cnt[x] == 0 {
					local = append(local, x)
				}
				cnt[x]++
			}
		}
		for _, x := range local {
			if x != h {
				if score[x] == 0 {
					touched = append(touched, x)
				}
				score[x] += cnt[x] / math.Sqrt(nh*float64(len(c.itemUsers[x])))
			}
			cnt[x] = 0
		}
	}
	return touched, nil
}

// SeqKNNScores adds to score each candidate's ordered co-occurrence count
// after the last HistoryN known history items, the p-th most recent
// weighted 1/p, and returns the candidates it touched. Raw counts, not
// cosine: normalising by sqrt(out·in) favours rare items and cut HR@10 on
// the MovieLens valid split from 0.13 to 0.09.
func (c *CF) SeqKNNScores(ctx context.Context, history []string, score []float64) ([]int32, error) {
	var touched []int32
	p := 0
	for j := len(history) - 1; j >= 0 && p < c.HistoryN; j-- {
		h, ok := c.ord[history[j]]
		if !ok {
			continue
		}
		p++
		w := 1 / float64(p)
		for x, v := range c.next[h] {
			if score[x] == 0 {
				touched = append(touched, x)
			}
			score[x] += w * v
		}
	}
	return touched, ctx.Err()
}

// MaxHits caps the hits an expert hands the engine: the best ones by score.
const MaxHits = 2000

// hitsOf turns a dense score array into at most MaxHits hits, best first.
func (c *CF) hitsOf(score []float64, touched []int32) []Hit {
	cand := make([]int32, 0, len(touched))
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
	return out
}

// ItemKNNExpert scores a query's history with item-kNN.
func (c *CF) ItemKNNExpert() Expert { return c.historyExpert(c.ItemKNNScores) }

// SeqKNNExpert scores a query's history with sequential kNN.
func (c *CF) SeqKNNExpert() Expert { return c.historyExpert(c.SeqKNNScores) }

// historyExpert turns a history scorer into an Expert (nothing to say
// without a history).
func (c *CF) historyExpert(scores func(context.Context, []string, []float64) ([]int32, error)) Expert {
	return ExpertFunc(func(ctx context.Context, q Query) ([]Hit, error) {
		if len(q.History) == 0 {
			return nil, nil
		}
		score := make([]float64, len(c.ids))
		touched, err := scores(ctx, q.History, score)
		if err != nil {
			return nil, err
		}
		return c.hitsOf(score, touched), nil
	})
}

// PopularityExpert weighs every item by log(1 + its count), the same for
// every query. (log, so that the head does not take the whole mass.)
func (c *CF) PopularityExpert() Expert {
	return StaticExpert{"": PopularityHits(c.ids, c.count)}
}

// PopularityHits weighs ids[i] by log(1 + count[i]), keeping the MaxHits
// most popular.
func PopularityHits(ids []string, count []float64) []Hit {
	idx := make([]int, 0, len(ids))
	for i := range ids {
		if count[i] > 0 {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case count[a] > count[b]:
			return -1
		case count[a] < count[b]:
			return 1
		}
		return 0
	})
	if len(idx) > MaxHits {
		idx = idx[:MaxHits]
	}
	out := make([]Hit, len(idx))
	for k, i := range idx {
		out[k] = Hit{ID: ids[i], Score: math.Log1p(count[i])}
	}
	return out
}

// Sequences groups the events that keep accepts (nil: all) by user, in
// order of first appearance, each user's items ordered by time (ties in
// file order), as indexes ord gives; events of items ord lacks are left
// out. It is what NewCF reads.
func Sequences(ord map[string]int32, events []folder.Interaction, keep func(*folder.Interaction) bool) [][]int32 {
	type ev struct {
		i   int32
		ts  int64
		pos int
	}
	byUser := map[string][]ev{}
	var users []string
	for p := range events {
		x := &events[p]
		i, ok := ord[x.Item]
		if !ok || (keep != nil && !keep(x)) {
			continue
		}
		if _, seen := byUser[x.User]; !seen {
			users = append(users, x.User)
		}
		byUser[x.User] = append(byUser[x.User], ev{i, x.TS, p})
	}
	seqs := make([][]int32, 0, len(users))
	for _, u := range users {
		evs := byUser[u]
		slices.SortFunc(evs, func(a, b ev) int { return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.pos, b.pos)) })
		s := make([]int32, len(evs))
		for j, e := range evs {
			s[j] = e.i
		}
		seqs = append(seqs, s)
	}
	return seqs
}

// NewCFFromLog builds the statistics of ids over the events keep accepts
// (nil: all).
func NewCFFromLog(ids []string, events []folder.Interaction, keep func(*folder.Interaction) bool) *CF {
	ord := make(map[string]int32, len(ids))
	for i, id := range ids {
		ord[id] = int32(i)
	}
	return NewCF(ids, Sequences(ord, events, keep))
}
