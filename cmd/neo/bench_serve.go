package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
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
	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/internal/stats"
)

func init() { benchmarks["serve"] = benchServe }

// serveLevel is one concurrency level of `neo bench serve`.
type serveLevel struct {
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

// serveBenchResult is what `neo bench serve --json` prints.
type serveBenchResult struct {
	Levels    []serveLevel `json:"levels"`
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
}

// benchServe starts the server in-process on 127.0.0.1:0 over a fresh copy
// of the demo catalog and the demo model, and fires --requests requests
// per concurrency level through HTTP (searches of varied queries by
// default; --endpoint recommend or generate for the other decoders), plus
// a BM25 anchor: a plain Bleve match query through the same server's
// _search.
func benchServe(args []string) int {
	fs := flag.NewFlagSet("bench serve", flag.ContinueOnError)
	env := &envDefaults{}
	var o serveOptions
	finish := serveFlags(fs, env, &o)
	levelsFlag := fs.String("concurrency", "1,4,16", "concurrency levels, comma separated")
	requests := fs.Int("requests", 200, "search requests per level")
	k := fs.Int("k", 10, "items per search or recommendation")
	endpoint := fs.String("endpoint", "search", "what the levels request: search (/v1/search, beam search of k), recommend (/v1/recommend of a demo session's history, beam search of k) or generate (/v1/generate, a mixed answer to a history, sampled greedily one row at a time, at most --gen-tokens)")
	genTokens := fs.Int("gen-tokens", 32, "--endpoint generate: max_tokens of each request")
	warmup := fs.Int("warmup", 8, "untimed requests before the levels")
	asJSON := fs.Bool("json", false, "print one JSON line")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed levels to this file")
	if code, ok := parseFlags(fs, args, true); !ok {
		return code
	}
	finish()
	levels, err := parseLevels(*levelsFlag)
	if err == nil && env.err != nil {
		err = env.err
	}
	if err == nil && (*requests < 1 || *k < 1 || *genTokens < 1) {
		err = errors.New("--requests, --k and --gen-tokens must be ≥ 1")
	}
	if err == nil && !slices.Contains([]string{"search", "recommend", "generate"}, *endpoint) {
		err = fmt.Errorf("--endpoint %q: want search, recommend or generate", *endpoint)
	}
	if err == nil && o.demoDir == "" {
		err = errors.New("no demo data folder (testdata/demo not found; use --demo DIR)")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo bench serve:", err)
		return 2
	}
	// The bench must measure the server, not shed load: the slot bound
	// covers the highest level unless set higher.
	o.api.MaxInflight = max(o.api.MaxInflight, slices.Max(levels))
	o.api.MaxQueue = max(o.api.MaxQueue, slices.Max(levels))
	o.api.Limits.MaxK = max(o.api.Limits.MaxK, *k)
	o.api.Limits.MaxTokens = max(o.api.Limits.MaxTokens, *genTokens)

	log, err := newLogger("error", "text", os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo bench serve:", err)
		return 2
	}
	tmp, err := os.MkdirTemp("", "neo-bench-serve-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo bench serve:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	o.indexDir = filepath.Join(tmp, "index")
	o.indexName = "catalog"
	o.api.Metrics = api.NewMetricSet()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fmt.Fprintf(os.Stderr, "importing %s and assigning SIDs...\n", o.demoDir)
	st, err := openServing(ctx, &o, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo bench serve:", err)
		return 1
	}
	defer st.close()
	if st.eng == nil {
		fmt.Fprintf(os.Stderr, "neo bench serve: warning: no model (%s); every search will fail\n", st.engErr)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo bench serve:", err)
		return 1
	}
	served := make(chan error, 1)
	go func() { served <- st.server.Serve(ctx, ln) }()
	defer func() { cancel(); <-served }()
	base := "http://" + ln.Addr().String()

	queries, err := benchQueries(o.demoDir, st.cat)
	if err != nil || len(queries) == 0 {
		fmt.Fprintln(os.Stderr, "neo bench serve: no queries:", err)
		return 1
	}
	client := &http.Client{
		Timeout:   2 * time.Minute,
		Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute},
	}
	var histories [][]string
	if *endpoint != "search" {
		histories, err = benchHistories(o.demoDir)
		if err == nil && len(histories) == 0 {
			err = errors.New("no train interactions")
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "neo bench serve: no histories for --endpoint %s: %v\n", *endpoint, err)
			return 1
		}
	}
	res := serveBenchResult{Queries: len(queries), K: *k, Endpoint: *endpoint, Model: st.modelState()}
	if st.eng == nil {
		res.ModelError = st.engErr
	}
	res.Items, _ = st.cat.Count()
	search := func(i int) (int, error) {
		q := queries[i%len(queries)]
		body, _ := json.Marshal(map[string]any{"query": q, "k": *k})
		return post(client, base+"/v1/search", body)
	}
	switch *endpoint {
	case "recommend":
		search = func(i int) (int, error) {
			body, _ := json.Marshal(map[string]any{"history": histories[i%len(histories)], "k": *k})
			return post(client, base+"/v1/recommend", body)
		}
	case "generate":
		search = func(i int) (int, error) {
			body, _ := json.Marshal(map[string]any{"task": "mixed", "format": "mixed", "temperature": 0,
				"max_tokens": *genTokens, "inputs": map[string]any{"history": histories[i%len(histories)]}})
			return post(client, base+"/v1/generate", body)
		}
	}
	bm25 := func(i int) (int, error) {
		q := queries[i%len(queries)]
		body, _ := json.Marshal(map[string]any{"query": map[string]any{"match": q}, "size": *k})
		return post(client, base+"/api/catalog/_search", body)
	}
	fmt.Fprintf(os.Stderr, "warming up (%d requests)...\n", *warmup)
	runLevel(*warmup, 1, search)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "neo bench serve: cpu profile:", err)
			return 1
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	for _, c := range levels {
		fmt.Fprintf(os.Stderr, "concurrency %d: %d requests...\n", c, *requests)
		lv, first := runLevel(*requests, c, search)
		res.Levels = append(res.Levels, lv)
		if res.FirstError == "" {
			res.FirstError = first
		}
	}
	anchor, _ := runLevel(*requests, 1, bm25)
	res.BM25P50Ms, res.BM25P99Ms = anchor.P50Ms, anchor.P99Ms

	errs := 0
	for _, l := range res.Levels {
		errs += l.Errors
	}
	errs += anchor.Errors
	if *asJSON {
		b, _ := json.Marshal(res)
		fmt.Println(string(b))
	} else {
		fmt.Printf("items %d, %d queries, endpoint %s, k=%d, model %s\n", res.Items, res.Queries, res.Endpoint, res.K, res.Model)
		fmt.Printf("%12s %10s %10s %10s %8s %8s\n", "concurrency", "rps", "p50 ms", "p99 ms", "errors", "cpu %")
		for _, l := range res.Levels {
			fmt.Printf("%12d %10.1f %10.2f %10.2f %8d %8.0f\n", l.Concurrency, l.RPS, l.P50Ms, l.P99Ms, l.Errors, l.CPUPct)
		}
		fmt.Printf("BM25 _search anchor: p50 %.2f ms, p99 %.2f ms\n", res.BM25P50Ms, res.BM25P99Ms)
		if res.FirstError != "" {
			fmt.Println("first error:", res.FirstError)
		}
	}
	if errs > 0 {
		return 1
	}
	return 0
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
func runLevel(n, c int, do func(i int) (int, error)) (serveLevel, string) {
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
	return serveLevel{Concurrency: c, Requests: n, RPS: float64(n) / el,
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
	if f, err := os.Open(filepath.Join(dir, index.QueriesFile)); err == nil {
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
	f, err := os.Open(filepath.Join(dir, index.InteractionsFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	evs, err := index.ReadInteractions(f)
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

// parseLevels reads "1,4,16".
func parseLevels(s string) ([]int, error) {
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
