package sid

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// AssignItem is one catalog item to give an SID. Text is what the text
// embedder reads (title, description, brand, attribute values...).
// Embedding, when set, is a user-supplied vector that replaces the text
// part; within one type either every item has one, of one dimension, or
// none has.
type AssignItem struct {
	ID        string
	Type      string
	Text      string
	Embedding []float32
}

// AssignOptions configures Assign. Zero fields take the defaults.
type AssignOptions struct {
	Levels      int    // semantic levels (default 3); one collision level is added
	MaxCodebook int    // upper bound on codes per semantic level (default 256)
	Dim         int    // dimensions of the text and of the co-occurrence embeddings (default 64)
	Seed        uint64 // seeds every random choice: same input and seed, same SIDs
	// Sessions are interaction sessions, each an ordered list of indexes
	// into the items slice (e.g. one user's events by time). Items close
	// together in a session get similar co-occurrence embeddings.
	Sessions [][]int
	// CoocWeight is the share (0..1, exclusive) of the squared norm given
	// to the co-occurrence part when an item has both parts (default 0.5):
	// the cosine of two such items is (1-w)·text cosine + w·co-occurrence
	// cosine.
	CoocWeight float64
	// Unaligned skips the cross-type alignment of code numbers (see
	// alignCodes): each type's codes are then numbered independently.
	Unaligned bool
	// Progress, if set, is called as work advances, with stage "cooc"
	// (co-occurrence embeddings, 0 then 1 of 1) and "quantize" (one step
	// per type for its embeddings and one per type and level).
	Progress func(stage string, done, total int)
}

// Assignment is the result of Assign.
type Assignment struct {
	SIDs      []SID            // per input item, in input order
	Types     []string         // sorted
	Codebook  map[string][]int // per type: number of codes per semantic level
	Report    Report
	Quantizer *Quantizer
}

// CodeCounts returns the number of codes per level over all types,
// semantic levels then the collision level: the codeCount of NewVocab.
func (a *Assignment) CodeCounts() []int {
	out := make([]int, a.Report.Levels+1)
	for _, ks := range a.Codebook {
		for l, k := range ks {
			out[l] = max(out[l], k)
		}
	}
	out[a.Report.Levels] = a.Report.MaxCollision + 1
	return out
}

// Report summarises an assignment.
type Report struct {
	Items          int     `json:"items"`
	Types          int     `json:"types"`
	Levels         int     `json:"levels"` // semantic levels
	CollisionItems int     `json:"collision_items"`
	CollisionRate  float64 `json:"collision_rate"` // share of items with collision code != 0
	MaxCollision   int     `json:"max_collision"`  // highest collision code
	// CodebookUsage is, per type and semantic level, the share of codes
	// that some item uses.
	CodebookUsage map[string][]float64 `json:"codebook_usage"`
	// PrefixSimilarity is, per shared-prefix depth d = 0..Levels, the mean
	// cosine of the same-type item pairs sharing exactly d leading codes,
	// against the mean over all same-type pairs. Good SIDs rise with d.
	PrefixSimilarity []PrefixSim `json:"prefix_similarity"`
	// FallbackItems had no embedding, no word known to the embedder and
	// no (train) interactions; they got a pseudo-random direction derived
	// from their ID, so their SIDs are valid and unique but carry no
	// meaning, and the items stay reachable by filters and decoding.
	FallbackItems int `json:"fallback_items"`
	// Sources counts the items placed by each source: "embedding", "text"
	// (text, mixed with co-occurrence when the item has interactions),
	// "cooc" (co-occurrence alone) and "fallback".
	Sources map[string]int `json:"sources"`
	// CrossType is, per semantic level, the share of neighbouring session
	// items of different types that have the same code there (nil without
	// sessions). Aligned codes make it rise well above chance, 1/codebook.
	CrossType []float64    `json:"cross_type_agreement,omitempty"`
	PerType   []TypeReport `json:"per_type"`
	Seconds   float64      `json:"seconds"`
}

// PrefixSim is one row of Report.PrefixSimilarity.
type PrefixSim struct {
	Depth  int     `json:"depth"`  // leading semantic codes shared, exactly
	Pairs  int64   `json:"pairs"`  // same-type pairs sharing exactly Depth codes
	Cosine float64 `json:"cosine"` // their mean cosine (0 when Pairs is 0)
	Random float64 `json:"random"` // mean cosine of all same-type pairs
}

// TypeReport is the per-type part of a Report.
type TypeReport struct {
	Type           string `json:"type"`
	Items          int    `json:"items"`
	Source         string `json:"source"` // "text", "embedding" or "interactions", "+cooc" when mixed
	Dim            int    `json:"dim"`
	Codebook       []int  `json:"codebook"`
	CollisionItems int    `json:"collision_items"`
	MaxCollision   int    `json:"max_collision"`
	FallbackItems  int    `json:"fallback_items"`
}

// String renders the report as a human-readable table.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "SIDs: %d items, %d types, %d semantic levels + 1 collision level (%.1fs)\n",
		r.Items, r.Types, r.Levels, r.Seconds)
	fmt.Fprintf(&b, "%-20s %7s  %-18s %4s  %-14s %-20s %s\n", "type", "items", "source", "dim", "codebook", "usage", "collisions")
	for _, t := range r.PerType {
		ks := make([]string, len(t.Codebook))
		for i, k := range t.Codebook {
			ks[i] = fmt.Sprint(k)
		}
		us := make([]string, len(r.CodebookUsage[t.Type]))
		for i, u := range r.CodebookUsage[t.Type] {
			us[i] = fmt.Sprintf("%.0f%%", 100*u)
		}
		fmt.Fprintf(&b, "%-20s %7d  %-18s %4d  %-14s %-20s %d (max %d)\n", t.Type, t.Items, t.Source, t.Dim,
			strings.Join(ks, "/"), strings.Join(us, "/"), t.CollisionItems, t.MaxCollision)
	}
	fmt.Fprintf(&b, "collisions: %d items (%.2f%%) have a non-zero collision code, max %d\n",
		r.CollisionItems, 100*r.CollisionRate, r.MaxCollision)
	if r.FallbackItems > 0 {
		fmt.Fprintf(&b, "fallback: %d items had no known word and no interactions (random codes)\n", r.FallbackItems)
	}
	if r.CrossType != nil {
		cs := make([]string, len(r.CrossType))
		for i, c := range r.CrossType {
			cs[i] = fmt.Sprintf("%.1f%%", 100*c)
		}
		fmt.Fprintf(&b, "cross-type agreement (neighbouring session items of different types, same code per level): %s\n", strings.Join(cs, "/"))
	}
	b.WriteString("prefix similarity (same-type pairs sharing exactly d leading codes):\n")
	fmt.Fprintf(&b, "  %5s %14s %8s %8s\n", "depth", "pairs", "cosine", "random")
	for _, p := range r.PrefixSimilarity {
		fmt.Fprintf(&b, "  %5d %14d %8.3f %8.3f\n", p.Depth, p.Pairs, p.Cosine, p.Random)
	}
	return b.String()
}

// Quantizer turns an item into semantic codes the way Assign did: the
// per-type embedders and residual codebooks. It marshals to JSON as is.
type Quantizer struct {
	Version    int                       `json:"version"`
	Levels     int                       `json:"levels"`
	CoocWeight float64                   `json:"cooc_weight"`
	Seed       uint64                    `json:"seed"`
	Types      map[string]*TypeQuantizer `json:"types"`
}

// Embedding sources of a type.
const (
	SourceText         = "text"
	SourceEmbedding    = "embedding"
	SourceInteractions = "interactions"
)

// TypeQuantizer is the model of one entity type.
type TypeQuantizer struct {
	Source    string        `json:"source"`
	Text      *TextEmbedder `json:"text,omitempty"`      // Source text
	EmbedDim  int           `json:"embed_dim,omitempty"` // Source embedding: vector length
	CoocDim   int           `json:"cooc_dim,omitempty"`  // width of the co-occurrence part, 0 if none
	Dim       int           `json:"dim"`                 // full vector width
	K         []int         `json:"k"`                   // codes per level
	Centroids []F32s        `json:"centroids"`           // per level, K[l] x Dim
}

func (tq *TypeQuantizer) textDim() int {
	switch tq.Source {
	case SourceText:
		return tq.Text.Dim
	case SourceEmbedding:
		return tq.EmbedDim
	}
	return 0
}

