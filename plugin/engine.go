package plugin

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/onnx"
	"github.com/neo-search/neo/plugin/prior"
	"github.com/neo-search/neo/sid"
)

// Errors a caller can map to statuses.
var (
	// ErrBadRequest wraps every validation error of a Request (HTTP 400).
	ErrBadRequest = errors.New("bad request")
	// ErrOverloaded means the decode queue is full (HTTP 429/503).
	ErrOverloaded = errors.New("engine overloaded")
	// ErrNotReady means no model is loaded (HTTP 503).
	ErrNotReady = errors.New("engine not ready")
)

// Config tunes an Engine. Zero values take the defaults noted.
type Config struct {
	LibraryPath    string // onnxruntime library; "" = default lookup
	IntraOpThreads int    // default 1: dynamic batching uses the cores better than intra-op threads
	InterOpThreads int    // default 1
	MaxBatch       int    // rows per onnxruntime run (dynamic batching), default 256
	// MergeRows caps the rows of a decode step that merges several
	// requests (default 16). Merging copies each row's KV cache in and
	// out, which a CPU does not win back above ~10 rows; on a GPU, where
	// wide batches are cheap, set it to MaxBatch.
	MergeRows int
	// MergeWait is the longest a decode step waits for sampling requests
	// that are choosing their next token, so that their rows share its
	// run (default 300µs; negative: never wait). A lone request never
	// waits.
	MergeWait  time.Duration
	MaxQueue   int // requests waiting for a decode slot, default 256
	MaxK       int // default 100
	MaxBeam    int // default 128
	MaxTokens  int // default 512
	MaxHistory int // default 200
	// PromptHistory caps the history items rendered into an instruction
	// prompt (the most recent ones); 0 = the cap the model was trained with
	// (neo.json prompt_history), or, where none is recorded, as many as fit
	// the model's max_seq. Recommend-sequence prompts are bounded by max_seq
	// alone, as in training. The whole history is still excluded from the
	// answers.
	PromptHistory int
	// OnBatch, when set, is told the row count of every onnxruntime run.
	OnBatch func(rows int)
	// FusionAgg is how a trie node's prior mass aggregates its items'
	// (prior.Sum, the default, or prior.Max).
	FusionAgg prior.Agg
	// NoFactGuard turns the fact guard off (FactGuard: the text after an
	// item states only its own catalog values). Only to measure what the
	// guard prevents; serving keeps it on.
	NoFactGuard bool
}

func (c *Config) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.IntraOpThreads, 1)
	def(&c.InterOpThreads, 1)
	def(&c.MaxBatch, 256)
	def(&c.MergeRows, 16)
	if c.MergeWait == 0 {
		c.MergeWait = 300 * time.Microsecond
	}
	def(&c.MaxQueue, 256)
	def(&c.MaxK, 100)
	def(&c.MaxBeam, 128)
	def(&c.MaxTokens, 512)
	def(&c.MaxHistory, 200)
}

// TextCodec turns plain text into BPE token ids and back (the model
// directory's tokenizer.json).
type TextCodec interface {
	Encode(text string) ([]int32, error)
	Decode(ids []int32) string
}

var _ TextCodec = (*sid.Tokenizer)(nil)

// Engine serves one model over one catalog. It is safe for concurrent use;
// concurrent requests share onnxruntime runs (dynamic batching).
type Engine struct {
	cat   *index.Catalog
	model *onnx.Model
	meta  *sid.ModelMeta
	tok   TextCodec
	cfg   Config
	sp    Specials
	sched *scheduler

	experts map[string]prior.Expert  // fusion experts by name (SetExperts)
	fusion  map[string]prior.Weights // default weights per task (fusion.json)
	aggs    map[string]prior.Agg     // aggregation per task (fusion.json), else cfg.FusionAgg
	static  distCache                // distributions of static experts per snapshot
	drift   *drift                   // what the model never saw (Drift)
	factSt  factState                // the fact guard's value trie (facts.go)

	tokens      atomic.Int64 // tokens decoded, for metrics
	procNanos   atomic.Int64 // time spent in the LogitsProcessor
	decodeNanos atomic.Int64 // time spent decoding (model + processor)
}

