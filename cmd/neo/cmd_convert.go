package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/neo-search/neo/index/convert"
)

func init() {
	register(command{
		name:    "convert",
		summary: "convert a public dataset into a data folder (convert movielens DIR OUT)",
		run:     runConvert,
	})
}

// evalParseArgs parses flags that may come before, between or after the
// positional arguments (flag.Parse alone stops at the first positional).
func evalParseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func runConvert(args []string) int {
	fs := flag.NewFlagSet("convert", flag.ContinueOnError)
	seed := fs.Uint64("seed", 1, "seed of the train/test split of tag queries")
	frac := fs.Float64("test-fraction", 0.2, "share of (tag, movie) pairs held out as test queries")
	vfrac := fs.Float64("valid-fraction", 0.1, "share of the other (tag, movie) pairs held out as valid queries, for tuning (0: none)")
	asJSON := fs.Bool("json", false, "print the counts as one JSON line")
	items := fs.String("items", "", "seq: item text, a JSON map {\"ITEM\": {\"title\",\"description\"}} or an items NDJSON")
	typ := fs.String("type", "item", "seq: the items' entity type")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: neo convert movielens DIR OUT [--seed 1] [--test-fraction 0.2] [--valid-fraction 0.1] [--json]\n"+
			"       neo convert seq SEQFILE OUT [--items FILE] [--type item] [--json]\n\n"+
			"Converts a GroupLens MovieLens folder (movies.csv, ratings.csv, tags.csv; the\n"+
			"ml-latest-small layout) into OUT/items.ndjson, interactions.ndjson, queries.ndjson.")
		fs.PrintDefaults()
	}
	pos, err := evalParseArgs(fs, args)
	if err == flag.ErrHelp {
		return 0
	}
	if err != nil {
		return 2
	}
	if len(pos) == 3 && pos[0] == "seq" {
		rep, err := convert.Seq(pos[1], *items, pos[2], *typ)
		if err != nil {
			fmt.Fprintln(os.Stderr, "neo convert seq:", err)
			return 1
		}
		for _, b := range rep.Bad {
			fmt.Fprintf(os.Stderr, "%s:%d: %s\n", pos[1], b.Line, b.Reason)
		}
		if *asJSON {
			b, _ := json.Marshal(rep)
			fmt.Println(string(b))
		} else {
			fmt.Printf("wrote %s: %d users, %d items (%d without text, %d only in the text file), %d interactions, %d bad lines\n",
				pos[2], rep.Users, rep.Items, rep.NoText, rep.TextOnly, rep.Interactions, len(rep.Bad))
		}
		return 0
	}
	if len(pos) != 3 || pos[0] != "movielens" {
		if len(pos) > 0 && pos[0] != "movielens" {
			fmt.Fprintf(os.Stderr, "neo convert: unknown dataset kind %q (supported: movielens, seq)\n", pos[0])
		}
		fs.Usage()
		return 2
	}
	if *frac <= 0 || *frac >= 1 {
		fmt.Fprintln(os.Stderr, "neo convert: --test-fraction must be in (0, 1)")
		return 2
	}
	if *vfrac < 0 || *vfrac >= 1 {
		fmt.Fprintln(os.Stderr, "neo convert: --valid-fraction must be in [0, 1)")
		return 2
	}
	if *vfrac == 0 {
		*vfrac = -1 // MovieLensOptions: negative = none
	}
	st, err := convert.ConvertMovieLens(pos[1], pos[2], convert.MovieLensOptions{Seed: *seed, TestFraction: *frac, ValidFraction: *vfrac})
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo convert:", err)
		return 1
	}
	if *asJSON {
		b, _ := json.Marshal(st)
		fmt.Println(string(b))
		return 0
	}
	st.WriteText(os.Stdout, pos[2])
	return 0
}
