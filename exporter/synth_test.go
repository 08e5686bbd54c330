package exporter

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestSynthQueries: every synthesized query is distinct, train, literal,
// and exactly the items whose words hold all of its words are relevant.
func TestSynthQueries(t *testing.T) {
	in := fixture()
	items, _, _, err := prepareItems(in.Items, nil)
	if err != nil {
		t.Fatal(err)
	}
	bag := func(it *itemInfo) []string {
		ws := synthWords(it.title + " " + it.brand)
		for _, v := range attrValues(it) {
			ws = append(ws, synthWords(v)...)
		}
		for _, v := range descSegments(it.desc) {
			ws = append(ws, synthWords(v)...)
		}
		return ws
	}
	for _, n := range []int{1, 10, 40} {
		qs := synthQueries(items, n, in.Queries, rand.New(rand.NewPCG(1, uint64(n))))
		if len(qs) == 0 || len(qs) > n {
			t.Fatalf("n=%d: %d queries", n, len(qs))
		}
		seen := map[string]bool{}
		for _, q := range in.Queries {
			seen[strings.Join(synthWords(q.Query), " ")] = true
		}
		for _, q := range qs {
			if seen[q.Query] || q.Split != "train" || q.Kind != "literal" {
				t.Fatalf("query %+v (repeat %v)", q, seen[q.Query])
			}
			seen[q.Query] = true
			var want []string
			for _, it := range items {
				ws := bag(it)
				all := true
				for _, w := range synthWords(q.Query) {
					all = all && slices.Contains(ws, w)
				}
				if all {
					want = append(want, it.id)
				}
			}
			var got []string
			for _, r := range q.Relevant {
				got = append(got, r.Item)
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("%q: relevant %v, want %v", q.Query, got, want)
			}
		}
	}
	if qs := synthQueries(items, 0, nil, rand.New(rand.NewPCG(1, 1))); qs != nil {
		t.Fatalf("n=0 gave %d queries", len(qs))
	}
}

func TestDescSegments(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"Diners, Greek, Mediterranean, Restaurants", []string{"Diners", "Greek", "Mediterranean", "Restaurants"}},
		{"Food Delivery Services, Italian; a place with very long name here", []string{"Food Delivery Services", "Italian"}},
		{"A bracelet crafted by hand.", nil},
	} {
		if got := descSegments(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("descSegments(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestExportSynthQueries: the option adds search samples and says how
// many queries it made; without it the export has none.
func TestExportSynthQueries(t *testing.T) {
	in := fixture()
	in.Queries = nil
	m0, _ := export(t, in, Options{})
	m1, _ := export(t, in, Options{SynthQueries: 2})
	if m0.Report.Synthesized != 0 || m1.Report.Synthesized == 0 {
		t.Fatalf("synthesized %d without, %d with the option", m0.Report.Synthesized, m1.Report.Synthesized)
	}
	search := func(m *Manifest) int {
		return m.Report.Mix["instruct search/ids typed"] + m.Report.Mix["instruct search/ids untyped"]
	}
	if search(m0) != 0 || search(m1) != searchPermutations*m1.Report.Synthesized {
		t.Fatalf("search samples %d without, %d with %d queries", search(m0), search(m1), m1.Report.Synthesized)
	}
	if _, err := Export(t.Context(), in, Options{OutDir: t.TempDir(), SynthQueries: -1}); err == nil {
		t.Fatal("negative SynthQueries accepted")
	}
}
