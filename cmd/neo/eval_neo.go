package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/neo-search/neo/exporter"
	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/plugin"
	"github.com/neo-search/neo/plugin/eval"
	"github.com/neo-search/neo/plugin/prior"
	"github.com/neo-search/neo/sid"
)

// evalModelDir is `neo eval --model`; evalBeam is `--beam` (0: engine default).
var (
	evalModelDir string
	evalBeam     int
)

// neoMethods loads the model for `neo eval` (see addNeoMethods). With no
// model directory there is no neo entry.
func neoMethods(ctx context.Context, ds *eval.Dataset, kit *eval.Kit, m *eval.Methods) (func(), error) {
	dir := evalModelDir
	if dir == "" {
		dir = filepath.Join(ds.Dir, "model")
		if ds.Name == "demo" {
			dir = filepath.Join(filepath.Dir(ds.Dir), "model")
		}
		if _, err := os.Stat(filepath.Join(dir, "model.onnx")); err != nil {
			fmt.Fprintf(os.Stderr, "eval: no model at %s; method neo skipped (train one with neo train, or pass --model)\n", dir)
			return nil, nil
		}
	}
	nm, err := addNeoMethods(ctx, ds, kit, dir, "neo", true, true, m)
	if err != nil {
		return nil, err
	}
	return func() { nm.Close() }, nil
}

// addNeoMethods opens the model of dir over an in-memory catalog of the
// data set's items carrying the SIDs the model was trained on (the model
// directory's sids.tsv) and adds, per task it serves:
//   - NAME: neo as it serves, the model with in-beam fusion under the
//     weights of --fusion or the model directory's fusion.json (the model
//     alone when neither has weights for the task);
//   - NAME_model: the model alone (fusion "none"), only when NAME fuses,
//     so the report shows what the priors add;
//   - NAME_rrf: reciprocal rank fusion of the model's list with the
//     baselines' lists (fusion after decoding), only when --methods names
//     it: a comparison for in-beam fusion, not part of what neo serves.
func addNeoMethods(ctx context.Context, ds *eval.Dataset, kit *eval.Kit, dir, name string, search, recommend bool, m *eval.Methods) (*neoMethod, error) {
	eng, err := openEngineOn(ctx, dir, ds.Items)
	if err != nil {
		return nil, err
	}
	eng.SetExperts(kit.Experts())
	if evalAgg != nil {
		eng.SetFusionAgg(plugin.TaskSearch, *evalAgg)
		eng.SetFusionAgg(plugin.TaskRecommend, *evalAgg)
	}
	weights := map[string]prior.Weights{plugin.TaskSearch: eng.Fusion(plugin.TaskSearch), plugin.TaskRecommend: eng.Fusion(plugin.TaskRecommend)}
	if evalFusion != nil {
		weights = evalFusion
	}
	for task, w := range weights {
		if w.Active() {
			evalFusionUsed[task] = map[string]any{"weights": w, "agg": eng.FusionAgg(task).String()}
		}
	}
	pure := &neoMethod{eng: eng, fusion: prior.Weights{}, cache: map[string][]string{}}
	base := kit.Baselines()
	add := func(task string, set func(string, any)) {
		if w := weights[task]; w.Active() {
			set(name, &neoMethod{eng: eng, fusion: w, shared: pure})
			set(name+"_model", pure)
		} else {
			set(name, pure)
		}
	}
	if search {
		add(plugin.TaskSearch, func(n string, v any) { m.Search[n] = v.(eval.Searcher) })
		if evalWants(name + "_rrf") {
			m.Search[name+"_rrf"] = eval.RRFSearch{pure.cached(), base.Search["bm25"], base.Search["popularity"]}
		}
	}
	if recommend {
		add(plugin.TaskRecommend, func(n string, v any) { m.Recommend[n] = v.(eval.Recommender) })
		if evalWants(name + "_rrf") {
			m.Recommend[name+"_rrf"] = eval.RRFRecommend{pure.cached(), base.Recommend["itemknn"], base.Recommend["seqknn"], base.Recommend["popularity"]}
		}
	}
	return pure, nil
}

// evalMethods is `neo eval --methods` as a list (nil: every default entry).
var evalMethods []string

// evalWants reports whether --methods names the entry explicitly.
func evalWants(name string) bool { return slices.Contains(evalMethods, name) }

// evalFusionUsed collects the fusion of the neo entries for the report.
var evalFusionUsed = map[string]any{}

// evalAgg is `neo eval --agg` (nil: the model directory's).
var evalAgg *prior.Agg

// evalFusion is `neo eval --fusion` (nil: the model directory's weights).
var evalFusion map[string]prior.Weights

// parseFusionFlag reads --fusion: "none", an object of weights for every
// task, or an object of tasks to weights (as fusion.json).
func parseFusionFlag(s string) (map[string]prior.Weights, error) {
	if s == "" {
		return nil, nil
	}
	var v any = s
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return nil, fmt.Errorf("--fusion: %w", err)
		}
	}
	if obj, ok := v.(map[string]any); ok {
		if _, per := obj[plugin.TaskSearch]; per {
			out := map[string]prior.Weights{}
			for task, x := range obj {
				w, err := prior.Parse(x)
				if err != nil {
					return nil, fmt.Errorf("--fusion %s: %w", task, err)
				}
				out[task] = w
			}
			return out, nil
		}
		if _, per := obj[plugin.TaskRecommend]; per {
			return parseFusionFlag(`{"search":{},` + strings.TrimPrefix(strings.TrimSpace(s), "{"))
		}
	}
	w, err := prior.Parse(v)
	if err != nil {
		return nil, fmt.Errorf("--fusion: %w", err)
	}
	return map[string]prior.Weights{plugin.TaskSearch: w, plugin.TaskRecommend: w}, nil
}

