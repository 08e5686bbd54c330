package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/neo-search/neo/internal/bench"
	"github.com/neo-search/neo/internal/fsutil"
)

func init() { benchmarks["decode"] = benchDecode }

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
	var prof io.Writer
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "neo bench decode:", err)
			return 1
		}
		defer f.Close()
		prof = f
	}
	res, err := bench.Decode(context.Background(), bench.DecodeOptions{Model: *model, Data: *data, Requests: *n, K: *k, Beam: *beam, CPUProfile: prof})
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo bench decode:", err)
		return 1
	}
	return printJSON(res, *asJSON)
}
