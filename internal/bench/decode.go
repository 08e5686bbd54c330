package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/neo-search/neo/index/folder"
	"github.com/neo-search/neo/internal/stats"
	"github.com/neo-search/neo/plugin"
	"github.com/neo-search/neo/plugin/eval"
	"github.com/neo-search/neo/plugin/eval/neoeval"
	"github.com/neo-search/neo/plugin/prior"
	"github.com/neo-search/neo/sid"
)

// DecodeResult is what `neo bench decode --json` prints.
type DecodeResult struct {
	Model       string  `json:"model"`
	Requests    int     `json:"requests"`
	K           int     `json:"k"`
	Beam        int     `json:"beam"`
	SearchMsP50 float64 `json:"search_ms_p50"`
	SearchMsP99 float64 `json:"search_ms_p99"`
	// With fusion (the model directory's search weights, experts over the
	// data folder as neo eval builds them), timed in the same loop as the
	// model alone, request by request; absent without search weights.
	Fusion             map[string]float64 `json:"fusion,omitempty"`
	SearchFusionMsP50  float64            `json:"search_fusion_ms_p50,omitempty"`
	SearchFusionMsP99  float64            `json:"search_fusion_ms_p99,omitempty"`
	FusionP50Ratio     float64            `json:"fusion_p50_ratio,omitempty"`
	ProcessorShare     float64            `json:"processor_share"`
	ProcessorSteps     int                `json:"processor_steps"`
	ProcessorNsPerStep float64            `json:"processor_ns_per_step"`
	AllocsPerStep      float64            `json:"allocs_per_step"`
}

// DecodeOptions say what Decode times. Model and Data are required.
type DecodeOptions struct {
	Model, Data string    // model directory; data folder of the items and (test) queries
	Requests    int       // searches to time
	K, Beam     int       // items per search, beam width
	CPUProfile  io.Writer // a CPU profile of the timed searches (nil: none)
}

// Decode times top-k searches through the engine over the data folder's
// items, the model alone and, when the model directory has search weights,
// right after each the same query with fusion (experts as neo eval builds
// them); then the processor alone over the real catalog (random logits,
// mixed format) with its allocations per step.
func Decode(ctx context.Context, o DecodeOptions) (*DecodeResult, error) {
	ds, err := folder.Load(o.Data)
	if err != nil {
		return nil, err
	}
	eng, err := neoeval.OpenEngine(ctx, o.Model, ds.Items)
	if err != nil {
		return nil, err
	}
	defer func() { eng.Close(); eng.Catalog().Close() }()
	queries := ds.QueriesOf("test")
	if len(queries) == 0 {
		queries = ds.QueriesOf("train")
	}
	if len(queries) == 0 {
		return nil, fmt.Errorf("the data set has no queries")
	}
	kit, err := eval.NewKit(ctx, ds)
	if err != nil {
		return nil, err
	}
	defer kit.Close()
	eng.SetExperts(kit.Experts())
	fw := eng.Fusion(plugin.TaskSearch)
	pure := prior.Weights{}
	// warm-up, then timed sequential top-k searches: the model alone, and
	// right after it the same query with fusion
	for i := 0; i < 5; i++ {
		eng.Generate(ctx, plugin.Request{Task: plugin.TaskSearch, Query: queries[i%len(queries)].Query, K: o.K, BeamWidth: o.Beam})
	}
	if o.CPUProfile != nil {
		if err := pprof.StartCPUProfile(o.CPUProfile); err != nil {
			return nil, err
		}
	}
	var lat, latF []time.Duration
	var dPure, pPure int64
	for i := 0; i < o.Requests; i++ {
		q := queries[i%len(queries)]
		d0, p0 := eng.DecodeStats()
		t0 := time.Now()
		if _, err := eng.Generate(ctx, plugin.Request{Task: plugin.TaskSearch, Query: q.Query, K: o.K, BeamWidth: o.Beam, Fusion: pure}); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t0))
		d1, p1 := eng.DecodeStats()
		dPure, pPure = dPure+int64(d1-d0), pPure+int64(p1-p0)
		if !fw.Active() {
			continue
		}
		t0 = time.Now()
		if _, err := eng.Generate(ctx, plugin.Request{Task: plugin.TaskSearch, Query: q.Query, K: o.K, BeamWidth: o.Beam}); err != nil {
			return nil, err
		}
		latF = append(latF, time.Since(t0))
	}

	pprof.StopCPUProfile() // no-op without --cpuprofile

	// the processor alone over the real catalog: random logits, mixed format
	proc, vocab, err := eng.NewProcessor(plugin.FormatMixed, 1<<20)
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, vocab)
	open := eng.Meta().SID.Open
	eos := eng.Meta().Special[sid.TokenEOS]
	steps := 20000
	var procTime time.Duration
	step := func() {
		for i := range logits {
			logits[i] = float32(r.NormFloat64())
		}
		if !proc.InSID(0) {
			logits[open] += 100 // keep emitting SIDs: the expensive path
		}
		// never end the row: accepting after <|eos|> is an error, and its
		// fmt.Errorf would be counted as the processor's allocation
		logits[eos] = float32(math.Inf(-1))
		t := time.Now()
		proc.Process(0, logits)
		procTime += time.Since(t)
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		t = time.Now()
		proc.Accept(0, int32(best))
		procTime += time.Since(t)
	}
	step()
	procTime = 0
	// settle the searches' garbage first (finalizers of their tensors
	// allocate), so the count is the processor's own
	runtime.GC()
	time.Sleep(time.Second)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for i := 0; i < steps; i++ {
		step()
	}
	runtime.ReadMemStats(&m1)

	res := &DecodeResult{
		Model: o.Model, Requests: o.Requests, K: o.K, Beam: o.Beam,
		SearchMsP50:        stats.Durations(lat, 0.5) / 1e6,
		SearchMsP99:        stats.Durations(lat, 0.99) / 1e6,
		ProcessorShare:     Round3(float64(pPure) / float64(dPure)),
		ProcessorSteps:     steps,
		ProcessorNsPerStep: float64(procTime.Nanoseconds()) / float64(steps),
		AllocsPerStep:      float64(m1.Mallocs-m0.Mallocs) / float64(steps),
	}
	if len(latF) > 0 {
		res.Fusion = fw
		res.SearchFusionMsP50 = stats.Durations(latF, 0.5) / 1e6
		res.SearchFusionMsP99 = stats.Durations(latF, 0.99) / 1e6
		res.FusionP50Ratio = Round3(res.SearchFusionMsP50 / res.SearchMsP50)
	}
	return res, nil
}
