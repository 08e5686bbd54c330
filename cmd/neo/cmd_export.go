package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/neo-search/neo/index/assign"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"

	"github.com/neo-search/neo/exporter"
	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/sid"
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
	in, err := readExportInput(*dir, *data)
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo export:", err)
		return 1
	}
	if *synth < 0 {
		*synth = 0
		if !hasTrainQueries(in.Queries) {
			*synth = 1
			fmt.Fprintln(os.Stderr, "neo export: no train queries; synthesizing search queries from item text, 1 per item (--synth-queries 0 to skip)")
		}
	}
	m, err := exportInput(ctx, *dir, in, exporter.Options{
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
	printExport(os.Stdout, m, *out)
	return 0
}

// hasTrainQueries reports whether any query is in the train split.
func hasTrainQueries(qs []index.Query) bool {
	for _, q := range qs {
		if index.IsTrain(q.Split) {
			return true
		}
	}
	return false
}

// readExportInput reads the catalog's items (with their SIDs) and the data
// folder's interactions and queries (each optional; data "" = none).
func readExportInput(dir, data string) (exporter.Input, error) {
	if _, err := os.Stat(dir); err != nil {
		return exporter.Input{}, fmt.Errorf("catalog %s: %w (run neo import and neo sids first)", dir, err)
	}
	cat, err := index.Open(dir)
	if err != nil {
		return exporter.Input{}, err
	}
	items, err := cat.Items()
	cat.Close()
	if err != nil {
		return exporter.Input{}, err
	}
	in := exporter.Input{Items: items}
	if data != "" {
		if fi, err := os.Stat(data); err != nil || !fi.IsDir() {
			return exporter.Input{}, fmt.Errorf("data folder %s: not a directory", data)
		}
		if in.Interactions, err = readNDJSON(filepath.Join(data, index.InteractionsFile), index.ReadInteractions); err != nil {
			return exporter.Input{}, err
		}
		if in.Queries, err = readNDJSON(filepath.Join(data, index.QueriesFile), index.ReadQueries); err != nil {
			return exporter.Input{}, err
		}
	}
	return in, nil
}

// exportInput runs the export of in (items of the catalog in dir, whose
// saved quantizer sizes the code vocabulary) and records the items' SIDs
// in OUT/sids.tsv.
func exportInput(ctx context.Context, dir string, in exporter.Input, opt exporter.Options) (*exporter.Manifest, error) {
	items := in.Items
	// Give every code of the quantizer a token, so that items added to the
	// catalog later (coded by the same quantizer) can still be named.
	opt.MinCodeCounts = assign.CodeCounts(assign.QuantizerPath(dir), items)
	m, err := exporter.Export(ctx, in, opt)
	if err != nil {
		return nil, err
	}
	// record the SIDs the model will be trained on (neo train copies the
	// file into the model directory)
	sids := make(map[string]string, len(items))
	for _, it := range items {
		if it.SID != "" {
			sids[it.ID] = it.SID
		}
	}
	f, err := os.Create(filepath.Join(opt.OutDir, sid.AssignmentsFile))
	if err != nil {
		return nil, err
	}
	if err := sid.WriteAssignments(f, sids); err != nil {
		f.Close()
		return nil, err
	}
	return m, f.Close()
}

// readNDJSON reads an optional NDJSON file; a missing file is no records.
func readNDJSON[T any](path string, read func(io.Reader) ([]T, error)) ([]T, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "neo export: no %s; going on without it\n", path)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return recs, nil
}

func printExport(w io.Writer, m *exporter.Manifest, out string) {
	r := m.Report
	fmt.Fprintf(w, "exported %d items, %d users to %s\n", r.Items, r.Users, out)
	fmt.Fprintf(w, "vocabulary: %d tokens (%d BPE + specials + SID tokens), max_seq %d\n", m.VocabSize, r.BPESize, m.MaxSeq)
	if r.Synthesized > 0 {
		fmt.Fprintf(w, "search queries synthesized from item text: %d\n", r.Synthesized)
	}
	fmt.Fprintf(w, "%-9s %10s %12s %12s %10s %8s\n", "stage", "sequences", "tokens", "loss tokens", "truncated", "dropped")
	for _, s := range exporter.Stages {
		st := m.Stages[s]
		fmt.Fprintf(w, "%-9s %10d %12d %12d %10d %8d\n", s, st.Sequences, st.Tokens, st.LossTokens, r.Truncated[s], r.Dropped[s])
	}
	keys := make([]string, 0, len(r.Mix))
	for k := range r.Mix {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintln(w, "mix:")
	for _, k := range keys {
		fmt.Fprintf(w, "  %-40s %8d\n", k, r.Mix[k])
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintln(w, "skipped input:")
		keys = keys[:0]
		for k := range r.Skipped {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %-50s %8d\n", k, r.Skipped[k])
		}
	}
	fmt.Fprintf(w, "input hash %s\n", m.InputHash)
}
