package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/index/folder"
	"github.com/neo-search/neo/internal/fsutil"
)

func init() {
	register(command{
		name:    "import",
		summary: "import catalog items (NDJSON) into the index",
		run:     runImport,
	})
}

// maxBadShown caps the bad lines printed as text; --json lists them all.
const maxBadShown = 50

func runImport(args []string) int {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	dir := fs.String("index", ".neo/index", "catalog index directory (created when missing)")
	batch := fs.Int("batch", 500, "items per index batch")
	asJSON := fs.Bool("json", false, "print the report (counts and every bad line) as one JSON object")
	quiet := fs.Bool("quiet", false, "no progress bar")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: neo import [--index DIR] [--batch 500] [--json] [--quiet] FILE|DIR

Imports catalog items from an items NDJSON file, or from DIR/items.ndjson
when given a data folder. New ids are inserted, existing ones replaced.
Bad lines (invalid JSON, a missing id or type, a field of the wrong kind,
a duplicate id or SID) are reported as FILE:LINE and skipped; the good
lines are still imported. Each batch is on disk once written.

Exit status: 0 every line imported; 1 some lines were bad (the good ones
were imported); 2 usage error, or the import could not run or finish.

`)
		fs.PrintDefaults()
	}
	pos, err := evalParseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if len(pos) != 1 || *batch <= 0 {
		fs.Usage()
		return 2
	}
	file := pos[0]
	if st, err := os.Stat(file); err == nil && st.IsDir() {
		file = filepath.Join(file, folder.ItemsFile)
	}
	f, err := os.Open(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo import:", err)
		return 2
	}
	defer f.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	opt := index.ImportOptions{BatchSize: *batch, GCPercent: 400}
	if !*quiet && fsutil.IsTerminal(os.Stderr) {
		opt.Progress = os.Stderr
	}
	rep, err := index.ImportInto(ctx, *dir, f, opt)
	elapsed := time.Since(start)

	if *asJSON {
		out := struct {
			index.ImportReport
			File    string  `json:"file"`
			Index   string  `json:"index"`
			Seconds float64 `json:"seconds"`
			Error   string  `json:"error,omitempty"`
		}{ImportReport: rep, File: file, Index: *dir, Seconds: elapsed.Seconds()}
		if err != nil {
			out.Error = err.Error()
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(out)
	} else {
		for i, b := range rep.Bad {
			if i == maxBadShown {
				fmt.Fprintf(os.Stderr, "neo import: %d more bad lines (--json lists them all)\n", len(rep.Bad)-i)
				break
			}
			if b.ID != "" {
				fmt.Fprintf(os.Stderr, "%s:%d: item %q: %s\n", file, b.Line, b.ID, b.Reason)
			} else {
				fmt.Fprintf(os.Stderr, "%s:%d: %s\n", file, b.Line, b.Reason)
			}
		}
		fmt.Printf("imported %d of %d items into %s in %.1fs (%d bad lines)\n",
			rep.Imported, rep.Lines, *dir, elapsed.Seconds(), len(rep.Bad))
	}
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, "neo import:", err)
		return 2
	case len(rep.Bad) > 0:
		return 1
	}
	return 0
}
