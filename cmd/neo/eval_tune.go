package main

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/internal/fsutil"
	"github.com/neo-search/neo/plugin"
	"github.com/neo-search/neo/plugin/eval"
	"github.com/neo-search/neo/plugin/prior"
)

// tuneReport is what --tune prints and writes beside the weights in
// fusion.json.
type tuneReport struct {
	Model   string                   `json:"model"`
	Dataset string                   `json:"dataset"`
	Tasks   map[string]*tuneTaskInfo `json:"tasks"`
	Seconds float64                  `json:"seconds"`
	Date    string                   `json:"date"`
}

type tuneTaskInfo struct {
	Split   string        `json:"split"`
	Note    string        `json:"note,omitempty"`
	Metric  string        `json:"metric"`
	Cases   int           `json:"cases"`
	Pure    float64       `json:"pure"` // the metric of the model alone (weights all 0)
	Best    float64       `json:"best"`
	Weights prior.Weights `json:"weights"`
	Agg     prior.Agg     `json:"agg"` // the aggregation of the best weights
	// ByAgg is the search under each aggregation tried.
	ByAgg map[string]*tuneAggInfo `json:"by_agg"`
}

type tuneAggInfo struct {
	Best    float64       `json:"best"`
	Weights prior.Weights `json:"weights"`
	Trials  []eval.Trial  `json:"trials"`
}

// evalTuneMain tunes the fusion weights of the model on the valid split:
// recommend on the valid targets; search on the valid queries, or, for a
// data folder without them, on a held-out fifth of the train queries (the
// baselines' statistics then leave them out, but the model was trained on
// them, which biases the weights toward the model). It writes fusion.json.
func evalTuneMain(ctx context.Context, dir string, k, limit int, aggs []prior.Agg, asJSON bool) int {
	start := time.Now()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "neo eval --tune:", err); return 1 }
	ds, err := eval.LoadDataset(dir)
	if err != nil {
		return fail(err)
	}
	model := evalModelDir
	if model == "" {
		model = filepath.Join(ds.Dir, "model")
		if ds.Name == "demo" {
			model = filepath.Join(filepath.Dir(ds.Dir), "model")
		}
	}
	shown := model // as the repository names it, so a committed fusion.json has no machine's path
	if root, err := fsutil.RepoRoot(); err == nil {
		if rel, err := filepath.Rel(root, model); err == nil && !strings.HasPrefix(rel, "..") {
			shown = rel
		}
	}
	rep := &tuneReport{Model: shown, Dataset: ds.Name, Tasks: map[string]*tuneTaskInfo{}, Date: time.Now().UTC().Format(time.RFC3339)}
	type task struct {
		name, metric string
		experts      []string
		ds           *eval.Dataset
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
		tasks = append(tasks, task{plugin.TaskRecommend, "hr@" + strconv.Itoa(k), []string{prior.RRF, prior.ItemKNN, prior.SeqKNN, prior.Popularity}, ds, ""})
	}
	for _, t := range tasks {
		kit, err := eval.NewKit(ctx, t.ds)
		if err != nil {
			return fail(err)
		}
		eng, err := openEngineOn(ctx, model, t.ds.Items)
		if err != nil {
			kit.Close()
			return fail(err)
		}
		eng.SetExperts(kit.Experts())
		info := &tuneTaskInfo{Split: "valid", Note: t.note, Metric: t.metric, ByAgg: map[string]*tuneAggInfo{}}
		score := func(w prior.Weights) (float64, error) {
			nm := &neoMethod{eng: eng, fusion: w}
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
			fmt.Fprintf(os.Stderr, "tune %s (%s): %v → %s %.4f\n", t.name, eng.FusionAgg(t.name), map[string]float64(w), t.metric, s)
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
			info.ByAgg[agg.String()] = &tuneAggInfo{Best: s, Weights: best, Trials: trials}
			if i == 0 || s > info.Best {
				info.Best, info.Weights, info.Agg = s, best, agg
			}
		}
		eng.Close()
		eng.Catalog().Close()
		kit.Close()
		if err != nil {
			return fail(err)
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
		return fail(err)
	}
	if err := fsutil.WriteFile(filepath.Join(model, plugin.FusionFile), append(b, '\n')); err != nil {
		return fail(err)
	}
	if asJSON {
		j, _ := json.Marshal(rep)
		fmt.Println(string(j))
	} else {
		for name, t := range rep.Tasks {
			fmt.Printf("%s: %s on %s (%d cases): model alone %.4f, tuned %.4f with %v (%s)\n", name, t.Metric, t.Split, t.Cases, t.Pure, t.Best, map[string]float64(t.Weights), t.Agg)
		}
		fmt.Printf("wrote %s\n", filepath.Join(model, plugin.FusionFile))
	}
	return 0
}

// kindsMissingFromValid lists the query kinds (index.Query.Kind, "" for
// unlabelled) of the test split that the valid split lacks: all of them
// when there are no valid queries.
func kindsMissingFromValid(ds *eval.Dataset) []string {
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
func holdOutQueries(ds *eval.Dataset, kinds []string) *eval.Dataset {
	c := *ds
	c.Queries = make([]index.Query, len(ds.Queries))
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