// Open loads the model directory (model.onnx, tokenizer.json, neo.json)
// and attaches the catalog.
func Open(modelDir string, cat *index.Catalog, cfg Config) (*Engine, error) {
	cfg.defaults()
	meta, tok, err := sid.LoadModel(modelDir)
	if err != nil {
		return nil, err
	}
	m, err := onnx.Load(modelDir, onnx.Config{LibraryPath: cfg.LibraryPath, IntraOpThreads: cfg.IntraOpThreads, InterOpThreads: cfg.InterOpThreads})
	if err != nil {
		return nil, err
	}
	if m.Vocab() < int(meta.SID.End()) {
		m.Close()
		return nil, fmt.Errorf("plugin: model has %d logits, neo.json's vocabulary needs %d", m.Vocab(), meta.SID.End())
	}
	fusion, err := LoadFusion(modelDir)
	if err != nil {
		m.Close()
		return nil, err
	}
	dr, err := loadDrift(modelDir)
	if err != nil {
		m.Close()
		return nil, err
	}
	e := &Engine{cat: cat, model: m, meta: meta, tok: tok, cfg: cfg, fusion: fusion.Weights, aggs: fusion.Agg, drift: dr}
	e.sp.EOS = meta.Special[sid.TokenEOS]
	for name, id := range meta.Special {
		switch name {
		case sid.TokenEOS:
		default:
			if id < meta.SID.Open { // markers other than SID tokens
				e.sp.Masked = append(e.sp.Masked, id)
			}
		}
	}
	sort.Slice(e.sp.Masked, func(a, b int) bool { return e.sp.Masked[a] < e.sp.Masked[b] })
	e.sched = newScheduler(m, cfg.MaxBatch, cfg.MergeRows, cfg.MaxQueue, cfg.MergeWait, cfg.OnBatch)
	return e, nil
}

// Catalog is the catalog the engine serves.
func (e *Engine) Catalog() *index.Catalog { return e.cat }

// live reports whether the catalog still holds id with the SID s (a read
// error counts as yes: a history entry is not refused for the index's
// fault).
func (e *Engine) live(id string, s sid.SID) bool {
	it, ok, err := e.cat.Get(id)
	return err != nil || (ok && it.SID == s.Key())
}

// CheckSID reports, wrapping index.ErrInvalidItem, whether the model can
// write the SID s (its type, number of codes and each code in the
// vocabulary): an item given an SID it cannot write could be neither
// generated nor named in a prompt.
func (e *Engine) CheckSID(s string) error {
	x, err := sid.Parse(s)
	if err != nil {
		return fmt.Errorf("%w: field \"sid\": %v", index.ErrInvalidItem, err)
	}
	if _, err := e.meta.SID.Tokens(x); err != nil {
		return fmt.Errorf("%w: field \"sid\": the loaded model cannot write %s: %v", index.ErrInvalidItem, x, err)
	}
	return nil
}

// Meta is the model's neo.json.
func (e *Engine) Meta() *sid.ModelMeta { return e.meta }

// TokensDecoded is the number of tokens decoded since Open.
func (e *Engine) TokensDecoded() int64 { return e.tokens.Load() }

// DecodeStats is the time spent decoding since Open and the part of it
// spent in the LogitsProcessor.
func (e *Engine) DecodeStats() (decode, processor time.Duration) {
	return time.Duration(e.decodeNanos.Load()), time.Duration(e.procNanos.Load())
}

// QueueDepth is the number of decode steps waiting for a batch.
func (e *Engine) QueueDepth() int { return e.sched.depth() }

// Close releases the model.
func (e *Engine) Close() error {
	e.sched.close()
	return e.model.Close()
}

// Generate runs a request to completion.
func (e *Engine) Generate(ctx context.Context, req Request) (*Response, error) {
	return e.Stream(ctx, req, nil)
}

