package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"time"

	"github.com/neo-search/neo/internal/stats"
	"github.com/neo-search/neo/sid"
)

func init() { benchmarks["trie"] = benchTrie }

// trieBenchResult is what `neo bench trie --json` prints.
type trieBenchResult struct {
	Items             int     `json:"items"`
	Types             int     `json:"types"`
	Levels            int     `json:"levels"`
	Codebook          int     `json:"codebook"`
	FilterSelectivity float64 `json:"filter_selectivity"`
	BuildSeconds      float64 `json:"build_seconds"`
	BytesPerItem      float64 `json:"bytes_per_item"`
	Steps             int     `json:"steps"`
	StepNsP50         float64 `json:"step_ns_p50"`
	StepNsP99         float64 `json:"step_ns_p99"`
	FilteredStepNsP50 float64 `json:"filtered_step_ns_p50"`
	FilteredStepNsP99 float64 `json:"filtered_step_ns_p99"`
	AllocsPerStep     float64 `json:"allocs_per_step"`
	CollisionRate     float64 `json:"collision_rate"`
	TrieBytes         int     `json:"trie_bytes"`
}

func benchTrie(args []string) int {
	fs := flag.NewFlagSet("bench trie", flag.ContinueOnError)
	items := fs.Int("items", 1_000_000, "number of items")
	types := fs.Int("types", 10, "number of entity types")
	levels := fs.Int("levels", 3, "semantic levels (a collision level is added)")
	codebook := fs.Int("codebook", 256, "codes per semantic level")
	sel := fs.Float64("filter-selectivity", 0.01, "share of items a filter allows")
	paths := fs.Int("paths", 20000, "random SID paths to walk per mode")
	seed := fs.Int64("seed", 1, "random seed")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *items < 1 || *types < 1 || *levels < 1 || *codebook < 2 || *codebook > 65536 || *sel <= 0 || *sel > 1 {
		fmt.Fprintln(os.Stderr, "neo bench trie: --items, --types, --levels must be ≥ 1, --codebook in 2..65536, --filter-selectivity in (0,1]")
		return 2
	}
	fmt.Fprintf(os.Stderr, "generating %d SIDs (%d types, %d×%d codes)...\n", *items, *types, *levels, *codebook)
	keys := sid.SyntheticKeys(*items, *types, *levels, *codebook, *seed)
	coll := 0
	for i := 0; i < keys.Len(); i++ {
		if keys.Data[i*keys.Width+keys.Width-1] != 0 {
			coll++
		}
	}
	runtime.GC()
	start := time.Now()
	tr, _, err := sid.BuildTrie(keys)
	build := time.Since(start)
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo bench trie:", err)
		return 1
	}
	keys.Data = nil
	runtime.GC()
	r := rand.New(rand.NewPCG(uint64(*seed), 7))
	// a few unavailable items and a small exclusion set, as in serving
	for i := 0; i < tr.Len()/100; i++ {
		tr.SetAvailable(uint32(r.IntN(tr.Len())), false)
	}
	excl := make([]uint32, 10)
	for i := range excl {
		excl[i] = uint32(r.IntN(tr.Len()))
	}
	sort.Slice(excl, func(a, b int) bool { return excl[a] < excl[b] })
	var filter []uint32
	for o := 0; o < tr.Len(); o++ {
		if r.Float64() < *sel {
			filter = append(filter, uint32(o))
		}
	}
	plain := &sid.Constraint{Exclude: excl}
	filtered := &sid.Constraint{Filter: filter, Exclude: excl}

	dst := make([]uint16, 0, 1<<16)
	key := make([]uint16, 0, 16)
	walkPaths := func(c *sid.Constraint, pick func() uint32, times []time.Duration) ([]time.Duration, int) {
		steps := 0
		for p := 0; p < *paths; p++ {
			key = tr.Key(pick(), key[:0])
			n := tr.Root()
			for _, code := range key {
				t0 := time.Now()
				dst = tr.Allowed(n, c, dst[:0])
				if times != nil {
					times = append(times, time.Since(t0))
				}
				steps++
				n, _ = tr.Child(n, code)
			}
		}
		return times, steps
	}
	pickAny := func() uint32 { return uint32(r.IntN(tr.Len())) }
	pickFiltered := func() uint32 {
		if len(filter) == 0 {
			return 0
		}
		return filter[r.IntN(len(filter))]
	}
	plainTimes, _ := walkPaths(plain, pickAny, make([]time.Duration, 0, *paths*(*levels+2)))
	filtTimes, _ := walkPaths(filtered, pickFiltered, make([]time.Duration, 0, *paths*(*levels+2)))

	// allocations, measured without the timing slices
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	_, s1 := walkPaths(plain, pickAny, nil)
	_, s2 := walkPaths(filtered, pickFiltered, nil)
	runtime.ReadMemStats(&m1)

	res := trieBenchResult{
		Items: tr.Len(), Types: *types, Levels: *levels, Codebook: *codebook, FilterSelectivity: *sel,
		BuildSeconds:      round3(build.Seconds()),
		BytesPerItem:      round3(float64(tr.Bytes()) / float64(tr.Len())),
		Steps:             len(plainTimes),
		StepNsP50:         stats.Durations(plainTimes, 0.5),
		StepNsP99:         stats.Durations(plainTimes, 0.99),
		FilteredStepNsP50: stats.Durations(filtTimes, 0.5),
		FilteredStepNsP99: stats.Durations(filtTimes, 0.99),
		AllocsPerStep:     float64(m1.Mallocs-m0.Mallocs) / float64(s1+s2),
		CollisionRate:     round3(float64(coll) / float64(tr.Len())),
		TrieBytes:         tr.Bytes(),
	}
	if *asJSON {
		b, _ := json.Marshal(res)
		fmt.Println(string(b))
		return 0
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	fmt.Println(string(b))
	return 0
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }
