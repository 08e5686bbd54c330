package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/neo-search/neo/api"
	"github.com/neo-search/neo/api/serving"
	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/index/folder"
	"github.com/neo-search/neo/internal/stats"
)

// ServeLevel is one concurrency level of Serve.
type ServeLevel struct {
	Concurrency int     `json:"concurrency"`
	Requests    int     `json:"requests"`
	RPS         float64 `json:"rps"`
	P50Ms       float64 `json:"p50_ms"`
	P99Ms       float64 `json:"p99_ms"`
	Errors      int     `json:"errors"`
	// CPUPct is the process's CPU time (user+system, server and client
	// together) over the level's wall time, in percent of one core.
	CPUPct float64 `json:"cpu_pct"`
}

// ServeResult is what `neo bench serve --json` prints.
type ServeResult struct {
	Levels    []ServeLevel `json:"levels"`
	BM25P50Ms float64      `json:"bm25_p50_ms"`
	BM25P99Ms float64      `json:"bm25_p99_ms"`
	Items     uint64       `json:"items"`
	Queries   int          `json:"queries"`
	K         int          `json:"k"`
	Endpoint  string       `json:"endpoint"`
	Model     string       `json:"model"`
	// ModelError says why no model served (then every level's requests are errors).
	ModelError string `json:"model_error,omitempty"`
	FirstError string `json:"first_error,omitempty"`
	// Errors counts the failed requests of every level and the anchor.
	Errors int `json:"errors"`
}

// ServeOptions say what Serve measures. Levels, Requests and K must be
// set; Serving.DemoDir names the data folder served.
type ServeOptions struct {
	// Serving configures the server; Serve sets its IndexDir (a fresh
	// temporary catalog), IndexName and metrics, and raises its slot,
	// queue and answer bounds to the levels' needs.
	Serving    serving.Options
	Levels     []int     // concurrency levels
	Requests   int       // requests per level (and of the BM25 anchor)
	K          int       // items per search or recommendation
	Endpoint   string    // search, recommend or generate
	GenTokens  int       // max_tokens of each generate request
	Warmup     int       // untimed requests before the levels
	CPUProfile io.Writer // a CPU profile of the timed levels (nil: none)
	Log        io.Writer // progress lines (nil: none)
	Logger     *slog.Logger
}

// Serve starts the server in-process on 127.0.0.1:0 over a fresh copy of
// the demo catalog and the model, and fires o.Requests requests per
// concurrency level through HTTP (searches of varied queries by default;
// recommend or generate for the other decoders), plus a BM25 anchor: a
// plain Bleve match query through the same server's _search.
func Serve(ctx context.Context, o ServeOptions) (*ServeResult, error) {
	if len(o.Levels) == 0 || o.Requests < 1 || o.K < 1 || o.GenTokens < 1 {
		return nil, errors.New("levels, requests, k and gen tokens must be ≥ 1")
	}
	if !slices.Contains([]string{"search", "recommend", "generate"}, o.Endpoint) {
		return nil, fmt.Errorf("endpoint %q: want search, recommend or generate", o.Endpoint)
	}
	so := o.Serving
	if so.DemoDir == "" {
		return nil, errors.New("no demo data folder")
	}
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	// The bench must measure the server, not shed load: the slot bound
	// covers the highest level unless set higher.
	so.API.MaxInflight = max(so.API.MaxInflight, slices.Max(o.Levels))
	so.API.MaxQueue = max(so.API.MaxQueue, slices.Max(o.Levels))
	so.API.Limits.MaxK = max(so.API.Limits.MaxK, o.K)
	so.API.Limits.MaxTokens = max(so.API.Limits.MaxTokens, o.GenTokens)
	tmp, err := os.MkdirTemp("", "neo-bench-serve-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	so.IndexDir = filepath.Join(tmp, "index")
	so.IndexName = "catalog"
	so.API.Metrics = api.NewMetricSet()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fmt.Fprintf(logw, "importing %s and assigning SIDs...\n", so.DemoDir)
	st, err := serving.Open(ctx, so, logger)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if st.Engine == nil {
		fmt.Fprintf(logw, "neo bench serve: warning: no model (%s); every search will fail\n", st.NotReady)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	served := make(chan error, 1)
	go func() { served <- st.Server.Serve(ctx, ln) }()
	defer func() { cancel(); <-served }()
	base := "http://" + ln.Addr().String()

	queries, err := benchQueries(so.DemoDir, st.Catalog)
	if err != nil || len(queries) == 0 {
		return nil, fmt.Errorf("no queries: %v", err)
	}
	client := &http.Client{
		Timeout:   2 * time.Minute,
		Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute},
	}
	var histories [][]string
	if o.Endpoint != "search" {
		histories, err = benchHistories(so.DemoDir)
		if err == nil && len(histories) == 0 {
			err = errors.New("no train interactions")
		}
		if err != nil {
			return nil, fmt.Errorf("no histories for endpoint %s: %v", o.Endpoint, err)
		}
	}
	res := &ServeResult{Queries: len(queries), K: o.K, Endpoint: o.Endpoint, Model: st.ModelState()}
	if st.Engine == nil {
		res.ModelError = st.NotReady
	}
	res.Items, _ = st.Catalog.Count()
	search := func(i int) (int, error) {
		q := queries[i%len(queries)]
		body, _ := json.Marshal(map[string]any{"query": q, "k": o.K})
		return post(client, base+"/v1/search", body)
	}
	switch o.Endpoint {
	case "recommend":
		search = func(i int) (int, error) {
			body, _ := json.Marshal(map[string]any{"history": histories[i%len(histories)], "k": o.K})
			return post(client, base+"/v1/recommend", body)
		}
	case "generate":
		search = func(i int) (int, error) {
			body, _ := json.Marshal(map[string]any{"task": "mixed", "format": "mixed", "temperature": 0,
				"max_tokens": o.GenTokens, "inputs": map[string]any{"history": histories[i%len(histories)]}})
			return post(client, base+"/v1/generate", body)
		}
	}
	bm25 := func(i int) (int, error) {
		q := queries[i%len(queries)]
		body, _ := json.Marshal(map[string]any{"query": map[string]any{"match": q}, "size": o.K})
		return post(client, base+"/api/catalog/_search", body)
	}
	fmt.Fprintf(logw, "warming up (%d requests)...\n", o.Warmup)
	runLevel(o.Warmup, 1, search)
	if o.CPUProfile != nil {
		if err := pprof.StartCPUProfile(o.CPUProfile); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	for _, c := range o.Levels {
		fmt.Fprintf(logw, "concurrency %d: %d requests...\n", c, o.Requests)
		lv, first := runLevel(o.Requests, c, search)
		res.Levels = append(res.Levels, lv)
		if res.FirstError == "" {
			res.FirstError = first
		}
	}
	anchor, _ := runLevel(o.Requests, 1, bm25)
	res.BM25P50Ms, res.BM25P99Ms = anchor.P50Ms, anchor.P99Ms

	for _, l := range res.Levels {
		res.Errors += l.Errors
	}
	res.Errors += anchor.Errors
	return res, nil
}

// post sends one JSON request and drains the answer.
func post(client *http.Client, url string, body []byte) (int, error) {
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return resp.StatusCode, nil
}

// runLevel fires n requests from c workers and measures them.
func runLevel(n, c int, do func(i int) (int, error)) (ServeLevel, string) {
	lat := make([]float64, n)
	var next, errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	cpu0 := processCPU()
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t := time.Now()
				_, err := do(i)
				lat[i] = float64(time.Since(t).Microseconds()) / 1000
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	cpu := (processCPU() - cpu0).Seconds()
	slices.Sort(lat)
	first, _ := firstErr.Load().(string)
	return ServeLevel{Concurrency: c, Requests: n, RPS: float64(n) / el,
		P50Ms: stats.Percentile(lat, 0.50), P99Ms: stats.Percentile(lat, 0.99), Errors: int(errs.Load()), CPUPct: 100 * cpu / el}, first
}

// processCPU is the user plus system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchQueries are the demo's labelled queries (varied, realistic), or
// item titles when the folder has none.
func benchQueries(dir string, cat *index.Catalog) ([]string, error) {
	var out []string
	if f, err := os.Open(filepath.Join(dir, folder.QueriesFile)); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var q struct {
				Query string `json:"query"`
			}
			if json.Unmarshal(sc.Bytes(), &q) == nil && strings.TrimSpace(q.Query) != "" {
				out = append(out, q.Query)
			}
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	items, err := cat.Items()
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if it.Title != "" {
			out = append(out, it.Title)
		}
	}
	return out, nil
}

// benchHistories are the demo sessions' last train items (up to five per
// user), in user order, for the recommend and generate levels.
func benchHistories(dir string) ([][]string, error) {
	f, err := os.Open(filepath.Join(dir, folder.InteractionsFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	evs, err := folder.ReadInteractions(f)
	if err != nil {
		return nil, err
	}
	var out [][]string
	idx := map[string]int{}
	for _, ev := range evs {
		if ev.Split != "train" {
			continue
		}
		i, ok := idx[ev.User]
		if !ok {
			i = len(out)
			idx[ev.User] = i
			out = append(out, nil)
		}
		h := append(out[i], ev.Item)
		if len(h) > 5 {
			h = h[1:]
		}
		out[i] = h
	}
	return out, nil
}

// ParseLevels reads the concurrency levels of `neo bench serve`: "1,4,16".
func ParseLevels(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--concurrency %q: want positive integers separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}
