package bench

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sort"
	"time"

	"github.com/neo-search/neo/internal/stats"
	"github.com/neo-search/neo/sid"
)

// TrieResult is what `neo bench trie --json` prints.
type TrieResult struct {
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

// TrieOptions size the synthetic catalog of Trie.
type TrieOptions struct {
	Items, Types, Levels, Codebook int
	FilterSelectivity              float64 // share of items the filter allows, in (0, 1]
	Paths                          int     // random SID paths walked per mode
	Seed                           int64
	Log                            io.Writer // progress lines (nil: none)
}

// Trie builds the trie of synthetic SIDs and times Allowed along random
// paths, without and with a filter (a few items unavailable and a small
// exclusion set, as in serving), and counts allocations per step.
func Trie(o TrieOptions) (*TrieResult, error) {
	if o.Items < 1 || o.Types < 1 || o.Levels < 1 || o.Codebook < 2 || o.Codebook > 65536 || o.FilterSelectivity <= 0 || o.FilterSelectivity > 1 || o.Paths < 1 {
		return nil, fmt.Errorf("items, types, levels and paths must be ≥ 1, codebook in 2..65536, filter selectivity in (0,1]")
	}
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	fmt.Fprintf(logw, "generating %d SIDs (%d types, %d×%d codes)...\n", o.Items, o.Types, o.Levels, o.Codebook)
	keys := sid.SyntheticKeys(o.Items, o.Types, o.Levels, o.Codebook, o.Seed)
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
		return nil, err
	}
	keys.Data = nil
	runtime.GC()
	r := rand.New(rand.NewPCG(uint64(o.Seed), 7))
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
	for ord := 0; ord < tr.Len(); ord++ {
		if r.Float64() < o.FilterSelectivity {
			filter = append(filter, uint32(ord))
		}
	}
	plain := &sid.Constraint{Exclude: excl}
	filtered := &sid.Constraint{Filter: filter, Exclude: excl}

	dst := make([]uint16, 0, 1<<16)
	key := make([]uint16, 0, 16)
	walkPaths := func(c *sid.Constraint, pick func() uint32, times []time.Duration) ([]time.Duration, int) {
		steps := 0
		for p := 0; p < o.Paths; p++ {
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
	plainTimes, _ := walkPaths(plain, pickAny, make([]time.Duration, 0, o.Paths*(o.Levels+2)))
	filtTimes, _ := walkPaths(filtered, pickFiltered, make([]time.Duration, 0, o.Paths*(o.Levels+2)))

	// allocations, measured without the timing slices
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	_, s1 := walkPaths(plain, pickAny, nil)
	_, s2 := walkPaths(filtered, pickFiltered, nil)
	runtime.ReadMemStats(&m1)

	res := &TrieResult{
		Items: tr.Len(), Types: o.Types, Levels: o.Levels, Codebook: o.Codebook, FilterSelectivity: o.FilterSelectivity,
		BuildSeconds:      Round3(build.Seconds()),
		BytesPerItem:      Round3(float64(tr.Bytes()) / float64(tr.Len())),
		Steps:             len(plainTimes),
		StepNsP50:         stats.Durations(plainTimes, 0.5),
		StepNsP99:         stats.Durations(plainTimes, 0.99),
		FilteredStepNsP50: stats.Durations(filtTimes, 0.5),
		FilteredStepNsP99: stats.Durations(filtTimes, 0.99),
		AllocsPerStep:     float64(m1.Mallocs-m0.Mallocs) / float64(s1+s2),
		CollisionRate:     Round3(float64(coll) / float64(tr.Len())),
		TrieBytes:         tr.Bytes(),
	}
	return res, nil
}

// Round3 rounds to three decimals, for reports.
func Round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }
