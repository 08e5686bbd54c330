// Package neoeval evaluates a model directory through the engine: neo as
// an eval method (with the model directory's fusion, the model alone, and
// reciprocal rank fusion after decoding for comparison), and the tuning of
// the fusion weights on the valid split that writes fusion.json. It is
// what `neo eval` runs for the neo entries; plugin/eval itself knows only
// metrics, baselines and the runner.
package neoeval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/neo-search/neo/exporter"
	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/index/assign"
	"github.com/neo-search/neo/index/folder"
	"github.com/neo-search/neo/plugin"
	"github.com/neo-search/neo/plugin/eval"
	"github.com/neo-search/neo/plugin/prior"
	"github.com/neo-search/neo/sid"
)

// Options configure the neo entries of an evaluation. The zero value
// decodes as neo serves: the model directory's fusion weights and
// aggregation, the engine's beam, no NAME_rrf entries.
type Options struct {
	Beam   int                      // beam width (0: the engine's, max(k, 10))
	Agg    *prior.Agg               // every task's aggregation (nil: the model directory's)
	Fusion map[string]prior.Weights // task → weights (nil: the model directory's fusion.json)
	RRF    bool                     // also add NAME_rrf
	// New are a cold-start run's new items: the model's sids.tsv does not
	// name them, and they are written into the catalog as a PUT without
	// an SID writes them, coded by the quantizer of the catalog in
	// Quantizer (its directory). nil: none.
	New       map[string]bool
	Quantizer string
	// Coded receives how many new items got an SID (nil: not reported).
	Coded func(coded, failed int)
	// Mixed is how many mixed answers RunDir checks (Mixed; 0: none).
	Mixed int
}

// DefaultModelDir is where a data folder's model lives unless the caller
// names one: testdata/model for the demo, DIR/model otherwise.
func DefaultModelDir(ds *folder.Folder) string {
	if ds.Name == "demo" {
		return filepath.Join(filepath.Dir(ds.Dir), "model")
	}
	return filepath.Join(ds.Dir, "model")
}

// Add opens the model of dir over an in-memory catalog of the
// data set's items carrying the SIDs the model was trained on (the model
// directory's sids.tsv) and adds, per task it serves:
//   - NAME: neo as it serves, the model with in-beam fusion under the
//     weights of --fusion or the model directory's fusion.json (the model
//     alone when neither has weights for the task);
//   - NAME_model: the model alone (fusion "none"), only when NAME fuses,
//     so the report shows what the priors add;
//   - NAME_rrf: reciprocal rank fusion of the model's list with the
//     baselines' lists (fusion after decoding), only with o.RRF: a
//     comparison for in-beam fusion, not part of what neo serves.
//
// used is, per task that fuses, the weights and aggregation (the report's
// "fusion"). Close the returned Method when done.
func Add(ctx context.Context, ds *folder.Folder, kit *eval.Kit, dir, name string, search, recommend bool, m *eval.Methods, o Options) (_ *Method, used map[string]any, _ error) {
	eng, uncoded, err := openEngine(ctx, dir, ds.Items, o)
	if err != nil {
		return nil, nil, err
	}
	eng.SetExperts(kit.Experts())
	if o.Agg != nil {
		eng.SetFusionAgg(plugin.TaskSearch, *o.Agg)
		eng.SetFusionAgg(plugin.TaskRecommend, *o.Agg)
	}
	weights := map[string]prior.Weights{plugin.TaskSearch: eng.Fusion(plugin.TaskSearch), plugin.TaskRecommend: eng.Fusion(plugin.TaskRecommend)}
	if o.Fusion != nil {
		weights = o.Fusion
	}
	used = map[string]any{}
	for task, w := range weights {
		if w.Active() {
			used[task] = map[string]any{"weights": w, "agg": eng.FusionAgg(task).String()}
		}
	}
	pure := &Method{eng: eng, beam: o.Beam, fusion: prior.Weights{}, cache: map[string][]string{}, uncoded: uncoded}
	base := kit.Baselines()
	add := func(task string, set func(string, any)) {
		if w := weights[task]; w.Active() {
			set(name, &Method{eng: eng, beam: o.Beam, fusion: w, shared: pure, uncoded: uncoded})
			set(name+"_model", pure)
		} else {
			set(name, pure)
		}
	}
	if search {
		add(plugin.TaskSearch, func(n string, v any) { m.Search[n] = v.(eval.Searcher) })
		if o.RRF {
			m.Search[name+"_rrf"] = eval.RRFSearch{pure.cached(), base.Search["bm25"], base.Search["popularity"]}
		}
	}
	if recommend {
		add(plugin.TaskRecommend, func(n string, v any) { m.Recommend[n] = v.(eval.Recommender) })
		if o.RRF {
			m.Recommend[name+"_rrf"] = eval.RRFRecommend{pure.cached(), base.Recommend["itemknn"], base.Recommend["seqknn"], base.Recommend["popularity"]}
		}
	}
	return pure, used, nil
}

