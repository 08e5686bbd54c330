package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/index/folder"
)

// runData: 40 in-stock books bk0..bk39, one out-of-stock book bkX, one film
// fm0. u1: bk0 train, bk1 valid, bk2 test; u2: bk3 train, bk4 valid, fm0
// test; u3's test item is not in the catalog. Test queries: "alpha" (seen
// in train), "beta" (type book, unseen), "gamma" (no catalog item).
func runData(t *testing.T, withInter, withQueries bool) *folder.Folder {
	var items []index.Item
	for i := range 40 {
		items = append(items, item(fmt.Sprintf("bk%d", i), "book", fmt.Sprintf("book %d", i), "", true))
	}
	items = append(items, item("bkX", "book", "gone", "", false), item("fm0", "film", "film", "", true))
	var inter []folder.Interaction
	if withInter {
		ev := func(u, it string, ts int64, split string) folder.Interaction {
			return folder.Interaction{User: u, Item: it, TS: ts, Event: "buy", Split: split}
		}
		inter = []folder.Interaction{
			ev("u1", "bk2", 30, "test"), ev("u1", "bk0", 10, "train"), ev("u1", "bk1", 20, "valid"),
			ev("u2", "bk3", 10, ""), ev("u2", "bk4", 20, "valid"), ev("u2", "fm0", 30, "test"),
			ev("u3", "bk9", 10, "train"), ev("u3", "zzz", 20, "test"),
		}
	}
	var qs []folder.Query
	if withQueries {
		rel := func(pairs ...any) []folder.Relevance {
			var out []folder.Relevance
			for i := 0; i < len(pairs); i += 2 {
				out = append(out, folder.Relevance{Item: pairs[i].(string), Grade: pairs[i+1].(int)})
			}
			return out
		}
		qs = []folder.Query{
			{Query: "Alpha", Relevant: rel("bk0", 1), Split: "train"},
			{Query: "alpha ", Relevant: rel("bk5", 2, "bk6", 1), Split: "test"},
			{Query: "beta", Type: "book", Relevant: rel("bk7", 1), Split: "test"},
			{Query: "gamma", Relevant: rel("zzz", 1), Split: "test"},
		}
	}
	ds, err := folder.Load(writeFolder(t, items, inter, qs))
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

type searchFunc func(q folder.Query, k int) ([]string, error)

func (f searchFunc) Search(_ context.Context, q folder.Query, k int) ([]string, error) {
	return f(q, k)
}

type recFunc func(history []string, typ string, k int) ([]string, error)

func (f recFunc) Recommend(_ context.Context, h []string, typ string, k int) ([]string, error) {
	return f(h, typ, k)
}

func fakeMethods() Methods {
	return Methods{
		Search: map[string]Searcher{"neo": searchFunc(func(q folder.Query, k int) ([]string, error) {
			if q.Query == "beta" {
				return []string{"fm0"}, nil // wrong type, and short
			}
			out := []string{"bk6", "bk5"} // 31 ids: too many
			for i := range 29 {
				out = append(out, fmt.Sprintf("bk%d", 10+i))
			}
			return out, nil
		})},
		Recommend: map[string]Recommender{
			"neo": recFunc(func(h []string, typ string, k int) ([]string, error) {
				if typ == "film" {
					return []string{"bk8", "fm0"}, nil // bk8: wrong type; one film only: not short
				}
				return []string{"bk2", "bk2", "nope", "bkX"}, nil // repeat, unknown, out of stock, short
			}),
			"err": recFunc(func([]string, string, int) ([]string, error) { return nil, errors.New("boom") }),
		},
	}
}

func TestRunCounts(t *testing.T) {
	ds := runData(t, true, true)
	var bar bytes.Buffer
	rep, err := Run(context.Background(), ds, fakeMethods(), Options{Progress: &bar})
	if err != nil {
		t.Fatal(err)
	}
	ndcgAlpha := (1 + 3/math.Log2(3)) / (3 + 1/math.Log2(3))
	checks := []struct {
		name      string
		got, want float64
	}{
		{"search n", rep.Search["neo"]["n"], 2},
		{"search hr@10", rep.Search["neo"]["hr@10"], 0.5},
		{"search ndcg@10", rep.Search["neo"]["ndcg@10"], ndcgAlpha / 2},
		{"search hr@10_se", rep.Search["neo"]["hr@10_se"], 0.5 / math.Sqrt2},
		{"search hr@30", rep.Search["neo"]["hr@30"], 0.5},
		{"search type_violations", rep.Search["neo"]["type_violations"], 1},
		{"search format_violations", rep.Search["neo"]["format_violations"], 1},
		{"seen n", rep.SearchSeen["neo"]["n"], 1},
		{"seen hr@10", rep.SearchSeen["neo"]["hr@10"], 1},
		{"unseen n", rep.SearchUnseen["neo"]["n"], 1},
		{"unseen hr@10", rep.SearchUnseen["neo"]["hr@10"], 0},
		{"recommend n", rep.Recommend["neo"]["n"], 2},
		{"recommend hr@10", rep.Recommend["neo"]["hr@10"], 1},
		{"recommend ndcg@10", rep.Recommend["neo"]["ndcg@10"], (1 + 1/math.Log2(3)) / 2},
		{"recommend hr@10_se", rep.Recommend["neo"]["hr@10_se"], 0},
		{"recommend invalid_sids", rep.Recommend["neo"]["invalid_sids"], 2},
		{"recommend short_lists", rep.Recommend["neo"]["short_lists"], 1},
		{"err errors", rep.Recommend["err"]["errors"], 2},
		{"err hr@10", rep.Recommend["err"]["hr@10"], 0},
		// Totals over methods: invalid nope+bkX; types fm0 (search), bk8;
		// format 31 ids, repeated bk2; short beta, u1 (neo), u1 (err).
		{"invalid_sids", float64(rep.InvalidSIDs), 2},
		{"type_violations", float64(rep.TypeViolations), 2},
		{"format_violations", float64(rep.FormatViolations), 2},
		{"short_lists", float64(rep.ShortLists), 3},
		{"errors", float64(rep.Errors), 2},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !near(c.got, c.want) {
				t.Errorf("got %v, want %v", c.got, c.want)
			}
		})
	}
	wantSkip := []string{"1 test queries without a relevant catalog item", "1 test interactions name items missing"}
	for _, w := range wantSkip {
		if !strings.Contains(strings.Join(rep.Skipped, "\n"), w) {
			t.Errorf("skipped %q: no %q", rep.Skipped, w)
		}
	}
	if len(rep.ErrorMessages) != 1 || !strings.Contains(rep.ErrorMessages[0], "err: boom") {
		t.Errorf("error messages %q", rep.ErrorMessages)
	}
	if bar.Len() == 0 {
		t.Error("no progress output")
	}
}

