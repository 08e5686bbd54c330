package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/neo-search/neo/plugin/eval/neoeval"

	"github.com/neo-search/neo/internal/fsutil"
	"github.com/neo-search/neo/internal/stats"
	"github.com/neo-search/neo/plugin"
	"github.com/neo-search/neo/plugin/eval"
	"github.com/neo-search/neo/plugin/prior"
)

func init() { benchmarks["decode"] = benchDecode }

// decodeBenchResult is what `neo bench decode --json` prints.
type decodeBenchResult struct {
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

func benchDecode(args []string) int {
	fs := flag.NewFlagSet("bench decode", flag.ContinueOnError)
	model := fs.String("model", "", "model directory (default testdata/model)")
	data := fs.String("data", "", "data folder whose items and test queries are used (default testdata/demo)")
	n := fs.Int("requests", 200, "search requests to time")
	k := fs.Int("k", 10, "items per search")
	beam := fs.Int("beam", 10, "beam width")
	asJSON := fs.Bool("json", false, "print one JSON object")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed searches to this file (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	root, err := fsutil.RepoRoot()
	if *model == "" || *data == "" {
		if err != nil {
			fmt.Fprintln(os.Stderr, "neo bench decode:", err)
			return 1
		}
	}
	if *model == "" {
		*model = filepath.Join(root, "testdata", "model")
	}
	if *data == "" {
		*data = filepath.Join(root, "testdata", "demo")
	}
	ctx := context.Background()
	ds, err := eval.LoadDataset(*data)
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo bench decode:", err)
		return 1
	}
	eng, err := neoeval.OpenEngine(ctx, *model, ds.Items)
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo bench decode:", err)
		return 1
	}
	defer eng.Close()
	queries := ds.QueriesOf("test")
	if len(queries) == 0 {
		queries = ds.QueriesOf("train")
	}
	if len(queries) == 0 {
		fmt.Fprintln(os.Stderr, "neo bench decode: the data set has no queries")
		return 1
	}
	kit, err := eval.NewKit(ctx, ds)
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo bench decode:", err)
		return 1
	}
	defer kit.Close()
	eng.SetExperts(kit.Experts())
	fw := eng.Fusion(plugin.TaskSearch)
	pure := prior.Weights{}
	// warm-up, then timed sequential top-k searches: the model alone, and
	// right after it the same query with fusion
	for i := 0; i < 5; i++ {
		eng.Generate(ctx, plugin.Request{Task: plugin.TaskSearch, Query: queries[i%len(queries)].Query, K: *k, BeamWidth: *beam})
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "neo bench decode:", err)
			return 1
		}
		defer f.Close()
	}
	var lat, latF []time.Duration
	var dPure, pPure int64
	for i := 0; i < *n; i++ {
		q := queries[i%len(queries)]
		d0, p0 := eng.DecodeStats()
		t0 := time.Now()
		if _, err := eng.Generate(ctx, plugin.Request{Task: plugin.TaskSearch, Query: q.Query, K: *k, BeamWidth: *beam, Fusion: pure}); err != nil {
			fmt.Fprintln(os.Stderr, "neo bench decode:", err)
			return 1
		}
		lat = append(lat, time.Since(t0))
		d1, p1 := eng.DecodeStats()
		dPure, pPure = dPure+int64(d1-d0), pPure+int64(p1-p0)
		if !fw.Active() {
			continue
		}
		t0 = time.Now()
		if _, err := eng.Generate(ctx, plugin.Request{Task: plugin.TaskSearch, Query: q.Query, K: *k, BeamWidth: *beam}); err != nil {
			fmt.Fprintln(os.Stderr, "neo bench decode:", err)
			return 1
		}
		latF = append(latF, time.Since(t0))
	}

	pprof.StopCPUProfile() // no-op without --cpuprofile

	// the processor alone over the real catalog: random logits, mixed format
	proc, vocab, err := eng.NewProcessor(plugin.FormatMixed, 1<<20)
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo bench decode:", err)
		return 1
	}
	r := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, vocab)
	open := eng.Meta().SID.Open
	steps := 20000
	var procTime time.Duration
	step := func() {
		for i := range logits {
			logits[i] = float32(r.NormFloat64())
		}
		if !proc.InSID(0) {
			logits[open] += 100 // keep emitting SIDs: the expensive path
		}
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
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for i := 0; i < steps; i++ {
		step()
	}
	runtime.ReadMemStats(&m1)

	res := decodeBenchResult{
		Model: *model, Requests: *n, K: *k, Beam: *beam,
		SearchMsP50:        stats.Durations(lat, 0.5) / 1e6,
		SearchMsP99:        stats.Durations(lat, 0.99) / 1e6,
		ProcessorShare:     round3(float64(pPure) / float64(dPure)),
		ProcessorSteps:     steps,
		ProcessorNsPerStep: float64(procTime.Nanoseconds()) / float64(steps),
		AllocsPerStep:      float64(m1.Mallocs-m0.Mallocs) / float64(steps),
	}
	if len(latF) > 0 {
		res.Fusion = fw
		res.SearchFusionMsP50 = stats.Durations(latF, 0.5) / 1e6
		res.SearchFusionMsP99 = stats.Durations(latF, 0.99) / 1e6
		res.FusionP50Ratio = round3(res.SearchFusionMsP50 / res.SearchMsP50)
	}
	b, _ := json.Marshal(res)
	if !*asJSON {
		b, _ = json.MarshalIndent(res, "", "  ")
	}
	fmt.Println(string(b))
	return 0
}
