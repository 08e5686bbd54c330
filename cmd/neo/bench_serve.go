package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/neo-search/neo/internal/bench"
	"github.com/neo-search/neo/internal/envflag"
)

func init() { benchmarks["serve"] = benchServe }

// benchServe runs bench.Serve with the flags of neo serve and its own.
func benchServe(args []string) int {
	fs := flag.NewFlagSet("bench serve", flag.ContinueOnError)
	env := &envflag.Defaults{}
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
	levels, err := bench.ParseLevels(*levelsFlag)
	if err == nil && env.Err != nil {
		err = env.Err
	}
	if err == nil && (*requests < 1 || *k < 1 || *genTokens < 1) {
		err = errors.New("--requests, --k and --gen-tokens must be ≥ 1")
	}
	if err == nil && !slices.Contains([]string{"search", "recommend", "generate"}, *endpoint) {
		err = fmt.Errorf("--endpoint %q: want search, recommend or generate", *endpoint)
	}
	if err == nil && o.DemoDir == "" {
		err = errors.New("no demo data folder (testdata/demo not found; use --demo DIR)")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo bench serve:", err)
		return 2
	}
	log, err := newLogger("error", "text", os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo bench serve:", err)
		return 2
	}
	var prof io.Writer
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "neo bench serve: cpu profile:", err)
			return 1
		}
		defer f.Close()
		prof = f
	}
	res, err := bench.Serve(context.Background(), bench.ServeOptions{Serving: o.Options, Levels: levels, Requests: *requests, K: *k,
		Endpoint: *endpoint, GenTokens: *genTokens, Warmup: *warmup, CPUProfile: prof, Log: os.Stderr, Logger: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo bench serve:", err)
		return 1
	}
	if *asJSON {
		printJSON(res, true)
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
	if res.Errors > 0 {
		return 1
	}
	return 0
}
