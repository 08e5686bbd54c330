// Command gen writes neo's demo data folder: a luxury-retail catalog
// (items.ndjson), shopper sessions with a leave-last-out split
// (interactions.ndjson) and paraphrased search queries with graded
// relevance (queries.ndjson). Output is byte-identical for a given seed.
//
//	go run ./testdata/gen [-out testdata/demo] [-seed N]
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	cfg := DefaultConfig()
	out := flag.String("out", "testdata/demo", "output folder")
	flag.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed")
	flag.Parse()
	d := Generate(cfg)
	if err := d.Write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n%s", *out, d.Summary())
}
