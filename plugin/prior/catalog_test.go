package prior

import (
	"context"
	"slices"
	"testing"

	"github.com/blevesearch/bleve/v2"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/index/folder"
)

func TestCatalogExperts(t *testing.T) {
	cat, err := index.OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	items := []index.Item{
		{ID: "s1", Type: "product", Title: "Red wool scarf", Description: "a warm scarf", Price: 20, InStock: true},
		{ID: "s2", Type: "product", Title: "Blue silk scarf", Description: "light", Price: 45, InStock: true},
		{ID: "h1", Type: "product", Title: "Red knit hat", Description: "a warm hat", Price: 15, InStock: true},
		{ID: "m1", Type: "movie", Title: "The Red Scarf", Description: "a film", Price: 0, InStock: true},
		{ID: "b1", Type: "product", Title: "Leather belt", Description: "brown", Price: 30, InStock: true},
	}
	for _, it := range items {
		if err := cat.Put(it); err != nil {
			t.Fatal(err)
		}
	}
	events := []folder.Interaction{
		{User: "u1", Item: "s1", TS: 1}, {User: "u1", Item: "h1", TS: 2},
		{User: "u2", Item: "s1", TS: 1}, {User: "u2", Item: "h1", TS: 3}, {User: "u2", Item: "b1", TS: 2},
		{User: "u3", Item: "gone", TS: 1}, {User: "u3", Item: "s2", TS: 2}, {User: "u3", Item: "s1", TS: 3},
	}
	ex, err := CatalogExperts(cat, events)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(hs []Hit) []string {
		var out []string
		for _, h := range hs {
			out = append(out, h.ID)
		}
		return out
	}
	cheap := bleve.NewNumericRangeQuery(nil, ptr(25.0))
	cheap.SetField(index.FieldPrice)
	for _, tc := range []struct {
		name, expert string
		q            Query
		want         []string // hits, best first; nil: no hits
		first        string   // when set, only the best hit is checked
	}{
		{name: "text", expert: BM25, q: Query{Task: "search", Text: "red scarf"}, first: "s1"},
		{name: "text all fields", expert: BM25, q: Query{Task: "search", Text: "warm"}, want: nil, first: ""},
		{name: "type", expert: BM25, q: Query{Task: "search", Text: "red scarf", Types: []string{"movie"}}, want: []string{"m1"}},
		{name: "filter", expert: BM25, q: Query{Task: "search", Text: "scarf", Filter: cheap, Types: []string{"product"}}, want: []string{"s1"}},
		{name: "no text", expert: BM25, q: Query{Task: "search", Text: "  "}, want: nil},
		{name: "no match", expert: BM25, q: Query{Task: "search", Text: "zeppelin"}, want: nil},
		{name: "itemknn", expert: ItemKNN, q: Query{Task: "recommend", History: []string{"s1"}}, first: "h1"},
		{name: "seqknn", expert: SeqKNN, q: Query{Task: "recommend", History: []string{"s1"}}, first: "h1"},
		{name: "popularity", expert: Popularity, q: Query{Task: "recommend"}, want: []string{"s1", "h1", "b1", "s2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs, err := ex[tc.expert].Hits(context.Background(), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			got := ids(hs)
			switch {
			case tc.name == "text all fields":
				if !slices.Contains(got, "s1") || !slices.Contains(got, "h1") || len(got) != 2 {
					t.Fatalf("warm (in descriptions): got %v, want s1 and h1", got)
				}
			case tc.first != "":
				// first must score best; hits tied with it may come in any order
				i := slices.Index(got, tc.first)
				if i < 0 || hs[i].Score < hs[0].Score {
					t.Fatalf("got %v (%v), want %s first", got, hs, tc.first)
				}
			case !slices.Equal(got, tc.want):
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i, h := range hs {
				if h.Score <= 0 {
					t.Fatalf("hit %v has score ≤ 0", h)
				}
				// bm25 weights are exp(score − best): the best is 1, then non-increasing
				if tc.expert == BM25 && ((i == 0 && h.Score != 1) || (i > 0 && h.Score > hs[i-1].Score)) {
					t.Fatalf("bm25 hits weigh %v, want 1 first and non-increasing", hs)
				}
			}
		})
	}
	t.Run("no events", func(t *testing.T) {
		ex, err := CatalogExperts(cat, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(ex) != 1 || ex[BM25] == nil {
			t.Fatalf("experts without events: %v, want bm25 alone", ex)
		}
	})
}

func TestSequences(t *testing.T) {
	ord := map[string]int32{"a": 0, "b": 1, "c": 2}
	events := []folder.Interaction{
		{User: "u2", Item: "c", TS: 5, Split: "train"},
		{User: "u1", Item: "b", TS: 2, Split: "train"},
		{User: "u1", Item: "a", TS: 1, Split: "train"},
		{User: "u1", Item: "c", TS: 2, Split: "train"}, // tie with b: file order
		{User: "u1", Item: "x", TS: 0, Split: "train"}, // unknown item
		{User: "u2", Item: "a", TS: 9, Split: "test"},
	}
	for _, tc := range []struct {
		name string
		keep func(*folder.Interaction) bool
		want [][]int32
	}{
		{"all", nil, [][]int32{{2, 0}, {0, 1, 2}}},
		{"train", func(x *folder.Interaction) bool { return x.Split == "train" }, [][]int32{{2}, {0, 1, 2}}},
		{"none", func(*folder.Interaction) bool { return false }, [][]int32{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Sequences(ord, events, tc.keep)
			if !slices.EqualFunc(got, tc.want, slices.Equal[[]int32]) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