// vector concatenates the text and co-occurrence parts (nil for zero),
// each unit length or zero, weighted so squared norms split (1-w) : w,
// and renormalises.
func (tq *TypeQuantizer) vector(text, cooc []float32, w float64) []float64 {
	td := tq.textDim()
	tw, cw := 1.0, 1.0
	if td > 0 && tq.CoocDim > 0 {
		tw, cw = math.Sqrt(1-w), math.Sqrt(w)
	}
	out := make([]float64, td+tq.CoocDim)
	for i, f := range text {
		out[i] = tw * float64(f)
	}
	for i, f := range cooc {
		out[td+i] = cw * float64(f)
	}
	if n := norm(out); n > 0 {
		scale(1/n, out)
	}
	return out
}

// fallbackVector is a unit vector derived from the item ID alone.
func fallbackVector(seed uint64, id string, d int) []float64 {
	rng := rand.New(rand.NewPCG(seed, hash64(id)))
	v := make([]float64, d)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	scale(1/norm(v), v)
	return v
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// unit returns v normalised, or an error when it is empty, zero or not finite.
func unit(v []float32) ([]float32, error) {
	s := 0.0
	for _, f := range v {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return nil, errors.New("embedding has a NaN or infinite value")
		}
		s += float64(f) * float64(f)
	}
	if s == 0 {
		return nil, errors.New("embedding is zero")
	}
	n := math.Sqrt(s)
	out := make([]float32, len(v))
	for i, f := range v {
		out[i] = float32(float64(f) / n)
	}
	return out, nil
}

// Codes returns the normalised type and the semantic codes of an item,
// nearest centroid at every level, as Assign would place it without
// interactions (the co-occurrence part of a new item is zero). The caller
// picks the collision code: the next one free under these codes. A type
// whose SIDs came from user embeddings needs item.Embedding of the same
// length; a text type reads item.Text (an embedding on the item is then
// ignored); a type built from interactions alone cannot place new items.
func (q *Quantizer) Codes(item AssignItem) (typ string, codes []int, err error) {
	typ = NormalizeType(item.Type)
	tq, ok := q.Types[typ]
	if !ok {
		return typ, nil, fmt.Errorf("sid: item %q: unknown type %q (assign SIDs again to add a type)", item.ID, item.Type)
	}
	var v []float64
	switch tq.Source {
	case SourceEmbedding:
		if len(item.Embedding) != tq.EmbedDim {
			return typ, nil, fmt.Errorf("sid: item %q: embedding has %d dimensions, type %q uses %d", item.ID, len(item.Embedding), typ, tq.EmbedDim)
		}
		e, err := unit(item.Embedding)
		if err != nil {
			return typ, nil, fmt.Errorf("sid: item %q: %v", item.ID, err)
		}
		v = tq.vector(e, nil, q.CoocWeight)
	case SourceText:
		if strings.TrimSpace(item.Text) == "" {
			return typ, nil, fmt.Errorf("sid: item %q: no text to place it by", item.ID)
		}
		v = tq.vector(tq.Text.Embed(item.Text), nil, q.CoocWeight)
		if norm(v) == 0 {
			v = fallbackVector(q.Seed, item.ID, tq.Dim)
		}
	default:
		return typ, nil, fmt.Errorf("sid: item %q: type %q was coded from interactions only; assign SIDs again once the item has interactions", item.ID, typ)
	}
	return typ, quantize(v, tq.Centroids, tq.K, tq.Dim), nil
}

