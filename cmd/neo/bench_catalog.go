package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/neo-search/neo/internal/bench/catgen"
)

func init() { benchmarks["catalog"] = benchCatalog }

func benchCatalog(args []string) int {
	fs := flag.NewFlagSet("bench catalog", flag.ContinueOnError)
	var o catgen.Options
	fs.IntVar(&o.Items, "items", 100_000, "items to write")
	fs.IntVar(&o.Users, "users", 0, "users, one session of 6 to 14 events each (default items/5)")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed (same seed, same bytes)")
	fs.StringVar(&o.Out, "out", "", "data folder to write items.ndjson and interactions.ndjson into")
	if code, ok := parseFlags(fs, args, false); !ok {
		return code
	}
	if o.Out == "" || o.Items < 1 || o.Users < 0 {
		fmt.Fprintln(os.Stderr, "neo bench catalog: --out is required, --items must be ≥ 1, --users ≥ 0")
		return 2
	}
	o.Log = os.Stderr
	res, err := catgen.Generate(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo bench catalog:", err)
		return 1
	}
	return printJSON(res, true)
}
