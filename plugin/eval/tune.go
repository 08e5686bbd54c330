package eval

import (
	"fmt"
	"slices"

	"github.com/neo-search/neo/plugin/prior"
)

// Trial is one evaluated weighting of a tuning run.
type Trial struct {
	Weights prior.Weights `json:"weights"`
	Score   float64       `json:"score"`
}

// TuneGrid is the λ values coordinate ascent tries for each expert. It
// reaches far up because the bm25 expert's log P is λ times BM25 score
// differences, which are small (see prior.TextExpert).
var TuneGrid = []float64{0, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}

// Tune searches fusion weights of the named experts by coordinate ascent:
// starting from start, it sets one expert at a time to the grid value that
// scores best (keeping the current value on ties), for rounds passes or
// until a pass changes nothing. score must be measured on tuning data
// only (the valid split). Every trial is returned, in order.
func Tune(names []string, grid []float64, start prior.Weights, rounds int, score func(prior.Weights) (float64, error)) (prior.Weights, float64, []Trial, error) {
	if len(names) == 0 || len(grid) == 0 {
		return nil, 0, nil, fmt.Errorf("tune: no experts or no grid")
	}
	cur := prior.Weights{}
	for _, n := range names {
		cur[n] = start[n]
	}
	seen := map[string]float64{}
	var trials []Trial
	eval := func(w prior.Weights) (float64, error) {
		key := fmt.Sprint(weightsKey(w, names))
		if s, ok := seen[key]; ok {
			return s, nil
		}
		s, err := score(w)
		if err != nil {
			return 0, err
		}
		seen[key] = s
		trials = append(trials, Trial{Weights: w.Clone(), Score: s})
		return s, nil
	}
	best, err := eval(cur)
	if err != nil {
		return nil, 0, trials, err
	}
	for r := 0; r < rounds; r++ {
		changed := false
		for _, n := range names {
			for _, v := range grid {
				if v == cur[n] {
					continue
				}
				w := cur.Clone()
				w[n] = v
				s, err := eval(w)
				if err != nil {
					return nil, 0, trials, err
				}
				if s > best {
					best, cur, changed = s, w, true
				}
			}
		}
		if !changed {
			break
		}
	}
	return cur, best, trials, nil
}

func weightsKey(w prior.Weights, names []string) []float64 {
	ns := slices.Clone(names)
	slices.Sort(ns)
	out := make([]float64, len(ns))
	for i, n := range ns {
		out[i] = w[n]
	}
	return out
}
