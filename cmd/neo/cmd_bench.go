package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

// benchmarks registers the `neo bench` family; each kind prints JSON.
var benchmarks = map[string]func(args []string) int{}

func init() {
	register(command{name: "bench", summary: "run a benchmark and print JSON (catalog, trie, decode, serve)", run: runBench})
}

func runBench(args []string) int {
	if len(args) == 0 || benchmarks[args[0]] == nil {
		kinds := make([]string, 0, len(benchmarks))
		for k := range benchmarks {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		fmt.Fprintf(os.Stderr, "usage: neo bench <%s> [flags]\n", strings.Join(kinds, "|"))
		return 2
	}
	return benchmarks[args[0]](args[1:])
}

// printJSON prints a bench result, on one line when compact, and returns 0.
func printJSON(v any, compact bool) int {
	b, _ := json.MarshalIndent(v, "", "  ")
	if compact {
		b, _ = json.Marshal(v)
	}
	fmt.Println(string(b))
	return 0
}