// ParseFusion reads fusion weights as `neo eval --fusion` takes them:
// "none", an object of weights for every task, or an object of tasks to
// weights (as fusion.json). "" is nil: the model directory's.
func ParseFusion(s string) (map[string]prior.Weights, error) {
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
			return ParseFusion(`{"search":{},` + strings.TrimPrefix(strings.TrimSpace(s), "{"))
		}
	}
	w, err := prior.Parse(v)
	if err != nil {
		return nil, fmt.Errorf("--fusion: %w", err)
	}
	return map[string]prior.Weights{plugin.TaskSearch: w, plugin.TaskRecommend: w}, nil
}

// OpenEngine builds an in-memory catalog of items with the SIDs of the
// model directory and opens the engine over it. Closing the engine leaves
// the catalog open: close eng.Catalog() too.
func OpenEngine(ctx context.Context, modelDir string, items []index.Item) (*plugin.Engine, error) {
	eng, _, err := openEngine(ctx, modelDir, items, Options{})
	return eng, err
}

// openEngine is OpenEngine with o's new items written after the import;
// uncoded are those the coder could not give an SID.
func openEngine(ctx context.Context, modelDir string, items []index.Item, o Options) (_ *plugin.Engine, uncoded map[string]bool, _ error) {
	sids, err := sid.ReadAssignments(filepath.Join(modelDir, sid.AssignmentsFile))
	if err != nil {
		return nil, nil, err
	}
	cat, err := index.OpenMem()
	if err != nil {
		return nil, nil, err
	}
	eng, uncoded, err := openOn(ctx, cat, modelDir, items, sids, o)
	if err != nil {
		cat.Close()
		return nil, nil, err
	}
	return eng, uncoded, nil
}

// openOn fills cat and opens the engine over it.
func openOn(ctx context.Context, cat *index.Catalog, modelDir string, items []index.Item, sids map[string]string, o Options) (_ *plugin.Engine, uncoded map[string]bool, _ error) {
	withSIDs := make([]index.Item, 0, len(items))
	var fresh []index.Item
	for _, it := range items {
		it.SID = sids[it.ID]
		if o.New[it.ID] {
			if it.SID != "" {
				return nil, nil, fmt.Errorf("new item %s is in the model's %s: it was trained on", it.ID, sid.AssignmentsFile)
			}
			fresh = append(fresh, it)
			continue
		}
		withSIDs = append(withSIDs, it)
	}
	var buf bytes.Buffer
	if err := folder.WriteNDJSON(&buf, withSIDs); err != nil {
		return nil, nil, err
	}
	rep, err := cat.Import(ctx, &buf, index.ImportOptions{})
	if err != nil {
		return nil, nil, err
	}
	if len(rep.Bad) > 0 {
		return nil, nil, fmt.Errorf("catalog for the model: %d bad items, first: %v", len(rep.Bad), &rep.Bad[0])
	}
	if err := cat.Rebuild(); err != nil {
		return nil, nil, err
	}
	if len(fresh) > 0 {
		if uncoded, err = putNew(cat, modelDir, fresh, o); err != nil {
			return nil, nil, err
		}
	}
	eng, err := plugin.Open(modelDir, cat, EngineConfig(modelDir))
	return eng, uncoded, err
}

