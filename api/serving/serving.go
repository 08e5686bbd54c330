// Package serving assembles what `neo serve` and `neo bench serve` run:
// the catalog (built from a demo data folder on the first start, with the
// model's SIDs), the engine with the fusion experts of the catalog and the
// interaction log when a model loads, and the HTTP server over them.
package serving

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/neo-search/neo/api"
	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/index/assign"
	"github.com/neo-search/neo/index/folder"
	"github.com/neo-search/neo/plugin"
	"github.com/neo-search/neo/plugin/prior"
	"github.com/neo-search/neo/sid"
)

// Options are what Open assembles. The zero value of each engine field is
// the engine's default (plugin.Config).
type Options struct {
	IndexDir, IndexName string
	ModelDir            string    // "" or missing: serve without a model
	DemoDir             string    // data folder imported when IndexDir does not exist ("": start empty)
	Interactions        string    // interaction log of the collaborative experts ("": bm25 only)
	Progress            io.Writer // progress bars of the demo import (nil: silent)
	ORTLib              string    // onnxruntime library ("": the default lookup)
	Threads, MaxBatch   int
	MergeRows           int
	EngineQueue         int
	MergeWait           time.Duration
	API                 api.Config // the server's; Catalog, Generator, ParseQuery, Logger and NotReadyReason are set by Open
}

// Serving is an open catalog, the engine if a model loaded, and the server
// over them.
type Serving struct {
	Catalog  *index.Catalog
	Engine   *plugin.Engine // nil: no model (NotReady says why)
	NotReady string
	Server   *api.Server
	ModelDir string
}

// ModelState says which model serves, or why none does.
func (s *Serving) ModelState() string {
	if s.Engine != nil {
		return s.ModelDir
	}
	return "none (" + s.NotReady + ")"
}

// Close closes the engine and the catalog.
func (s *Serving) Close() {
	if s.Engine != nil {
		_ = s.Engine.Close()
	}
	if s.Catalog != nil {
		_ = s.Catalog.Close()
	}
}

// Open opens (or first creates from the demo) the catalog, loads the model
// when there is one, gives it the fusion experts of the catalog and the
// interaction log, and builds the server. A model that is absent or fails
// to load is not fatal: the server then reports not ready and serves the
// catalog API.
func Open(ctx context.Context, o Options, log *slog.Logger) (*Serving, error) {
	if _, err := os.Stat(o.IndexDir); errors.Is(err, os.ErrNotExist) && o.DemoDir != "" {
		log.Info("index not found: importing the demo catalog", "index", o.IndexDir, "demo", o.DemoDir)
		if err := importDemo(ctx, o.IndexDir, o.DemoDir, o.ModelDir, o.Progress); err != nil {
			return nil, fmt.Errorf("importing %s into %s: %w", o.DemoDir, o.IndexDir, err)
		}
	}
	cat, err := index.Open(o.IndexDir)
	if err != nil {
		return nil, err
	}
	st := &Serving{Catalog: cat, ModelDir: o.ModelDir}
	switch fi, err := os.Stat(o.ModelDir); {
	case o.ModelDir == "":
		st.NotReady = "no model directory (--model / NEO_MODEL empty, and no testdata/model)"
	case err != nil || !fi.IsDir():
		st.NotReady = fmt.Sprintf("model directory %s not found", o.ModelDir)
	default:
		metrics := o.API.Metrics
		if metrics == nil {
			metrics = api.Metrics
		}
		lim := o.API.Limits
		eng, err := plugin.Open(o.ModelDir, cat, plugin.Config{
			LibraryPath: o.ORTLib, IntraOpThreads: o.Threads, MaxBatch: o.MaxBatch, MergeRows: o.MergeRows, MergeWait: o.MergeWait, MaxQueue: o.EngineQueue,
			// The engine checks the same bounds the API does, so a request
			// the API lets through is not refused further down.
			MaxK: lim.MaxK, MaxTokens: lim.MaxTokens, MaxHistory: lim.MaxHistory,
			OnBatch: metrics.ObserveBatch,
		})
		if err != nil || eng == nil {
			st.NotReady = fmt.Sprintf("loading model %s: %v", o.ModelDir, err)
		} else if err := setExperts(eng, cat, o.Interactions, log); err != nil {
			eng.Close()
			st.NotReady = fmt.Sprintf("fusion experts: %v", err)
		} else {
			st.Engine = eng
		}
	}
	if st.Engine == nil {
		log.Warn("serving without a model: search, recommend and generate answer 503 not_ready", "reason", st.NotReady)
	}
	cfg := o.API
	cfg.Catalog = cat
	cfg.IndexName = o.IndexName
	cfg.Logger = log
	cfg.NotReadyReason = st.NotReady
	if st.Engine != nil {
		cfg.Generator = st.Engine // only a non-nil engine: a nil *Engine in the interface would look loaded
	}
	// The engine's parser turns {"generative": {...}} nodes into queries
	// that compose with Bleve's; with no engine they answer not_ready.
	cfg.ParseQuery = func(data []byte) (query.Query, error) { return plugin.ParseQuery(data, st.Engine) }
	// Items PUT without an SID get one from the catalog's quantizer, one
	// the model can write.
	var vocab *sid.Vocab
	if st.Engine != nil {
		vocab = st.Engine.Meta().SID
	}
	coder, err := assign.NewCoder(cat, o.IndexDir, vocab)
	if err != nil {
		log.Warn("no SIDs for new items", "err", err)
	} else if coder != nil {
		cfg.Coder = coder
	}
	srv, err := api.New(cfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	st.Server = srv
	return st, nil
}

// importDemo builds a catalog from a data folder the way `make demo` does
// (assign.Build: import, SIDs with the interactions and default options,
// the model's own sids.tsv on top).
func importDemo(ctx context.Context, dir, data, modelDir string, progress io.Writer) error {
	inter := filepath.Join(data, folder.InteractionsFile)
	if _, err := os.Stat(inter); err != nil {
		inter = ""
	}
	rep, err := assign.Build(ctx, dir, assign.BuildOptions{
		Items: filepath.Join(data, folder.ItemsFile), Interactions: inter, Model: modelDir,
		ImportProgress: progress, Progress: progress,
	})
	if err != nil {
		return err
	}
	if bad := rep.Import.Bad; len(bad) > 0 {
		slog.Warn("demo import skipped bad lines", "bad", len(bad), "first", bad[0].Error())
	}
	return nil
}

// setExperts gives the engine the fusion experts of the catalog (bm25, and
// the collaborative ones over the interactions file when there is one).
func setExperts(eng *plugin.Engine, cat *index.Catalog, interactions string, log *slog.Logger) error {
	var events []folder.Interaction
	if interactions != "" {
		f, err := os.Open(interactions)
		if err != nil {
			return err
		}
		events, err = folder.ReadInteractions(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", interactions, err)
		}
	}
	ex, err := prior.CatalogExperts(cat, events)
	if err != nil {
		return err
	}
	eng.SetExperts(ex)
	log.Info("fusion", "interactions", len(events), "search", eng.Fusion(plugin.TaskSearch), "recommend", eng.Fusion(plugin.TaskRecommend))
	return nil
}
