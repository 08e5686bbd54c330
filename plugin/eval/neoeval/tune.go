package neoeval

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/neo-search/neo/index/folder"
	"github.com/neo-search/neo/internal/fsutil"
	"github.com/neo-search/neo/plugin"
	"github.com/neo-search/neo/plugin/eval"
	"github.com/neo-search/neo/plugin/prior"
)

// TuneReport is what Tune measured; it is written beside the weights in
// fusion.json (as "tuning").
type TuneReport struct {
	Model   string               `json:"model"`
	Dataset string               `json:"dataset"`
	Tasks   map[string]*TuneTask `json:"tasks"`
	Seconds float64              `json:"seconds"`
	Date    string               `json:"date"`
}

// TuneTask is the tuning of one task.
type TuneTask struct {
	Split   string        `json:"split"`
	Note    string        `json:"note,omitempty"`
	Metric  string        `json:"metric"`
	Cases   int           `json:"cases"`
	Pure    float64       `json:"pure"` // the metric of the model alone (weights all 0)
	Best    float64       `json:"best"`
	Weights prior.Weights `json:"weights"`
	Agg     prior.Agg     `json:"agg"` // the aggregation of the best weights
	// ByAgg is the search under each aggregation tried.
	ByAgg map[string]*TuneAgg `json:"by_agg"`
}

// TuneAgg is the search under one aggregation.
type TuneAgg struct {
	Best    float64       `json:"best"`
	Weights prior.Weights `json:"weights"`
	Trials  []eval.Trial  `json:"trials"`
}

// TuneOptions say how Tune searches. K and Limit must be set.
type TuneOptions struct {
	K     int         // the headline cut-off (NDCG@K search, HR@K recommend)
	Limit int         // at most this many valid cases per task and trial (0: all)
	Aggs  []prior.Agg // aggregations to tune under, the better kept (nil: sum)
	Log   io.Writer   // a line per trial (nil: none)
	Beam  int         // beam width (0: the engine's, max(k, 10)), as Options.Beam
}

