package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"

	"github.com/neo-search/neo/index/folder"
	"github.com/neo-search/neo/internal/fsutil"
	"github.com/neo-search/neo/plugin"
	"github.com/neo-search/neo/plugin/eval"
	"github.com/neo-search/neo/plugin/eval/neoeval"
	"github.com/neo-search/neo/plugin/prior"
)

func init() {
	register(command{
		name:    "eval",
		summary: "measure search and recommendation (baselines and the model) on a data folder",
		run:     runEval,
	})
}

func runEval(args []string) int {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	dataset := fs.String("dataset", "", "named data folder under testdata/ of the repository (e.g. demo)")
	data := fs.String("data", "", "data folder (items.ndjson, interactions.ndjson, queries.ndjson)")
	asJSON := fs.Bool("json", false, "print the report as one JSON line")
	k := fs.Int("k", 10, "headline cut-off; metrics are reported at k and at 30")
	split := fs.String("split", "test", "recommendation targets: test, or valid (for tuning; skips search)")
	limit := fs.Int("limit", 0, "at most this many cases per task, evenly spaced (0 = all)")
	only := fs.String("methods", "", "comma-separated method names to run (default: all)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	newItems := fs.String("new-items", "", "file of item ids (whitespace-separated) added after the model was trained: the report's \"cold\" splits the cases whose target is one of them from the rest")
	var ne neoEval
	fs.IntVar(&ne.opt.Mixed, "mixed", 1000, "mixed answers (test users' histories) whose text is checked against the items it names, with and without the fact guard (0: none)")
	fs.IntVar(&ne.opt.Beam, "beam", 0, "beam width for method neo (default: the engine's, max(k, 10))")
	fs.StringVar(&ne.model, "model", "", "model directory for method neo (default: testdata/model for --dataset demo, DIR/model for --data DIR; none: no neo entry)")
	fusion := fs.String("fusion", "", `fusion weights for the neo entries: "none", {"bm25":1,"popularity":0.5} for every task, or {"search":{...},"recommend":{...}} (default: the model directory's fusion.json)`)
	tune := fs.Bool("tune", false, "tune the fusion weights on the valid split (coordinate ascent) and write them to the model directory's fusion.json")
	tuneLimit := fs.Int("tune-limit", 1000, "--tune: at most this many valid cases per task and trial")
	tuneAgg := fs.String("tune-agg", "sum,max", "--tune: trie aggregations of expert mass to tune under (the better one is kept)")
	fs.Func("agg", "trie aggregation of expert mass for the neo entries, sum or max, every task (default: the model directory's fusion.json, else sum)", func(s string) error {
		a, err := prior.ParseAgg(s)
		ne.opt.Agg = &a
		return err
	})
	var topt trainOptions
	topt.flags(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: neo eval (--dataset demo | --data DIR) [--json] [--k 10] [--split test] [--limit N] [--methods bm25,neo]")
		fmt.Fprintln(fs.Output(), "       neo eval --data DIR --train [--preset P] [--steps-multi W,G,I] [--steps-search W,G,I] [--steps-recommend W,G,I] [--device auto] [--json]")
		fmt.Fprint(fs.Output(), trainEvalUsage)
		fs.PrintDefaults()
	}
	pos, err := evalParseArgs(fs, args)
	if err == flag.ErrHelp {
		return 0
	}
	if err != nil {
		return 2
	}
	if len(pos) > 0 || (*dataset == "") == (*data == "") || *k <= 0 || *limit < 0 {
		fs.Usage()
		return 2
	}
	dir := *data
	if *dataset != "" {
		root, err := fsutil.RepoRoot()
		if err != nil {
			fmt.Fprintln(os.Stderr, "neo eval: --dataset:", err, "(run inside the repository or use --data DIR)")
			return 1
		}
		dir = filepath.Join(root, "testdata", *dataset)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	for _, n := range strings.Split(*only, ",") { // NAME_rrf entries run only when named
		if n = strings.TrimSpace(n); strings.HasPrefix(n, "neo") && strings.HasSuffix(n, "_rrf") {
			ne.opt.RRF = true
		}
	}
	if ne.opt.Fusion, err = neoeval.ParseFusion(*fusion); err != nil {
		fmt.Fprintln(os.Stderr, "neo eval:", err)
		return 2
	}
	var aggs []prior.Agg
	for _, a := range strings.Split(*tuneAgg, ",") {
		agg, err := prior.ParseAgg(a)
		if err != nil {
			fmt.Fprintln(os.Stderr, "neo eval: --tune-agg:", err)
			return 2
		}
		if !slices.Contains(aggs, agg) {
			aggs = append(aggs, agg)
		}
	}
	opt := eval.Options{K: *k, Split: *split, Limit: *limit, Progress: evalProgress(*quiet)}
	if *newItems != "" {
		b, err := os.ReadFile(*newItems)
		if err != nil {
			fmt.Fprintln(os.Stderr, "neo eval: --new-items:", err)
			return 1
		}
		opt.New = map[string]bool{}
		for _, id := range strings.Fields(string(b)) {
			opt.New[id] = true
		}
	}
	if *tune {
		if topt.train {
			fmt.Fprintln(os.Stderr, "neo eval: --tune tunes a trained model; run --train first, then --tune --model DIR")
			return 2
		}
		return evalTuneMain(ctx, dir, ne.model, neoeval.TuneOptions{K: *k, Limit: *tuneLimit, Aggs: aggs, Log: os.Stderr, Beam: ne.opt.Beam}, *asJSON)
	}
	if topt.train {
		if ne.model != "" {
			fmt.Fprintln(os.Stderr, "neo eval: --train trains its own models; drop --model")
			return 2
		}
		topt.Quiet = *quiet
		return evalTrainMain(ctx, dir, *only, opt, ne.opt, &topt, *asJSON, *k)
	}
	rep, err := neoeval.RunDir(ctx, dir, ne.model, *only, opt, ne.opt)
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo eval:", err)
		return 1
	}
	if *asJSON {
		b, err := json.Marshal(rep)
		if err != nil {
			fmt.Fprintln(os.Stderr, "neo eval:", err)
			return 1
		}
		fmt.Println(string(b))
	} else {
		rep.WriteText(os.Stdout, *k)
	}
	return 0
}

func evalProgress(quiet bool) io.Writer {
	if quiet {
		return nil
	}
	return os.Stderr
}

// neoEval is how `neo eval` adds the neo entries: the model directory
// (--model; "" = neoeval.DefaultModelDir) and the entries' options.
type neoEval struct {
	model string
	opt   neoeval.Options
}

// evalTuneMain runs neoeval.Tune on the data folder dir and prints what it
// chose.
func evalTuneMain(ctx context.Context, dir, model string, o neoeval.TuneOptions, asJSON bool) int {
	ds, err := folder.Load(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo eval --tune:", err)
		return 1
	}
	rep, err := neoeval.Tune(ctx, ds, model, o) // "" is the folder's default model
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo eval --tune:", err)
		return 1
	}
	if asJSON {
		b, _ := json.Marshal(rep)
		fmt.Println(string(b))
		return 0
	}
	for name, t := range rep.Tasks {
		fmt.Printf("%s: %s on %s (%d cases): model alone %.4f, tuned %.4f with %v (%s)\n", name, t.Metric, t.Split, t.Cases, t.Pure, t.Best, map[string]float64(t.Weights), t.Agg)
	}
	fmt.Printf("wrote %s\n", filepath.Join(rep.Model, plugin.FusionFile))
	return 0
}
