// Package prior turns the catalog's own signals — Bleve's BM25 of a
// request's text, collaborative statistics of the interaction log,
// popularity — into per-request item distributions that constrained beam
// search multiplies with the model's (a product of experts, DESIGN.md
// "Hybrid decoding").
//
// An Expert scores a Query with sparse Hits (item id, weight ≥ 0). The
// engine maps the hits to snapshot ordinals and builds one Dist per expert:
// the hits' weights normalised and smoothed with a uniform share, so an
// item without a hit keeps a small mass. Because a trie node covers a
// contiguous range of ordinals, a node's mass is one range query on the
// Dist (Mass): two binary searches over the hits, no allocation. A Dist is
// a pure value: building it needs no I/O and reading it never writes.
package prior

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/neo-search/neo/internal/textutil"
)

// Expert names. Collaborative ("cf") is shorthand in Weights for ItemKNN and SeqKNN together.
// RRF is not an Expert of its own: the engine derives it from the others'
// hits (RRFMembers, ReciprocalRank).
const (
	BM25          = "bm25"
	ItemKNN       = "itemknn"
	SeqKNN        = "seqknn"
	Popularity    = "popularity"
	Content       = "content"
	RRF           = "rrf"
	Collaborative = "cf"
)

// Names are the experts in the order the engine applies and reports them.
var Names = []string{BM25, ItemKNN, SeqKNN, Popularity, Content, RRF}

// Query is what an expert scores: the request's task, its free text (the
// search query, or the ask of a recommendation), its history (item ids,
// oldest first), its allowed types (nil = all) and its filter (nil = none).
type Query struct {
	Task    string
	Text    string
	History []string
	Types   []string
	Filter  query.Query
}

// Hit is one item an expert scored; Score must be ≥ 0 (0 counts as no hit).
type Hit struct {
	ID    string
	Score float64
}

// Expert scores a query. It returns nil when it has nothing to say (bm25
// without text, itemknn without history); an error fails the request.
type Expert interface {
	Hits(ctx context.Context, q Query) ([]Hit, error)
}

// ExpertFunc adapts a function to Expert.
type ExpertFunc func(ctx context.Context, q Query) ([]Hit, error)

// Hits implements Expert.
func (f ExpertFunc) Hits(ctx context.Context, q Query) ([]Hit, error) { return f(ctx, q) }

// StaticExpert is an expert whose hits depend only on the query's task
// (popularity): task → hits, "" for every other task. The engine builds
// its distributions once per catalog snapshot instead of per request.
// The slices must not change after the expert is handed out.
type StaticExpert map[string][]Hit

// Hits implements Expert.
func (s StaticExpert) Hits(_ context.Context, q Query) ([]Hit, error) { return s.For(q.Task), nil }

// For is the hits of a task.
func (s StaticExpert) For(task string) []Hit {
	if h, ok := s[task]; ok {
		return h
	}
	return s[""]
}

// Weights are the λ of each expert (expert name → weight ≥ 0); a missing
// name or 0 turns that expert off. The zero value is pure model decoding.
type Weights map[string]float64

// Parse reads weights as JSON gives them: an object of names to numbers, or
// the string "none" (no fusion). "cf" sets itemknn and seqknn together.
func Parse(v any) (Weights, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		if strings.EqualFold(strings.TrimSpace(x), "none") {
			return Weights{}, nil
		}
		return nil, fmt.Errorf(`fusion: want "none" or an object of expert weights, got %q`, clip(x))
	case map[string]any:
		w := Weights{}
		for k, raw := range x {
			f, ok := raw.(float64)
			if !ok {
				return nil, fmt.Errorf("fusion: weight of %q is not a number", clip(k))
			}
			if err := w.set(k, f); err != nil {
				return nil, err
			}
		}
		return w, nil
	default:
		return nil, fmt.Errorf(`fusion: want "none" or an object of expert weights`)
	}
}

func (w Weights) set(name string, f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > MaxWeight {
		return fmt.Errorf("fusion: weight of %q must be in [0, %g]", clip(name), float64(MaxWeight))
	}
	switch name {
	case Collaborative:
		w[ItemKNN], w[SeqKNN] = f, f
	case BM25, ItemKNN, SeqKNN, Popularity, Content, RRF:
		w[name] = f
	default:
		return fmt.Errorf("fusion: unknown expert %q (want bm25, cf, itemknn, seqknn, popularity, content or rrf)", clip(name))
	}
	return nil
}

// MaxWeight bounds a λ. The bm25 expert's log P is λ times BM25 score
// differences, which are often a few hundredths apart, so useful λ's reach
// the hundreds; far beyond this the model's part of the score vanishes.
const MaxWeight = 10000

// Active reports whether any expert has a positive weight.
func (w Weights) Active() bool {
	for _, f := range w {
		if f > 0 {
			return true
		}
	}
	return false
}

// Clone returns a copy.
func (w Weights) Clone() Weights {
	if w == nil {
		return nil
	}
	out := make(Weights, len(w))
	for k, v := range w {
		out[k] = v
	}
	return out
}

