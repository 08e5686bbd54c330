package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/plugin/prior"
	"github.com/neo-search/neo/sid"
)

// FusionFile is the model directory's file of tuned fusion weights
// (`neo eval --tune` writes it): {"search": {"bm25": 1.2, ...},
// "recommend": {...}, "agg": {"search": "max", ...}}, task → expert → λ,
// and task → how trie nodes aggregate the experts' mass. Tasks without
// weights (and a model directory without the file) decode with the model
// alone; tasks without an "agg" entry use Config.FusionAgg.
const FusionFile = "fusion.json"

// FusionDefaults is what fusion.json holds.
type FusionDefaults struct {
	Weights map[string]prior.Weights // task → expert → λ
	Agg     map[string]prior.Agg     // task → aggregation
}

// LoadFusion reads a model directory's fusion.json; a missing file is no
// fusion (zero FusionDefaults, nil).
func LoadFusion(dir string) (FusionDefaults, error) {
	var out FusionDefaults
	path := filepath.Join(dir, FusionFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return out, fmt.Errorf("%s: %w", path, err)
	}
	known := func(task string) bool {
		switch task {
		case TaskSearch, TaskRecommend, TaskExplain, TaskMixed:
			return true
		}
		return false
	}
	out.Weights = map[string]prior.Weights{}
	for task, v := range raw {
		if task == "agg" {
			m, ok := v.(map[string]any)
			if !ok {
				return out, fmt.Errorf(`%s: "agg": want an object of task → "sum" or "max"`, path)
			}
			out.Agg = map[string]prior.Agg{}
			for t, a := range m {
				s, _ := a.(string)
				agg, err := prior.ParseAgg(s)
				if err != nil || !known(t) {
					return out, fmt.Errorf(`%s: "agg": %q: want a task and "sum" or "max"`, path, t)
				}
				out.Agg[t] = agg
			}
			continue
		}
		if !known(task) {
			continue // provenance and notes beside the weights
		}
		w, err := prior.Parse(v)
		if err != nil {
			return out, fmt.Errorf("%s: %s: %w", path, task, err)
		}
		out.Weights[task] = w
	}
	return out, nil
}

// SetExperts gives the engine the experts fusion may use (prior.BM25,
// prior.ItemKNN, ... → Expert). Call before serving; experts the map lacks
// are skipped whatever their weight. prior.RRF needs no entry: it fuses the
// rankings of the members it has (prior.RRFMembers).
func (e *Engine) SetExperts(experts map[string]prior.Expert) { e.experts = experts }

// SetFusion sets the default fusion weights per task (what fusion.json
// holds); a request's own Fusion overrides them.
func (e *Engine) SetFusion(w map[string]prior.Weights) { e.fusion = w }

// SetFusionAgg sets how a task's fusion aggregates expert mass up the trie.
// Call before serving (or between evaluation runs), not during requests.
func (e *Engine) SetFusionAgg(task string, a prior.Agg) {
	if e.aggs == nil {
		e.aggs = map[string]prior.Agg{}
	}
	e.aggs[task] = a
}

// FusionAgg is the aggregation of a task's fusion.
func (e *Engine) FusionAgg(task string) prior.Agg {
	if a, ok := e.aggs[task]; ok {
		return a
	}
	return e.cfg.FusionAgg
}

// Fusion is the default weights of a task.
func (e *Engine) Fusion(task string) prior.Weights { return e.fusion[task] }

// maxExperts bounds the experts of one request (every name of prior.Names
// at most once), so rows can cache per-expert state in fixed arrays.
const maxExperts = 6

// fusionState is the product-of-experts part of one request: each active
// expert's distribution over the snapshot's global ordinals and its λ.
type fusionState struct {
	names  []string
	dists  []*prior.Dist
	lambda []float64
	off    [2]uint32 // global ordinal of each trie's local ordinal 0
}

// defaultsTask is the task whose default fusion a request's task takes:
// its own, or, for mixed without defaults of its own, recommend's (a
// mixed answer recommends, with a reason).
func (e *Engine) defaultsTask(task string) string {
	if _, ok := e.fusion[task]; !ok && task == TaskMixed {
		return TaskRecommend
	}
	return task
}

// weightsFor is the request's fusion weights: its own, else the task's
// defaults (defaultsTask). A recommendation with an ask (context) that
// its defaults do not read lexically takes search's bm25 weight, tuned
// on valid queries, so the ask steers which items come ("something by
// Maison Aurel").
func (e *Engine) weightsFor(req *Request) prior.Weights {
	if req.Fusion != nil {
		return req.Fusion
	}
	w := e.fusion[e.defaultsTask(req.Task)]
	if req.Task != TaskSearch && strings.TrimSpace(req.Context) != "" && w[prior.BM25] <= 0 {
		if lam := e.fusion[TaskSearch][prior.BM25]; lam > 0 {
			out := make(prior.Weights, len(w)+1)
			for k, v := range w {
				out[k] = v
			}
			out[prior.BM25] = lam
			return out
		}
	}
	return w
}