// Tune tunes the fusion weights of the model in dir (DefaultModelDir when
// "") on the valid split of ds — recommend on the valid targets; search
// on the valid queries, or, for a data folder without them, on a held-out
// fifth of the train queries (the baselines' statistics then leave them
// out, but the model was trained on them, which biases the weights toward
// the model) — by coordinate ascent over eval.TuneGrid, rrf first. A task
// whose experts do not beat the model alone on valid gets no weights. It
// writes the model directory's fusion.json.
func Tune(ctx context.Context, ds *folder.Folder, model string, o TuneOptions) (*TuneReport, error) {
	start := time.Now()
	k, limit, aggs := o.K, o.Limit, o.Aggs
	if len(aggs) == 0 {
		aggs = []prior.Agg{prior.Sum}
	}
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	if model == "" {
		model = DefaultModelDir(ds)
	}
	shown := model // as the repository names it, so a committed fusion.json has no machine's path
	if root, err := fsutil.RepoRoot(); err == nil {
		if rel, err := filepath.Rel(root, model); err == nil && !strings.HasPrefix(rel, "..") {
			shown = rel
		}
	}
	rep := &TuneReport{Model: shown, Dataset: ds.Name, Tasks: map[string]*TuneTask{}, Date: time.Now().UTC().Format(time.RFC3339)}
	type task struct {
		name, metric string
		experts      []string
		ds           *folder.Folder
		note         string
	}
	var tasks []task
	if ds.HasQueries {
		sds, note := ds, ""
		if missing := kindsMissingFromValid(ds); len(missing) > 0 {
			sds = holdOutQueries(ds, missing)
			note = fmt.Sprintf("valid has no queries of kind %q that test has: tuned on valid plus a held-out fifth of the train queries of those kinds (left out of the baselines' statistics, but seen by the model in training)", missing)
		}
		tasks = append(tasks, task{plugin.TaskSearch, "ndcg@" + strconv.Itoa(k), []string{prior.RRF, prior.BM25, prior.Popularity}, sds, note})
	}
	if ds.HasInteractions {
		tasks = append(tasks, task{plugin.TaskRecommend, "hr@" + strconv.Itoa(k), []string{prior.RRF, prior.Content, prior.ItemKNN, prior.SeqKNN, prior.Popularity}, ds, ""})
	}
	for _, t := range tasks {
		kit, err := eval.NewKit(ctx, t.ds)
		if err != nil {
			return nil, err
		}
		eng, err := OpenEngine(ctx, model, t.ds.Items)
		if err != nil {
			kit.Close()
			return nil, err
		}
		eng.SetExperts(kit.Experts())
		info := &TuneTask{Split: "valid", Note: t.note, Metric: t.metric, ByAgg: map[string]*TuneAgg{}}
		score := func(w prior.Weights) (float64, error) {
			nm := &Method{eng: eng, beam: o.Beam, fusion: w}
			var ms eval.Methods
			if t.name == plugin.TaskSearch {
				ms.Search = map[string]eval.Searcher{"neo": nm}
			} else {
				ms.Recommend = map[string]eval.Recommender{"neo": nm}
			}
			r, err := eval.Run(ctx, t.ds, ms, eval.Options{K: k, Split: "valid", Limit: limit})
			if err != nil {
				return 0, err
			}
			b := r.Recommend
			if t.name == plugin.TaskSearch {
				b = r.Search
			}
			if b == nil || b["neo"] == nil {
				return 0, fmt.Errorf("%s: nothing measured on valid (%v)", t.name, r.Skipped)
			}
			info.Cases = int(b["neo"]["n"])
			s := b["neo"][t.metric]
			fmt.Fprintf(logw, "tune %s (%s): %v → %s %.4f\n", t.name, eng.FusionAgg(t.name), map[string]float64(w), t.metric, s)
			return s, nil
		}
		start := prior.Weights{}
		for _, n := range t.experts {
			start[n] = 1
		}
		info.Pure, err = score(prior.Weights{})
		for i, agg := range aggs {
			if err != nil {
				break
			}
			eng.SetFusionAgg(t.name, agg)
			var best prior.Weights
			var s float64
			var trials []eval.Trial
			best, s, trials, err = eval.Tune(t.experts, eval.TuneGrid, start, 2, score)
			info.ByAgg[agg.String()] = &TuneAgg{Best: s, Weights: best, Trials: trials}
			if i == 0 || s > info.Best {
				info.Best, info.Weights, info.Agg = s, best, agg
			}
		}
		eng.Close()
		eng.Catalog().Close()
		kit.Close()
		if err != nil {
			return nil, err
		}
		if info.Best <= info.Pure { // the experts did not help on valid: serve the model alone
			info.Best, info.Weights = info.Pure, prior.Weights{}
		}
		rep.Tasks[t.name] = info
	}
	rep.Seconds = time.Since(start).Seconds()
	aggOf := map[string]prior.Agg{}
	out := map[string]any{"tuning": rep, "agg": aggOf}
	for task, info := range rep.Tasks {
		out[task], aggOf[task] = info.Weights, info.Agg
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := fsutil.WriteFile(filepath.Join(model, plugin.FusionFile), append(b, '\n')); err != nil {
		return nil, err
	}
	return rep, nil
}

// kindsMissingFromValid lists the query kinds (folder.Query.Kind, "" for
// unlabelled) of the test split that the valid split lacks: all of them
// when there are no valid queries.
func kindsMissingFromValid(ds *folder.Folder) []string {
	valid := map[string]bool{}
	for _, q := range ds.QueriesOf("valid") {
		valid[q.Kind] = true
	}
	var out []string
	for _, q := range ds.QueriesOf("test") {
		if !valid[q.Kind] && !slices.Contains(out, q.Kind) {
			out = append(out, q.Kind)
		}
	}
	slices.Sort(out)
	return out
}

// holdOutQueries returns a copy of ds in which one in five train queries
// of the given kinds, chosen by a hash of their text, becomes "valid".
func holdOutQueries(ds *folder.Folder, kinds []string) *folder.Folder {
	c := *ds
	c.Queries = make([]folder.Query, len(ds.Queries))
	copy(c.Queries, ds.Queries)
	for i := range c.Queries {
		if c.Queries[i].Split != "train" || !slices.Contains(kinds, c.Queries[i].Kind) {
			continue
		}
		h := fnv.New32a()
		h.Write([]byte(c.Queries[i].Query))
		if h.Sum32()%5 == 0 {
			c.Queries[i].Split = "valid"
		}
	}
	return &c
}
