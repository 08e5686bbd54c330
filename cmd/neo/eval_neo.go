package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/neo-search/neo/exporter"
	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/plugin"
	"github.com/neo-search/neo/plugin/eval"
	"github.com/neo-search/neo/sid"
)

// evalModelDir is `neo eval --model`; evalBeam is `--beam` (0: engine default).
var (
	evalModelDir string
	evalBeam     int
)

// neoMethods loads the model for `neo eval` as method "neo": an in-memory
// catalog of the data set's items carrying the SIDs the model was trained
// on (the model directory's sids.tsv), and the engine over it. With no
// model directory there is no "neo" entry.
func neoMethods(ctx context.Context, ds *eval.Dataset) (eval.Searcher, eval.Recommender, error) {
	dir := evalModelDir
	if dir == "" {
		dir = filepath.Join(ds.Dir, "model")
		if ds.Name == "demo" {
			dir = filepath.Join(filepath.Dir(ds.Dir), "model")
		}
		if _, err := os.Stat(filepath.Join(dir, "model.onnx")); err != nil {
			fmt.Fprintf(os.Stderr, "eval: no model at %s; method neo skipped (train one with neo train, or pass --model)\n", dir)
			return nil, nil, nil
		}
	}
	eng, err := openEngineOn(ctx, dir, ds.Items)
	if err != nil {
		return nil, nil, err
	}
	m := &neoMethod{eng: eng}
	return m, m, nil
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
// trained with: as many items as fit for a model trained on recommend
// sequences, else the exporter's default MaxHistory.
func evalEngineConfig(modelDir string) plugin.Config {
	cfg := plugin.Config{MaxHistory: 1 << 20, PromptHistory: exporter.DefaultMaxHistory}
	if m, err := exporter.LoadMeta(modelDir); err == nil && len(m.Templates[exporter.TaskRecommendSequence]) > 0 {
		cfg.PromptHistory = 0
	}
	return cfg
}

// neoMethod adapts the engine to the evaluation's interfaces. It serves
// both tasks, so Close may be called twice.
type neoMethod struct {
	eng  *plugin.Engine
	once sync.Once
	err  error
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
	resp, err := m.eng.Generate(ctx, req)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(resp.Items))
	for i, it := range resp.Items {
		out[i] = it.ID
	}
	return out, nil
}

func (m *neoMethod) Close() error {
	m.once.Do(func() {
		cat := m.eng.Catalog()
		m.err = m.eng.Close()
		if cerr := cat.Close(); m.err == nil {
			m.err = cerr
		}
	})
	return m.err
}