// fusionFuture is a fusion being built beside the prefill.
type fusionFuture struct {
	done chan struct{}
	f    *fusionState
	err  error
}

// startFusion builds the request's fusion in the background (the experts'
// hits are I/O and CPU the prefill need not wait for); nil when the request
// has none.
func (e *Engine) startFusion(ctx context.Context, req *Request, snap *index.Snapshot, opts RowOptions) *fusionFuture {
	if !e.weightsFor(req).Active() || len(e.experts) == 0 || snap.Len() == 0 {
		return nil
	}
	fut := &fusionFuture{done: make(chan struct{})}
	go func() {
		defer close(fut.done)
		fut.f, fut.err = e.buildFusion(ctx, req, snap, opts)
	}()
	return fut
}

// wait is the fusion (nil for a nil future: none).
func (f *fusionFuture) wait() (*fusionState, error) {
	if f == nil {
		return nil, nil
	}
	<-f.done
	return f.f, f.err
}

// distCache keeps the distributions of static experts (prior.StaticExpert)
// for the latest snapshot, by expert, task and aggregation, so that
// requests without filter or exclusions share them.
type distCache struct {
	mu   sync.Mutex
	snap *index.Snapshot
	m    map[distKey]*prior.Dist
}

type distKey struct {
	name, task string
	agg        prior.Agg
}

func (c *distCache) get(snap *index.Snapshot, k distKey) (*prior.Dist, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.snap != snap {
		return nil, false
	}
	d, ok := c.m[k]
	return d, ok
}

func (c *distCache) put(snap *index.Snapshot, k distKey, d *prior.Dist) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.snap != snap {
		c.snap, c.m = snap, map[distKey]*prior.Dist{}
	}
	c.m[k] = d
}

// buildFusion asks each weighted expert for its hits and turns them into
// distributions over the snapshot, leaving out items the request cannot
// emit (filtered out, excluded), so that their mass does not steer the
// beam toward prefixes that lead nowhere. nil: no fusion.
func (e *Engine) buildFusion(ctx context.Context, req *Request, snap *index.Snapshot, opts RowOptions) (*fusionState, error) {
	w := e.weightsFor(req)
	if !w.Active() || len(e.experts) == 0 || snap.Len() == 0 {
		return nil, nil
	}
	q := prior.Query{Task: req.Task, Text: req.Query, History: req.History, Types: req.Types, Filter: req.Filter}
	if req.Task != TaskSearch {
		q.Text = req.Context
	}
	f := &fusionState{}
	if snap.Trie != nil {
		f.off[1] = uint32(snap.Trie.Len())
	}
	n := snap.Len()
	agg := e.FusionAgg(e.defaultsTask(req.Task))
	var ords []uint32
	var ws []float64
	// each expert's hits once: rrf reads its members' too
	memo := map[string][]prior.Hit{}
	hitsOf := func(name string) ([]prior.Hit, error) {
		if h, ok := memo[name]; ok {
			return h, nil
		}
		h, err := e.experts[name].Hits(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("fusion %s: %w", name, err)
		}
		memo[name] = h
		return h, nil
	}
	for _, name := range prior.Names {
		lam := w[name]
		if lam <= 0 || !e.hasExpert(name) {
			continue
		}
		_, static := e.experts[name].(prior.StaticExpert)
		key := distKey{name, req.Task, agg}
		shared := static && unconstrained(&opts)
		d, cached := (*prior.Dist)(nil), false
		if shared {
			d, cached = e.static.get(snap, key)
		}
		if !cached {
			var hits []prior.Hit
			if name == prior.RRF {
				var lists [][]string
				for _, m := range prior.RRFMembers(req.Task) {
					if e.experts[m] == nil {
						continue
					}
					h, err := hitsOf(m)
					if err != nil {
						return nil, err
					}
					// ranks among what the row can emit: available items
					// of the request's types that pass the filter, the
					// history (unless included) out
					ok := make([]prior.Hit, 0, len(h))
					for _, x := range h {
						o, in := snap.Ordinal(x.ID)
						if in && snap.Available(o) && emittable(&opts, f.off, o) && (req.Types == nil || slices.Contains(req.Types, snap.TypeOf(o))) {
							ok = append(ok, x)
						}
					}
					lists = append(lists, prior.Ranked(ok, prior.RRFDepth))
				}
				hits = prior.ReciprocalRank(lists)
			} else {
				h, err := hitsOf(name)
				if err != nil {
					return nil, err
				}
				hits = h
			}
			ords, ws = ords[:0], ws[:0]
			for _, h := range hits {
				o, ok := snap.Ordinal(h.ID)
				if !ok || !emittable(&opts, f.off, o) {
					continue
				}
				ords = append(ords, o)
				ws = append(ws, h.Score)
			}
			d = prior.NewDist(ords, ws, n, agg)
			if shared {
				e.static.put(snap, key, d)
			}
		}
		if d == nil {
			continue
		}
		f.names = append(f.names, name)
		f.dists = append(f.dists, d)
		f.lambda = append(f.lambda, lam)
	}
	if len(f.dists) == 0 {
		return nil, nil
	}
	return f, nil
}