// openEngineOn builds an in-memory catalog of items with the SIDs of the
// model directory and opens the engine over it.
func openEngineOn(ctx context.Context, modelDir string, items []index.Item) (*plugin.Engine, error) {
	sids, err := sid.ReadAssignments(filepath.Join(modelDir, sid.AssignmentsFile))
	if err != nil {
		return nil, err
	}
	cat, err := index.OpenMem()
	if err != nil {
		return nil, err
	}
	withSIDs := make([]index.Item, len(items))
	for i, it := range items {
		it.SID = sids[it.ID]
		withSIDs[i] = it
	}
	var buf bytes.Buffer
	if err := index.WriteNDJSON(&buf, withSIDs); err != nil {
		return nil, err
	}
	rep, err := cat.Import(ctx, &buf, index.ImportOptions{})
	if err != nil {
		return nil, err
	}
	if len(rep.Bad) > 0 {
		return nil, fmt.Errorf("catalog for the model: %d bad items, first: %v", len(rep.Bad), &rep.Bad[0])
	}
	if err := cat.Rebuild(); err != nil {
		return nil, err
	}
	return plugin.Open(modelDir, cat, evalEngineConfig(modelDir))
}

// evalEngineConfig takes whole histories (the evaluation protocol passes a
// user's every train and valid event; all of them are excluded from the
// answers) and renders into the prompt as much history as the model was
// trained with (the engine reads neo.json prompt_history; models exported
// before it was recorded get the exporter's default MaxHistory, unless they
// were trained on recommend sequences, which fill max_seq).
func evalEngineConfig(modelDir string) plugin.Config {
	cfg := plugin.Config{MaxHistory: 1 << 20}
	if m, err := sid.LoadModelMeta(modelDir); err == nil && m.PromptHistory == 0 && len(m.Templates[sid.TaskRecommendSequence]) == 0 {
		cfg.PromptHistory = exporter.DefaultMaxHistory
	}
	return cfg
}

// neoMethod adapts the engine to the evaluation's interfaces. It serves
// both tasks, so Close may be called twice.
type neoMethod struct {
	eng    *plugin.Engine
	fusion prior.Weights // nil: the model directory's defaults
	// cache keeps the answers of the model alone, for NAME_rrf; shared
	// points a fusion variant at the method that owns the engine.
	cache  map[string][]string
	shared *neoMethod
	once   sync.Once
	err    error
}

// cached answers from the cache of this method's earlier answers (the
// runner asks NAME before NAME_rrf), running the model for a miss.
func (m *neoMethod) cached() *cachedNeo { return &cachedNeo{m} }

type cachedNeo struct{ m *neoMethod }

// rrfNeoDepth is the list length of the model alone inside NAME_rrf: the
// runner's depth, so its answers come from the cache (a beam as wide as
// prior.RRFDepth would cost ten times as much).
const rrfNeoDepth = 30

func (c *cachedNeo) Search(ctx context.Context, q index.Query, k int) ([]string, error) {
	return c.m.Search(ctx, q, min(k, rrfNeoDepth))
}

func (c *cachedNeo) Recommend(ctx context.Context, history []string, typ string, k int) ([]string, error) {
	return c.m.Recommend(ctx, history, typ, min(k, rrfNeoDepth))
}

func (m *neoMethod) Search(ctx context.Context, q index.Query, k int) ([]string, error) {
	req := plugin.Request{Task: plugin.TaskSearch, Query: q.Query, K: k, Format: plugin.FormatIDs}
	if q.Type != "" {
		req.Types = []string{q.Type}
	}
	return m.ids(ctx, req)
}

func (m *neoMethod) Recommend(ctx context.Context, history []string, typ string, k int) ([]string, error) {
	req := plugin.Request{Task: plugin.TaskRecommend, History: history, K: k, Format: plugin.FormatIDs}
	if typ != "" {
		req.Types = []string{typ}
	}
	return m.ids(ctx, req)
}

func (m *neoMethod) ids(ctx context.Context, req plugin.Request) ([]string, error) {
	if evalBeam > 0 {
		req.BeamWidth = max(evalBeam, req.K)
	}
	req.Fusion = m.fusion
	var key string
	if m.cache != nil {
		key = fmt.Sprintf("%s\x00%s\x00%q\x00%q\x00%d", req.Task, req.Query, req.History, req.Types, req.K)
		if ids, ok := m.cache[key]; ok {
			return ids, nil
		}
	}
	resp, err := m.eng.Generate(ctx, req)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(resp.Items))
	for i, it := range resp.Items {
		out[i] = it.ID
	}
	if m.cache != nil {
		m.cache[key] = out
	}
	return out, nil
}

func (m *neoMethod) Close() error {
	if m.shared != nil {
		return nil // the owner closes the engine
	}
	m.once.Do(func() {
		cat := m.eng.Catalog()
		m.err = m.eng.Close()
		if cerr := cat.Close(); m.err == nil {
			m.err = cerr
		}
	})
	return m.err
}