// Stream runs a request and calls emit for each text chunk or resolved item
// as it is decoded (emit may be nil). The full answer is also returned.
func (e *Engine) Stream(ctx context.Context, req Request, emit func(Segment) error) (*Response, error) {
	if e == nil || e.model == nil {
		return nil, ErrNotReady
	}
	req.History = append([]string(nil), req.History...)
	req.Types = append([]string(nil), req.Types...)
	if err := e.normalize(&req); err != nil {
		return nil, err
	}
	snap := e.cat.Snapshot()
	history, histOrds, err := resolveHistory(snap, req.History, e.live)
	if err != nil {
		return nil, err
	}
	prompt, err := e.buildPrompt(&req, history)
	if err != nil {
		return nil, err
	}
	opts, set, err := e.rowOptions(ctx, &req, snap, histOrds)
	if err != nil {
		return nil, err
	}
	// The experts' hits are gathered while the prompt is prefilled.
	fus := e.startFusion(ctx, &req, snap, opts)
	resp := &Response{Task: req.Task, Format: req.Format, Segments: []Segment{}, Items: []Item{}}
	start := time.Now()
	resp.Timing.began = start
	defer func() {
		took := time.Since(start)
		e.decodeNanos.Add(int64(took))
		resp.Timing.Decode = max(0, took-resp.Timing.Prefill)
	}()
	if req.Format == FormatIDs {
		err = e.rankedList(ctx, &req, snap, set, opts, fus, prompt, resp, emit)
	} else {
		err = e.sample(ctx, &req, snap, set, opts, fus, prompt, resp, emit)
	}
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// rowOptions turns the request's filter, types and history into the
// processor's constraint, in the snapshot's ordinal numbering.
func (e *Engine) rowOptions(ctx context.Context, req *Request, snap *index.Snapshot, histOrds []uint32) (RowOptions, TrieSet, error) {
	set := TrieSet{Tries: [2]*sid.Trie{snap.Trie, snap.Delta}, TypeNames: [2][]string{snap.Types, snap.Types}}
	opts := RowOptions{Format: req.Format, Budget: req.K}
	if len(req.Types) > 0 {
		opts.Types = req.Types
	}
	mainLen := uint32(0)
	if snap.Trie != nil {
		mainLen = uint32(snap.Trie.Len())
	}
	if req.Filter != nil {
		bm, err := e.cat.FilterIn(ctx, snap, req.Filter)
		if ctxErr := ctx.Err(); ctxErr != nil {
			return opts, set, ctxErr
		}
		if err != nil {
			return opts, set, fmt.Errorf("%w: filter: %v", ErrBadRequest, err)
		}
		all := bm.ToArray()
		cut := sort.Search(len(all), func(i int) bool { return all[i] >= mainLen })
		opts.Filter[0] = all[:cut:cut]
		d := make([]uint32, len(all)-cut)
		for i, o := range all[cut:] {
			d[i] = o - mainLen
		}
		opts.Filter[1] = d
	}
	if req.Task != TaskSearch && !req.IncludeHistory {
		for _, o := range histOrds {
			if o < mainLen {
				opts.Exclude[0] = append(opts.Exclude[0], o)
			} else {
				opts.Exclude[1] = append(opts.Exclude[1], o-mainLen)
			}
		}
		for t := range opts.Exclude {
			sort.Slice(opts.Exclude[t], func(a, b int) bool { return opts.Exclude[t][a] < opts.Exclude[t][b] })
			opts.Exclude[t] = dedupe(opts.Exclude[t])
		}
	}
	return opts, set, nil
}

func dedupe(a []uint32) []uint32 {
	out := a[:0]
	for i, x := range a {
		if i == 0 || x != a[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// resolve turns emitted items into catalog items with their documents'
// fields, fetched in one index search.
func (e *Engine) resolve(snap *index.Snapshot, set TrieSet, ems []Emitted, scores []float64, fus *fusionState, explain bool) ([]Item, error) {
	items := make([]Item, len(ems))
	ids := make([]string, len(ems))
	keys := make([]string, len(ems))
	for i, em := range ems {
		ord := em.Ord
		if em.Trie == 1 && set.Tries[0] != nil {
			ord += uint32(set.Tries[0].Len())
		}
		ids[i] = snap.ID(ord)
		s := snap.SID(ord)
		keys[i] = s.Key()
		items[i] = Item{SID: s.String(), ID: ids[i], Score: scores[i]}
		if explain && fus != nil {
			items[i].Parts = fus.parts(ord, scores[i])
		}
	}
	e.drift.note(ids, keys)
	docs, err := e.cat.GetMany(ids)
	if err != nil {
		return nil, err
	}
	for i := range items {
		if doc, ok := docs[items[i].ID]; ok {
			items[i].Fields = fieldsOf(doc)
		}
	}
	return items, nil
}

func fieldsOf(doc index.Item) map[string]any {
	f := map[string]any{
		"type":     doc.Type,
		"title":    doc.Title,
		"price":    doc.Price,
		"in_stock": doc.InStock,
	}
	if doc.Description != "" {
		f["description"] = doc.Description
	}
	if doc.Brand != "" {
		f["brand"] = doc.Brand
	}
	if len(doc.Attributes) > 0 {
		attrs := make(map[string]any, len(doc.Attributes))
		for k, v := range doc.Attributes {
			attrs[k] = v
		}
		f["attributes"] = attrs
	}
	return f
}

// NewProcessor returns a LogitsProcessor for one row over the current
// catalog snapshot, as a request with this format and budget would get
// (no filter, all types). Benchmarks use it to measure the processor alone.
func (e *Engine) NewProcessor(format string, budget int) (*LogitsProcessor, int, error) {
	snap := e.cat.Snapshot()
	req := Request{Format: format, K: budget}
	opts, set, err := e.rowOptions(context.Background(), &req, snap, nil)
	if err != nil {
		return nil, 0, err
	}
	p, err := NewLogitsProcessor(e.meta.SID, e.sp, set, []RowOptions{opts})
	return p, e.model.Vocab(), err
}