// hasExpert reports whether the engine can weigh expert name: one it was
// given, or rrf when it was given any of rrf's members.
func (e *Engine) hasExpert(name string) bool {
	if name != prior.RRF {
		return e.experts[name] != nil
	}
	for _, task := range []string{TaskSearch, TaskRecommend} {
		for _, m := range prior.RRFMembers(task) {
			if e.experts[m] != nil {
				return true
			}
		}
	}
	return false
}

// unconstrained reports whether a row may emit every item (no filter, no
// exclusions), so that its distributions are the same for every request.
func unconstrained(o *RowOptions) bool {
	return o.Filter[0] == nil && o.Filter[1] == nil && len(o.Exclude[0]) == 0 && len(o.Exclude[1]) == 0
}

// emittable reports whether global ordinal o passes the row's filter and
// exclusions.
func emittable(o *RowOptions, off [2]uint32, g uint32) bool {
	t := 0
	if off[1] > 0 && g >= off[1] {
		t = 1
	}
	l := g - off[t]
	if f := o.Filter[t]; f != nil && !containsSorted(f, l) {
		return false
	}
	return !containsSorted(o.Exclude[t], l)
}

// mass is expert j's mass of a prefix: the sum (or max) over the tries'
// nodes of it.
func (f *fusionState) mass(j int, nodes *[2]sid.Node, live *[2]bool) float64 {
	d := f.dists[j]
	var m float64
	for t := range nodes {
		if !live[t] {
			continue
		}
		x := d.Mass(f.off[t]+nodes[t].Lo, f.off[t]+nodes[t].Hi)
		if d.Max() {
			m = max(m, x)
		} else {
			m += x
		}
	}
	return m
}

// FusionGain is what expanding row's current SID prefix by tok adds to the
// beam score: Σ_j λ_j·(log P_j(child) − log P_j(prefix)). Summed over a
// whole SID it telescopes to Σ_j λ_j·log P_j(item) (the root has mass 1).
// 0 without fusion, outside a span and for [/SID]. Allocation-free.
func (p *LogitsProcessor) FusionGain(row int, tok int32) float64 {
	f := p.fusion
	r := &p.rows[row]
	if f == nil || !r.inSID || r.depth > p.levels {
		return 0
	}
	depth, val, ok := p.v.Classify(tok)
	if !ok || depth != r.depth {
		return 0
	}
	var child [2]sid.Node
	var live [2]bool
	for t, tr := range p.set.Tries {
		if tr == nil || !r.live[t] {
			continue
		}
		code := val
		if depth == 0 {
			if code = p.typeIdx[t][val]; code < 0 {
				continue
			}
		}
		child[t], live[t] = tr.Child(r.node[t], uint16(code))
	}
	if !r.massOK {
		for j := range f.lambda {
			r.logMass[j] = math.Log(f.mass(j, &r.node, &r.live)) // -Inf for no mass
		}
		r.massOK = true
	}
	var g float64
	for j, lam := range f.lambda {
		mc := f.mass(j, &child, &live)
		if mc <= 0 || math.IsInf(r.logMass[j], -1) {
			continue
		}
		g += lam * (math.Log(mc) - r.logMass[j])
	}
	return g
}

// ApplyFusion adds FusionGain to the logits of the tokens the last Process
// call of row allowed inside an SID span, so that sampling follows the
// product of experts as beam search does. Allocation-free.
func (p *LogitsProcessor) ApplyFusion(row int, logits []float32) {
	if p.fusion == nil || !p.rows[row].inSID {
		return
	}
	for _, t := range p.toks {
		logits[t] += float32(p.FusionGain(row, t))
	}
}

// parts is each expert's share λ_j·log P_j(item) of an emitted item's
// score, and the model's (the rest), for explain.
func (f *fusionState) parts(g uint32, total float64) map[string]float64 {
	out := make(map[string]float64, len(f.dists)+1)
	rest := total
	for j, d := range f.dists {
		v := f.lambda[j] * (d.LogItem(g) - math.Log(d.Root()))
		out[f.names[j]] = v
		rest -= v
	}
	out["model"] = rest
	return out
}
