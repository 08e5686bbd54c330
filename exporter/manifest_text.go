package exporter

import (
	"fmt"
	"io"
	"sort"
)

// WriteText writes what the export wrote to out, as text.
func (m *Manifest) WriteText(w io.Writer, out string) {
	r := m.Report
	fmt.Fprintf(w, "exported %d items, %d users to %s\n", r.Items, r.Users, out)
	fmt.Fprintf(w, "vocabulary: %d tokens (%d BPE + specials + SID tokens), max_seq %d\n", m.VocabSize, r.BPESize, m.MaxSeq)
	if r.Synthesized > 0 {
		fmt.Fprintf(w, "search queries synthesized from item text: %d\n", r.Synthesized)
	}
	fmt.Fprintf(w, "%-9s %10s %12s %12s %10s %8s\n", "stage", "sequences", "tokens", "loss tokens", "truncated", "dropped")
	for _, s := range Stages {
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