// Assign gives every item a typed SID: per entity type, item vectors (user
// embedding or LSA of the text, mixed with co-occurrence embeddings from
// opt.Sessions) are quantized by residual k-means into opt.Levels semantic
// codes, the last level balanced within each parent group; items that
// still share all semantic codes are numbered by a collision code in
// item-ID order. With sessions, code numbers are then aligned across types
// (alignCodes), so a code names the same taste in every type, unless
// opt.Unaligned. The result is deterministic for a given input and seed.
//
// An item with nothing to place it by (no embedding, no text word known to
// the embedder, no interactions) gets a pseudo-random direction from its
// ID (counted in Report.FallbackItems and Sources["fallback"]), so one such
// item never aborts the assignment of the others.
func Assign(items []AssignItem, opt AssignOptions) (*Assignment, error) {
	start := time.Now()
	if len(items) == 0 {
		return nil, errors.New("sid: no items to assign SIDs to")
	}
	if opt.Levels == 0 {
		opt.Levels = DefaultLevels
	}
	if opt.Levels < 1 || opt.Levels > MaxCodes-1 {
		return nil, fmt.Errorf("sid: %d semantic levels, want 1..%d", opt.Levels, MaxCodes-1)
	}
	if opt.MaxCodebook == 0 {
		opt.MaxCodebook = DefaultMaxCodebook
	}
	if opt.MaxCodebook < 2 || opt.MaxCodebook > MaxCode+1 {
		return nil, fmt.Errorf("sid: codebook size %d, want 2..%d", opt.MaxCodebook, MaxCode+1)
	}
	if opt.Dim == 0 {
		opt.Dim = DefaultDim
	}
	if opt.Dim < 1 {
		return nil, fmt.Errorf("sid: embedding dimension %d", opt.Dim)
	}
	if opt.CoocWeight == 0 {
		opt.CoocWeight = DefaultCoocWeight
	}
	if opt.CoocWeight <= 0 || opt.CoocWeight >= 1 {
		return nil, fmt.Errorf("sid: co-occurrence weight %g, want 0 < w < 1", opt.CoocWeight)
	}
	progress := opt.Progress
	if progress == nil {
		progress = func(string, int, int) {}
	}

	// Work in item-ID order throughout, so the SIDs do not depend on the
	// order the catalog happens to list its items in.
	order := make([]int, len(items))
	for i, it := range items {
		if it.ID == "" {
			return nil, fmt.Errorf("sid: item %d has no ID", i)
		}
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(items[a].ID, items[b].ID) })
	rank := make([]int, len(items))
	byType := map[string][]int{}
	for r, i := range order {
		rank[i] = r
		if r > 0 && items[order[r-1]].ID == items[i].ID {
			return nil, fmt.Errorf("sid: duplicate item ID %q", items[i].ID)
		}
		t := NormalizeType(items[i].Type)
		if t == "" {
			return nil, fmt.Errorf("sid: item %q: type %q has no usable name", items[i].ID, items[i].Type)
		}
		byType[t] = append(byType[t], i)
	}
	typeNames := make([]string, 0, len(byType))
	for t := range byType {
		typeNames = append(typeNames, t)
	}
	slices.Sort(typeNames)

	var cooc [][]float32
	var hasCooc []bool
	if len(opt.Sessions) > 0 {
		progress("cooc", 0, 1)
		ranked := make([][]int, len(opt.Sessions))
		for s, sess := range opt.Sessions {
			ranked[s] = make([]int, len(sess))
			for p, i := range sess {
				if i < 0 || i >= len(items) {
					return nil, fmt.Errorf("sid: session %d refers to item index %d (have %d items)", s, i, len(items))
				}
				ranked[s][p] = rank[i]
			}
		}
		byRank, hasByRank, err := CoocEmbeddings(len(items), ranked, CoocConfig{Dim: opt.Dim, Seed: opt.Seed})
		if err != nil {
			return nil, err
		}
		if byRank != nil {
			cooc, hasCooc = make([][]float32, len(items)), make([]bool, len(items))
			for i, r := range rank {
				cooc[i], hasCooc[i] = byRank[r], hasByRank[r]
			}
		}
		progress("cooc", 1, 1)
	}

	q := &Quantizer{Version: 1, Levels: opt.Levels, CoocWeight: opt.CoocWeight, Seed: opt.Seed, Types: map[string]*TypeQuantizer{}}
	a := &Assignment{SIDs: make([]SID, len(items)), Types: typeNames, Codebook: map[string][]int{}, Quantizer: q}
	rep := &a.Report
	*rep = Report{Items: len(items), Types: len(typeNames), Levels: opt.Levels, CodebookUsage: map[string][]float64{}, Sources: map[string]int{}}
	sims := make([]simAcc, opt.Levels+2)

	steps, done := len(typeNames)*(opt.Levels+1), 0
	// Aligned codes (see alignCodes) need one codebook size: every type
	// with at least that many items takes the largest type's size, so its
	// tree is only sparser; smaller types keep their own and stay unaligned.
	align := !opt.Unaligned && len(opt.Sessions) > 0
	kCommon := 0
	for _, typ := range typeNames {
		kCommon = max(kCommon, CodebookSize(len(byType[typ]), opt.Levels, opt.MaxCodebook))
	}
	runs := make([]*typeRun, 0, len(typeNames))
	for _, typ := range typeNames {
		members := byType[typ]
		typeSeed := opt.Seed ^ hash64(typ)
		progress("quantize", done, steps)
		tq, x, fallback, err := embedType(typ, members, items, cooc, hasCooc, opt, typeSeed, rep.Sources)
		if err != nil {
			return nil, err
		}
		done++
		n, d := len(members), tq.Dim
		k := CodebookSize(n, opt.Levels, opt.MaxCodebook)
		if align && n >= kCommon {
			k = kCommon
		}
		rng := rand.New(rand.NewPCG(typeSeed, 1))
		books, codes := trainResidual(x, n, d, opt.Levels, k, rng, func() {
			done++
			progress("quantize", done, steps)
		})
		tq.K = make([]int, opt.Levels)
		for l := range tq.K {
			tq.K[l] = k
		}
		tq.Centroids = books
		runs = append(runs, &typeRun{typ: typ, members: members, tq: tq, x: x, codes: codes, fallback: fallback})
	}
	if align {
		alignCodes(runs, opt.Sessions, len(items), opt.Seed)
	}
	for _, r := range runs {
		typ, members, tq, x, codes, fallback := r.typ, r.members, r.tq, r.x, r.codes, r.fallback
		n, d, k := len(members), tq.Dim, tq.K[0]
		q.Types[typ] = tq
		a.Codebook[typ] = slices.Clone(tq.K)

		// Collision level: items sharing all semantic codes, in ID order.
		tr := TypeReport{Type: typ, Items: n, Source: tq.Source, Dim: d, Codebook: slices.Clone(tq.K), FallbackItems: fallback}
		if tq.CoocDim > 0 && tq.Source != SourceInteractions {
			tr.Source += "+cooc"
		}
		// Members are in ID order, and so is every group.
		for _, g := range groupBy(n, func(i int) []int { return codes[i] }) {
			for c, p := range g {
				a.SIDs[members[p]] = SID{Type: typ, Codes: append(slices.Clone(codes[p]), c)}
				if c > 0 {
					tr.CollisionItems++
				}
			}
			tr.MaxCollision = max(tr.MaxCollision, len(g)-1)
		}
		usage := make([]float64, opt.Levels)
		for l := range usage {
			used := map[int]bool{}
			for _, c := range codes {
				used[c[l]] = true
			}
			usage[l] = float64(len(used)) / float64(k)
		}
		rep.CodebookUsage[typ] = usage
		rep.CollisionItems += tr.CollisionItems
		rep.MaxCollision = max(rep.MaxCollision, tr.MaxCollision)
		rep.FallbackItems += fallback
		rep.PerType = append(rep.PerType, tr)
		prefixSims(sims, x, d, codes)
	}
	rep.CollisionRate = float64(rep.CollisionItems) / float64(len(items))
	rep.CrossType = crossTypeAgreement(a.SIDs, opt.Sessions, opt.Levels)
	random := sims[0].mean()
	for depth := 0; depth <= opt.Levels; depth++ {
		p := PrefixSim{Depth: depth, Pairs: sims[depth].pairs - sims[depth+1].pairs, Random: random}
		if p.Pairs > 0 {
			p.Cosine = (sims[depth].dots - sims[depth+1].dots) / float64(p.Pairs)
		}
		rep.PrefixSimilarity = append(rep.PrefixSimilarity, p)
	}
	rep.Seconds = time.Since(start).Seconds()
	return a, nil
}

