package eval

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/index/folder"
)

// writeFolder writes a data folder; a nil slice means the file is absent.
func writeFolder(t *testing.T, items []index.Item, inter []folder.Interaction, qs []folder.Query) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "synthetic")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, fn func(f *os.File) error) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := fn(f); err != nil {
			t.Fatal(err)
		}
	}
	write(folder.ItemsFile, func(f *os.File) error { return folder.WriteNDJSON(f, items) })
	if inter != nil {
		write(folder.InteractionsFile, func(f *os.File) error { return folder.WriteNDJSON(f, inter) })
	}
	if qs != nil {
		write(folder.QueriesFile, func(f *os.File) error { return folder.WriteNDJSON(f, qs) })
	}
	return dir
}

func item(id, typ, title, desc string, inStock bool) index.Item {
	return index.Item{ID: id, Type: typ, Title: title, Description: desc, InStock: inStock}
}

// seqs turns per-user item sequences into train interactions, ts = position.
func seqs(users map[string][]string) []folder.Interaction {
	var out []folder.Interaction
	for u, items := range users {
		for i, it := range items {
			out = append(out, folder.Interaction{User: u, Item: it, TS: int64(i), Event: "view", Split: "train"})
		}
	}
	return out
}

// baselineData: books b1..b4 (b4 out of stock), films f1, f2.
//
// Train users: b1 b2 | b1 b2 | b1 b3 | b3 f1 | f1 f2 | f1 f2 | f2.
// Counts: b1 3, b2 2, b3 2, f1 3, f2 3. Train queries: "gopher" → b2,
// "spaghetti" → b3, f2.
func baselineData(t *testing.T) *folder.Folder {
	items := []index.Item{
		item("b1", "book", "Go Programming", "a practical book", true),
		item("b2", "book", "Rust Programming", "a practical book", true),
		item("b3", "book", "Cooking Pasta", "recipes from Italy", true),
		item("b4", "book", "Go Advanced", "go go go pasta", false),
		item("f1", "film", "Space Odyssey", "a voyage", true),
		item("f2", "film", "Pasta Movie", "an Italian comedy", true),
	}
	inter := seqs(map[string][]string{
		"u1": {"b1", "b2"}, "u2": {"b1", "b2"}, "u3": {"b1", "b3"}, "u4": {"b3", "f1"},
		"u5": {"f1", "f2"}, "u6": {"f1", "f2"}, "u7": {"f2"},
	})
	// an explicit held-out event, so the log keeps its own split (an
	// all-train log would be split leave-last-out)
	inter = append(inter, folder.Interaction{User: "u8", Item: "b1", TS: 99, Event: "view", Split: "test"})
	qs := []folder.Query{
		{Query: "gopher", Relevant: []folder.Relevance{{Item: "b2", Grade: 1}}},
		{Query: "spaghetti", Relevant: []folder.Relevance{{Item: "b3", Grade: 1}, {Item: "f2", Grade: 2}}, Split: "train"},
		{Query: "pasta", Relevant: []folder.Relevance{{Item: "b3", Grade: 1}}, Split: "test"},
	}
	ds, err := folder.Load(writeFolder(t, items, inter, qs))
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestBaselines(t *testing.T) {
	ctx := context.Background()
	ds := baselineData(t)
	m, closeFn, err := Baselines(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	search := []struct {
		method, query, typ string
		k                  int
		want               []string
	}{
		// Most tagged: f2 1+3/4, b2 1+2/4, b3 1+2/4 (catalog order), b1, f1 3/4.
		{"popularity", "anything", "", 10, []string{"f2", "b2", "b3", "b1", "f1"}},
		{"popularity", "anything", "book", 10, []string{"b2", "b3", "b1"}},
		{"popularity", "anything", "film", 1, []string{"f2"}},
		// Lexical matches first, then the popular rest; b4 is out of stock.
		{"bm25", "pasta", "film", 10, []string{"f2", "f1"}},
		{"bm25", "go advanced", "book", 10, []string{"b1", "b2", "b3"}},
		// "gopher" is only in b2's train tags.
		{"bm25", "gopher", "", 1, []string{"b2"}},
		// Equal BM25 scores tie by id; the prior puts the more popular b2 first.
		{"bm25", "programming", "book", 2, []string{"b1", "b2"}},
		{"bm25_prior", "programming", "book", 2, []string{"b2", "b1"}},
		{"bm25", "", "", 2, []string{"f2", "b2"}},
	}
	for _, tc := range search {
		t.Run("search/"+tc.method+"/"+tc.query+"/"+tc.typ, func(t *testing.T) {
			got, err := m.Search[tc.method].Search(ctx, folder.Query{Query: tc.query, Type: tc.typ}, tc.k)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	rec := []struct {
		method  string
		history []string
		typ     string
		k       int
		want    []string
	}{
		// Train counts b1 3, f1 3, f2 3, b2 2, b3 2; ties in catalog order.
		{"popularity", []string{"b1"}, "", 10, []string{"f1", "f2", "b2", "b3"}},
		{"popularity", nil, "film", 10, []string{"f1", "f2"}},
		// cos(b1,b2) = 2/sqrt(6) > cos(b1,b3) = 1/sqrt(6).
		{"itemknn", []string{"b1"}, "", 2, []string{"b2", "b3"}},
		{"itemknn", []string{"b1"}, "book", 10, []string{"b2", "b3"}},
		{"itemknn", []string{"b1", "unknown"}, "", 3, []string{"b2", "b3", "f1"}},
		// b3 → f1 once; then popularity.
		{"seqknn", []string{"b3"}, "", 3, []string{"f1", "b1", "f2"}},
		// b1 (weight 1): b2 2, b3 1; f1 (weight 1/2): f2 2·1/2 = 1, ties b3 before f2.
		{"seqknn", []string{"f1", "b1"}, "", 3, []string{"b2", "b3", "f2"}},
		{"seqknn", []string{"f1", "b1"}, "film", 3, []string{"f2"}},
	}
	for _, tc := range rec {
		t.Run("recommend/"+tc.method, func(t *testing.T) {
			got, err := m.Recommend[tc.method].Recommend(ctx, tc.history, tc.typ, tc.k)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%v %q: got %v, want %v", tc.history, tc.typ, got, tc.want)
			}
		})
	}
}

func TestSeqKNNWindow(t *testing.T) {
	var items []index.Item
	for _, id := range []string{"x1", "x2", "x3", "x4", "x5"} {
		items = append(items, item(id, "thing", id, "", true))
	}
	inter := seqs(map[string][]string{"u": {"x1", "x2", "x3", "x4", "x5"}})
	// A valid and a test event must not feed the model.
	inter = append(inter, folder.Interaction{User: "u", Item: "x1", TS: 9, Event: "view", Split: "valid"},
		folder.Interaction{User: "u", Item: "x5", TS: 10, Event: "view", Split: "test"})
	ds, err := folder.Load(writeFolder(t, items, inter, nil))
	if err != nil {
		t.Fatal(err)
	}
	cf := newStats(ds).cf()
	next := func(id string) map[string]float64 {
		score := make([]float64, cf.Len())
		touched, err := cf.SeqKNNScores(context.Background(), []string{id}, score)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, c := range touched {
			got[cf.ID(c)] = score[c]
		}
		return got
	}
	if got, want := next("x1"), map[string]float64{"x2": 1, "x3": 1, "x4": 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("x1 → %v, want %v", got, want)
	}
	if got := next("x5"); len(got) != 0 {
		t.Errorf("x5 → %v: the valid event x5 → x1 leaked into the model", got)
	}
}
