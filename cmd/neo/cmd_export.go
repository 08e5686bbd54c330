package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/neo-search/neo/exporter"
)

func init() {
	register(command{
		name:    "export",
		summary: "train the tokenizer and write the training shards (tokenizer.json, neo.json, shards/)",
		run:     runExport,
	})
}

func runExport(args []string) int {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	dir := fs.String("index", ".neo/index", "catalog index directory (items need SIDs: run neo sids first)")
	data := fs.String("data", "", "folder with interactions.ndjson and queries.ndjson (each optional)")
	out := fs.String("out", ".neo/export", "output directory")
	vocab := fs.Int("vocab", exporter.DefaultVocabSize, "BPE vocabulary size (special and SID tokens come on top)")
	maxSeq := fs.Int("max-seq", exporter.DefaultMaxSeq, "tokens per training sequence")
	maxHist := fs.Int("max-history", exporter.DefaultMaxHistory, "history items per recommend/explain/mixed prompt")
	seed := fs.Int64("seed", 1, "random seed; same inputs and seed give the same bytes")
	seqCtx := fs.Int("seq-context", 0, "with --sequence: history items every target after a user's first window sees at least (0 = half a window)")
	seq := fs.Bool("sequence", false, "recommend samples as whole-history SID sequences with a loss on every next item (use a larger --max-seq, e.g. 512)")
	synth := fs.Float64("synth-queries", -1, "search training queries made from item text, per item (title runs, brand, attribute values, category lists; each with every item holding its words as relevant); -1: 1 when the data folder has no train queries, else 0")
	asJSON := fs.Bool("json", false, "print the manifest and report as one JSON object")
	quiet := fs.Bool("quiet", false, "no progress bars")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: neo export [--index .neo/index] [--data DIR] [--out .neo/export] [--vocab 4000] [--max-seq 256] [--seed 1] [--json]")
		fmt.Fprintln(fs.Output(), "\nWrites OUT/tokenizer.json, OUT/neo.json and OUT/shards/{warmup,ground,instruct,valid}.{ids,mask,offsets}.bin + manifest.json.")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, false); !ok {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var progress io.Writer = os.Stderr
	if *quiet {
		progress = nil
	}
	if *synth < 0 && *synth != -1 {
		fmt.Fprintln(os.Stderr, "neo export: --synth-queries: want -1 (auto) or a count per item ≥ 0")
		return 2
	}
	in, err := exporter.ReadInput(*dir, *data, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo export:", err)
		return 1
	}
	if *synth < 0 {
		*synth = 0
		if !exporter.HasTrainQueries(in.Queries) {
			*synth = 1
			fmt.Fprintln(os.Stderr, "neo export: no train queries; synthesizing search queries from item text, 1 per item (--synth-queries 0 to skip)")
		}
	}
	m, err := exporter.ExportCatalog(ctx, *dir, in, exporter.Options{
		OutDir: *out, VocabSize: *vocab, MaxSeq: *maxSeq, Seed: *seed, MaxHistory: *maxHist, SequenceSamples: *seq, SequenceContext: *seqCtx, SynthQueries: *synth, Progress: progress,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo export:", err)
		return 1
	}
	if *asJSON {
		b, err := json.Marshal(struct {
			*exporter.Manifest
			Report exporter.Report `json:"report"`
			Out    string          `json:"out"`
		}{m, m.Report, *out})
		if err != nil {
			fmt.Fprintln(os.Stderr, "neo export:", err)
			return 1
		}
		fmt.Println(string(b))
		return 0
	}
	m.WriteText(os.Stdout, *out)
	return 0
}