// embedType builds the type's quantizer input: its model (without
// codebooks) and the n x Dim matrix of unit item vectors.
func embedType(typ string, members []int, items []AssignItem, cooc [][]float32, hasCooc []bool, opt AssignOptions, seed uint64, sources map[string]int) (tq *TypeQuantizer, x []float64, fallback int, err error) {
	n := len(members)
	tq = &TypeQuantizer{}
	text := make([][]float32, n)
	nEmb, nText := 0, 0
	for _, i := range members {
		if items[i].Embedding != nil {
			nEmb++
		}
		if strings.TrimSpace(items[i].Text) != "" {
			nText++
		}
	}
	switch {
	case nEmb > 0:
		if nEmb != n {
			return nil, nil, 0, fmt.Errorf("sid: type %q: %d of %d items have an embedding; give one to all items of a type or to none", typ, nEmb, n)
		}
		tq.Source = SourceEmbedding
		tq.EmbedDim = len(items[members[0]].Embedding)
		for p, i := range members {
			e := items[i].Embedding
			if len(e) != tq.EmbedDim {
				return nil, nil, 0, fmt.Errorf("sid: type %q: item %q has a %d-dimensional embedding, item %q has %d",
					typ, items[i].ID, len(e), items[members[0]].ID, tq.EmbedDim)
			}
			if text[p], err = unit(e); err != nil {
				return nil, nil, 0, fmt.Errorf("sid: item %q: %v", items[i].ID, err)
			}
		}
	case nText > 0:
		tq.Source = SourceText
		texts := make([]string, n)
		for p, i := range members {
			texts[p] = items[i].Text
		}
		if tq.Text, text, err = FitText(texts, TextConfig{Dim: opt.Dim, Bigrams: true, Seed: seed}); err != nil {
			if !errors.Is(err, errNoWords) {
				return nil, nil, 0, fmt.Errorf("sid: type %q: %w", typ, err)
			}
			// Text without a single word (digits and punctuation only):
			// treat the type as if it had no text.
			tq.Source, tq.Text, text = SourceInteractions, nil, make([][]float32, n)
		}
	default:
		tq.Source = SourceInteractions
	}
	for _, i := range members {
		if cooc != nil && hasCooc[i] {
			tq.CoocDim = len(cooc[i])
			break
		}
	}
	tq.Dim = tq.textDim() + tq.CoocDim
	if tq.Dim == 0 {
		return nil, nil, 0, fmt.Errorf("sid: type %q: no item has text, an embedding or interactions", typ)
	}
	x = make([]float64, 0, n*tq.Dim)
	for p, i := range members {
		var c []float32
		if tq.CoocDim > 0 && hasCooc[i] {
			c = cooc[i]
		}
		v := tq.vector(text[p], c, opt.CoocWeight)
		switch {
		case norm(v) == 0:
			// nothing to place it by (no embedding, no known word, no
			// train interaction): a direction from its ID alone
			v = fallbackVector(opt.Seed, items[i].ID, tq.Dim)
			fallback++
			sources["fallback"]++
		case tq.Source == SourceEmbedding:
			sources["embedding"]++
		case p < len(text) && nonZero(text[p]):
			sources["text"]++
		default:
			sources["cooc"]++
		}
		x = append(x, v...)
	}
	return tq, x, fallback, nil
}

// simAcc accumulates, for one prefix depth, the number of same-type pairs
// sharing at least that many codes and the sum of their dot products.
type simAcc struct {
	pairs int64
	dots  float64
}

func (s simAcc) mean() float64 {
	if s.pairs == 0 {
		return 0
	}
	return s.dots / float64(s.pairs)
}

// prefixSims adds one type's pairs to acc[depth] for depth 0..levels. The
// sum of dot products over all pairs of a group is (|Σv|² - Σ|v|²)/2, so
// every pair counts without visiting pairs.
func prefixSims(acc []simAcc, x []float64, d int, codes [][]int) {
	n := len(codes)
	for depth := 0; depth < len(acc)-1; depth++ {
		for _, g := range groupBy(n, func(i int) []int { return codes[i][:depth] }) {
			sum := make([]float64, d)
			sq := 0.0
			for _, i := range g {
				v := x[i*d : (i+1)*d]
				axpy(1, v, sum)
				sq += dot(v, v)
			}
			m := int64(len(g))
			acc[depth].pairs += m * (m - 1) / 2
			acc[depth].dots += (dot(sum, sum) - sq) / 2
		}
	}
}

func nonZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return true
		}
	}
	return false
}
