package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/neo-search/neo/internal/bench"
)

func init() { benchmarks["trie"] = benchTrie }

func benchTrie(args []string) int {
	fs := flag.NewFlagSet("bench trie", flag.ContinueOnError)
	items := fs.Int("items", 1_000_000, "number of items")
	types := fs.Int("types", 10, "number of entity types")
	levels := fs.Int("levels", 3, "semantic levels (a collision level is added)")
	codebook := fs.Int("codebook", 256, "codes per semantic level")
	sel := fs.Float64("filter-selectivity", 0.01, "share of items a filter allows")
	paths := fs.Int("paths", 20000, "random SID paths to walk per mode")
	seed := fs.Int64("seed", 1, "random seed")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *items < 1 || *types < 1 || *levels < 1 || *codebook < 2 || *codebook > 65536 || *sel <= 0 || *sel > 1 {
		fmt.Fprintln(os.Stderr, "neo bench trie: --items, --types, --levels must be ≥ 1, --codebook in 2..65536, --filter-selectivity in (0,1]")
		return 2
	}
	res, err := bench.Trie(bench.TrieOptions{Items: *items, Types: *types, Levels: *levels, Codebook: *codebook,
		FilterSelectivity: *sel, Paths: *paths, Seed: *seed, Log: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo bench trie:", err)
		return 1
	}
	return printJSON(res, *asJSON)
}