// putNew writes the new items through the write path of a PUT without an
// SID (assign.Coder, bounded by the model's codebooks); an item the coder
// cannot place is written without an SID, as the server would, and
// returned in uncoded.
func putNew(cat *index.Catalog, modelDir string, fresh []index.Item, o Options) (uncoded map[string]bool, _ error) {
	meta, err := sid.LoadModelMeta(modelDir)
	if err != nil {
		return nil, err
	}
	coder, err := assign.NewCoder(cat, o.Quantizer, meta.SID)
	if err != nil {
		return nil, err
	}
	if coder == nil {
		return nil, fmt.Errorf("new items: no quantizer beside %s", o.Quantizer)
	}
	uncoded = map[string]bool{}
	for _, it := range fresh {
		_, err := coder.Put(it)
		switch {
		case errors.Is(err, assign.ErrCannotCode):
			uncoded[it.ID] = true
			if err := cat.Put(it); err != nil {
				return nil, fmt.Errorf("new item %s: %w", it.ID, err)
			}
		case err != nil:
			return nil, fmt.Errorf("new item %s: %w", it.ID, err)
		}
	}
	if o.Coded != nil {
		o.Coded(len(fresh)-len(uncoded), len(uncoded))
	}
	return uncoded, nil
}

// EngineConfig takes whole histories (the evaluation protocol passes a
// user's every train and valid event; all of them are excluded from the
// answers) and renders into the prompt as much history as the model was
// trained with (the engine reads neo.json prompt_history; models exported
// before it was recorded get the exporter's default MaxHistory, unless they
// were trained on recommend sequences, which fill max_seq).
func EngineConfig(modelDir string) plugin.Config {
	cfg := plugin.Config{MaxHistory: 1 << 20}
	if m, err := sid.LoadModelMeta(modelDir); err == nil && m.PromptHistory == 0 && len(m.Templates[sid.TaskRecommendSequence]) == 0 {
		cfg.PromptHistory = exporter.DefaultMaxHistory
	}
	return cfg
}

// Method adapts the engine to the evaluation's interfaces (eval.Searcher
// and eval.Recommender). It serves both tasks, so Close may be called
// twice.
type Method struct {
	eng    *plugin.Engine
	beam   int           // 0: the engine's
	fusion prior.Weights // nil: the model directory's defaults
	// cache keeps the answers of the model alone, for NAME_rrf; shared
	// points a fusion variant at the method that owns the engine.
	cache  map[string][]string
	shared *Method
	once   sync.Once
	err    error
	// uncoded are new items of a cold-start run without an SID: left out
	// of histories, as a client leaves out what the engine cannot name.
	uncoded map[string]bool
}

// cached answers from the cache of this method's earlier answers (the
// runner asks NAME before NAME_rrf), running the model for a miss.
func (m *Method) cached() *cachedNeo { return &cachedNeo{m} }

type cachedNeo struct{ m *Method }

// rrfNeoDepth is the list length of the model alone inside NAME_rrf: the
// runner's depth, so its answers come from the cache (a beam as wide as
// prior.RRFDepth would cost ten times as much).
const rrfNeoDepth = 30

func (c *cachedNeo) Search(ctx context.Context, q folder.Query, k int) ([]string, error) {
	return c.m.Search(ctx, q, min(k, rrfNeoDepth))
}

func (c *cachedNeo) Recommend(ctx context.Context, history []string, typ string, k int) ([]string, error) {
	return c.m.Recommend(ctx, history, typ, min(k, rrfNeoDepth))
}

// Engine is the engine the method decodes with.
func (m *Method) Engine() *plugin.Engine { return m.eng }

// Search implements eval.Searcher.
func (m *Method) Search(ctx context.Context, q folder.Query, k int) ([]string, error) {
	req := plugin.Request{Task: plugin.TaskSearch, Query: q.Query, K: k, Format: plugin.FormatIDs}
	if q.Type != "" {
		req.Types = []string{q.Type}
	}
	return m.ids(ctx, req)
}

// Recommend implements eval.Recommender.
func (m *Method) Recommend(ctx context.Context, history []string, typ string, k int) ([]string, error) {
	if len(m.uncoded) > 0 {
		history = slices.DeleteFunc(slices.Clone(history), func(h string) bool { return m.uncoded[h] })
	}
	req := plugin.Request{Task: plugin.TaskRecommend, History: history, K: k, Format: plugin.FormatIDs}
	if typ != "" {
		req.Types = []string{typ}
	}
	return m.ids(ctx, req)
}

func (m *Method) ids(ctx context.Context, req plugin.Request) ([]string, error) {
	if m.beam > 0 {
		req.BeamWidth = max(m.beam, req.K)
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

// Close closes the engine and its catalog (once, by the method that owns
// them).
func (m *Method) Close() error {
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