// clip quotes input briefly in error messages.
func clip(s string) string { return textutil.Clip(s, 40) }

// Smoothing is the share of a Dist's mass spread uniformly over all
// ordinals, so an item without a hit scores log(Smoothing/N) instead of
// -Inf. Fixed a priori; the λ's absorb the scale.
const Smoothing = 0.05

// Agg says how a node's mass aggregates its items' masses.
type Agg uint8

const (
	Sum Agg = iota // a node's mass is the sum over its items (a marginal)
	Max            // a node's mass is its best item's (an admissible look-ahead)
)

// String is "sum" or "max", as fusion.json writes it.
func (a Agg) String() string {
	if a == Max {
		return "max"
	}
	return "sum"
}

// ParseAgg reads "sum" or "max".
func ParseAgg(s string) (Agg, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "sum":
		return Sum, nil
	case "max":
		return Max, nil
	}
	return Sum, fmt.Errorf("fusion: aggregation %q: want sum or max", clip(s))
}

// MarshalText writes String.
func (a Agg) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads what ParseAgg reads.
func (a *Agg) UnmarshalText(b []byte) error {
	v, err := ParseAgg(string(b))
	*a = v
	return err
}

// Dist is one expert's distribution over the ordinals [0, N) of a snapshot:
// P(o) = (1-Smoothing)·w(o)/W + Smoothing/N, with w the hit weights (0 off
// the hits) and W their sum. Build it with NewDist.
type Dist struct {
	ords []uint32  // hit ordinals, ascending, distinct
	cum  []float64 // cum[i] = normalised weight of ords[:i]
	// sparse table of range maxima over the normalised weights (Max only)
	rmq [][]float64
	n   float64 // ordinals in all
	agg Agg
}

// NewDist builds the distribution of hits (ordinal, weight ≥ 0; repeated
// ordinals add up) over n ordinals. It returns nil when no hit has a
// positive weight: such an expert changes no score.
func NewDist(ords []uint32, w []float64, n int, agg Agg) *Dist {
	type ow struct {
		o uint32
		w float64
	}
	hs := make([]ow, 0, len(ords))
	var tot float64
	for i, o := range ords {
		if int(o) < n && w[i] > 0 && !math.IsInf(w[i], 0) && !math.IsNaN(w[i]) {
			hs = append(hs, ow{o, w[i]})
			tot += w[i]
		}
	}
	if len(hs) == 0 || tot <= 0 {
		return nil
	}
	slices.SortFunc(hs, func(a, b ow) int {
		switch {
		case a.o < b.o:
			return -1
		case a.o > b.o:
			return 1
		}
		return 0
	})
	d := &Dist{n: float64(n), agg: agg}
	d.ords = make([]uint32, 0, len(hs))
	d.cum = make([]float64, 1, len(hs)+1)
	var vals []float64
	for _, h := range hs {
		p := (1 - Smoothing) * h.w / tot
		if k := len(d.ords); k > 0 && d.ords[k-1] == h.o {
			d.cum[k] += p
			if agg == Max {
				vals[k-1] += p
			}
			continue
		}
		d.ords = append(d.ords, h.o)
		d.cum = append(d.cum, d.cum[len(d.cum)-1]+p)
		if agg == Max {
			vals = append(vals, p)
		}
	}
	if agg == Max {
		d.rmq = [][]float64{vals}
		for span := 2; span <= len(vals); span *= 2 {
			prev := d.rmq[len(d.rmq)-1]
			next := make([]float64, len(vals)-span+1)
			for i := range next {
				next[i] = max(prev[i], prev[i+span/2])
			}
			d.rmq = append(d.rmq, next)
		}
	}
	return d
}

// Hits is the number of distinct hit ordinals.
func (d *Dist) Hits() int { return len(d.ords) }

// Mass is the mass of the ordinals [lo, hi): their sum under Sum, the
// largest item's under Max. It does not allocate.
func (d *Dist) Mass(lo, hi uint32) float64 {
	if hi <= lo {
		return 0
	}
	i := sort.Search(len(d.ords), func(k int) bool { return d.ords[k] >= lo })
	j := i + sort.Search(len(d.ords)-i, func(k int) bool { return d.ords[i+k] >= hi })
	if d.agg == Max {
		m := Smoothing / d.n
		if j > i {
			lvl := bitsLen(j-i) - 1
			row := d.rmq[lvl]
			m += max(row[i], row[j-(1<<lvl)])
		}
		return m
	}
	return d.cum[j] - d.cum[i] + Smoothing*float64(hi-lo)/d.n
}

func bitsLen(x int) int {
	n := 0
	for x > 0 {
		x >>= 1
		n++
	}
	return n
}

// LogItem is log P(o) of one ordinal.
func (d *Dist) LogItem(o uint32) float64 { return math.Log(d.Mass(o, o+1)) }

// Max reports whether the Dist aggregates by maximum.
func (d *Dist) Max() bool { return d.agg == Max }

// Root is the mass of all ordinals: 1 under Sum, the best item's under Max.
func (d *Dist) Root() float64 { return d.Mass(0, uint32(d.n)) }
