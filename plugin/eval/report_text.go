package eval

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// WriteText writes the report as text tables, one per block, at the
// headline cut-off k and at 30.
func (rep *Report) WriteText(w io.Writer, k int) {
	cuts := []int{k}
	if k != 30 {
		cuts = append(cuts, 30)
	}
	slices.Sort(cuts)
	cols := []string{}
	for _, c := range cuts {
		cols = append(cols, "hr@"+strconv.Itoa(c), "ndcg@"+strconv.Itoa(c))
	}
	cols = append(cols, "hr@"+strconv.Itoa(k)+"_se", "n", "latency_ms_p50", "latency_ms_p99")
	fmt.Fprintf(w, "dataset %s (split %s)\n", rep.Dataset, rep.Split)
	block := func(title string, b map[string]Metrics) {
		if len(b) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s\n  %-18s", title, "method")
		for _, c := range cols {
			fmt.Fprintf(w, " %10s", strings.TrimPrefix(c, "latency_ms_"))
		}
		fmt.Fprintln(w)
		names := make([]string, 0, len(b))
		for n := range b {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			fmt.Fprintf(w, "  %-18s", n)
			for _, c := range cols {
				if c == "n" {
					fmt.Fprintf(w, " %10d", int(b[n][c]))
				} else {
					fmt.Fprintf(w, " %10.4f", b[n][c])
				}
			}
			fmt.Fprintln(w)
		}
	}
	block("search", rep.Search)
	block("search, query seen in train", rep.SearchSeen)
	block("search, query unseen in train", rep.SearchUnseen)
	block("recommend", rep.Recommend)
	if c := rep.Cold; c != nil {
		block(fmt.Sprintf("search, a new item relevant (%d new items)", c.NewItems), c.SearchNew)
		block("search, no new item relevant", c.SearchRest)
		block("recommend, new target item", c.RecommendNew)
		block("recommend, other targets", c.RecommendRest)
	}
	if m := rep.Mixed; m != nil {
		fmt.Fprintf(w, "\nmixed answers (max %d tokens): value mentions after an item, contradictions, share ended, mean tokens, guard interventions\n", m.MaxTokens)
		for _, x := range []struct {
			name string
			s    MixedStats
		}{{"fact guard on", m.Guarded}, {"fact guard off", m.Unguarded}} {
			fmt.Fprintf(w, "  %-15s %5d answers %6d mentions %5d contradictions (%.1f%%) ended %.3f mean %.1f interventions %d\n",
				x.name, x.s.Answers, x.s.Mentions, x.s.Contradictions, 100*x.s.Rate, x.s.Ended, x.s.MeanTokens, x.s.Interventions)
		}
	}
	if a := rep.Asks; a != nil {
		fmt.Fprintf(w, "\nasks naming a brand or colour: share of items named that match it\n")
		fmt.Fprintf(w, "  mixed      served %.3f  prompt alone %.3f  without the ask %.3f (%d asks)\n", a.MixedWithAsk.Share, a.MixedPromptOnly.Share, a.MixedWithout.Share, a.MixedWithAsk.Asks)
		fmt.Fprintf(w, "  recommend  served %.3f  prompt alone %.3f  without the ask %.3f (top 5)\n", a.RecommendWithAsk.Share, a.RecommendPromptOnly.Share, a.RecommendWithout.Share)
	}
	fmt.Fprintf(w, "\ninvalid_sids %d  type_violations %d  format_violations %d  short_lists %d  errors %d\n",
		rep.InvalidSIDs, rep.TypeViolations, rep.FormatViolations, rep.ShortLists, rep.Errors)
	for _, s := range rep.Skipped {
		fmt.Fprintln(w, "skipped:", s)
	}
	for _, s := range rep.ErrorMessages {
		fmt.Fprintln(w, "error:", s)
	}
}
