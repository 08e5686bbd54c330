package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/neo-search/neo/index/assign"
	"github.com/neo-search/neo/sid"
)

func init() {
	register(command{
		name:    "sids",
		summary: "assign semantic IDs to the catalog's items (residual k-means per type)",
		run:     runSids,
	})
}

func runSids(args []string) int {
	fs := flag.NewFlagSet("sids", flag.ContinueOnError)
	dir := fs.String("index", ".neo/index", "catalog index directory")
	inter := fs.String("interactions", "", "interactions.ndjson; its train events add co-occurrence embeddings (optional)")
	levels := fs.Int("levels", sid.DefaultLevels, "semantic levels (a collision level is added)")
	codebook := fs.Int("codebook", sid.DefaultMaxCodebook, "maximum codes per semantic level")
	dim := fs.Int("dim", sid.DefaultDim, "embedding dimensions (text LSA and co-occurrence each)")
	cooc := fs.Float64("cooc-weight", sid.DefaultCoocWeight, "share of the co-occurrence part in mixed embeddings (0..1)")
	seed := fs.Uint64("seed", 1, "random seed; same catalog and seed give the same SIDs")
	unaligned := fs.Bool("unaligned", false, "number each type's codes on its own (default: with interactions, a code names the same taste in every type)")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	dry := fs.Bool("dry-run", false, "assign and report, but write nothing")
	quiet := fs.Bool("quiet", false, "no progress bars")
	tsv := fs.String("tsv", "", "also write every item's SID as id<TAB>sid lines (the sids.tsv format) to this file; with --dry-run, the SIDs it would have written")
	from := fs.String("from", "", "apply the SIDs recorded in a model directory's sids.tsv (or that file) after assigning, so the catalog names items as the model learned them")
	newOnly := fs.Bool("new-only", false, "only give items without an SID one, with the saved quantizer (as a PUT without an SID does); every other SID stays")
	model := fs.String("model", "", "--new-only: model directory whose codebook bounds the new codes (default: none, any code)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: neo sids [--index DIR] [--interactions FILE] [--levels 3] [--codebook 256] [--dim 64] [--seed 1] [--unaligned] [--json] [--dry-run] [--tsv FILE]")
		fmt.Fprintln(fs.Output(), "       neo sids --new-only [--index DIR] [--model DIR] [--json]")
		fmt.Fprintln(fs.Output(), "\nThe quantizer (to give new items codes later) is saved as <index dir>.quantizer.json.")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, false); !ok {
		return code
	}
	if *newOnly {
		return sidsNewOnly(*dir, *model, *asJSON)
	}
	var progress io.Writer = os.Stderr
	if *quiet {
		progress = nil
	}
	out, err := assign.Run(*dir, *inter, sid.AssignOptions{
		Levels: *levels, MaxCodebook: *codebook, Dim: *dim, Seed: *seed, CoocWeight: *cooc, Unaligned: *unaligned,
	}, *dry, progress)
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo sids:", err)
		return 1
	}
	if *from != "" && !*dry {
		n, err := assign.Apply(*dir, *from)
		if err != nil {
			fmt.Fprintln(os.Stderr, "neo sids:", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "applied the model's SIDs from %s: %d items differed from the assignment\n", *from, n)
	}
	if *tsv != "" {
		if err := assign.WriteTable(*tsv, *dir, out.Assigned, *dry); err != nil {
			fmt.Fprintln(os.Stderr, "neo sids: --tsv:", err)
			return 1
		}
		out.TSV = *tsv
	}
	if *asJSON {
		b, err := json.Marshal(out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "neo sids:", err)
			return 1
		}
		fmt.Println(string(b))
		return 0
	}
	fmt.Print(out.Report.String())
	if out.Quantizer != "" {
		fmt.Printf("wrote SIDs of %d items; quantizer saved to %s\n", out.Updated, out.Quantizer)
	} else {
		fmt.Println("dry run: nothing written")
	}
	return 0
}

func sidsNewOnly(dir, model string, asJSON bool) int {
	rep, err := assign.NewOnly(dir, model)
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo sids --new-only:", err)
		return 1
	}
	if asJSON {
		b, _ := json.Marshal(rep)
		fmt.Println(string(b))
		return 0
	}
	fmt.Printf("gave %d items without an SID one; %d kept their SID; %d could not be placed (re-run neo sids)\n", rep.Coded, rep.Kept, len(rep.Uncoded))
	for _, id := range rep.Uncoded {
		fmt.Println("  no SID:", id)
	}
	return 0
}