// TestReportJSON pins the paths the engine acceptance check reads.
func TestReportJSON(t *testing.T) {
	rep, err := Run(context.Background(), runData(t, true, true), fakeMethods(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("\n")) {
		t.Error("report JSON is not one line")
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	path := func(keys ...string) any {
		var v any = m
		for _, k := range keys {
			o, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = o[k]
		}
		return v
	}
	for _, p := range [][]string{
		{"dataset"}, {"search", "neo", "ndcg@10"}, {"search", "neo", "hr@30"}, {"search", "neo", "latency_ms_p99"},
		{"search_seen", "neo", "ndcg@10"}, {"search_unseen", "neo", "ndcg@10"},
		{"recommend", "neo", "hr@10"}, {"recommend", "neo", "hr@10_se"}, {"recommend", "neo", "latency_ms_p50"},
		{"invalid_sids"}, {"type_violations"}, {"format_violations"}, {"short_lists"}, {"skipped"},
	} {
		if path(p...) == nil {
			t.Errorf("report JSON has no %s: %s", strings.Join(p, "."), b)
		}
	}
	if path("dataset") != "synthetic" {
		t.Errorf("dataset %v", path("dataset"))
	}
}

func TestRunSkips(t *testing.T) {
	tests := []struct {
		name          string
		inter, query  bool
		opt           Options
		search, recom bool
		skip          []string
	}{
		{"items only", false, false, Options{}, false, false, []string{"no queries.ndjson", "no interactions.ndjson"}},
		{"no queries", true, false, Options{}, false, true, []string{"no queries.ndjson"}},
		{"no interactions", false, true, Options{}, true, false, []string{"no interactions.ndjson"}},
		{"valid split", true, true, Options{Split: "valid"}, false, true, []string{"no queries of split valid"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Run(context.Background(), runData(t, tc.inter, tc.query), fakeMethods(), tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if (rep.Search != nil) != tc.search || (rep.Recommend != nil) != tc.recom {
				t.Errorf("search block %v, recommend block %v", rep.Search != nil, rep.Recommend != nil)
			}
			all := strings.Join(rep.Skipped, "\n")
			for _, s := range tc.skip {
				if !strings.Contains(all, s) {
					t.Errorf("skipped %q: no %q", rep.Skipped, s)
				}
			}
		})
	}
	if _, err := Run(context.Background(), runData(t, true, false), fakeMethods(), Options{Split: "train"}); err == nil {
		t.Error("split train: want an error")
	}
}

func TestRunValidSplitHistory(t *testing.T) {
	ds := runData(t, true, false)
	for _, tc := range []struct {
		split   string
		history []string
		target  string
	}{
		{"test", []string{"bk0", "bk1"}, "bk2"},
		{"valid", []string{"bk0"}, "bk1"},
	} {
		t.Run(tc.split, func(t *testing.T) {
			cases, _ := ds.CasesOf(tc.split)
			if len(cases) == 0 || cases[0].User != "u1" || cases[0].Target != tc.target ||
				strings.Join(cases[0].History, ",") != strings.Join(tc.history, ",") {
				t.Errorf("first case %+v", cases)
			}
		})
	}
}

func TestRunBaselinesClean(t *testing.T) {
	ds := runData(t, true, true)
	m, closeFn, err := Baselines(context.Background(), ds)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	rep, err := Run(context.Background(), ds, m, Options{K: 5})
	if err != nil {
		t.Fatal(err)
	}
	if rep.InvalidSIDs+rep.TypeViolations+rep.FormatViolations+rep.ShortLists+rep.Errors != 0 {
		t.Errorf("baselines break the contract: %+v", rep)
	}
	for _, name := range []string{"bm25", "bm25_prior", "popularity"} {
		if rep.Search[name]["n"] != 2 || rep.Search[name]["hr@5"] < 0 {
			t.Errorf("search %s: %v", name, rep.Search[name])
		}
	}
	for _, name := range []string{"popularity", "itemknn", "seqknn"} {
		if rep.Recommend[name]["n"] != 2 {
			t.Errorf("recommend %s: %v", name, rep.Recommend[name])
		}
	}
}

func TestRunCancelledAndLimit(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, runData(t, true, true), fakeMethods(), Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err %v", err)
	}
	rep, err := Run(context.Background(), runData(t, true, true), fakeMethods(), Options{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Search["neo"]["n"] != 1 || rep.Recommend["neo"]["n"] != 1 {
		t.Errorf("limit 1: %v %v", rep.Search["neo"], rep.Recommend["neo"])
	}
	if got := Spaced([]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 3); fmt.Sprint(got) != "[0 3 6]" {
		t.Errorf("spaced = %v", got)
	}
}
