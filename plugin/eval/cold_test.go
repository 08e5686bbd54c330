package eval

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/index/folder"
)

func TestHoldOut(t *testing.T) {
	var items []index.Item
	for i := range 5000 {
		items = append(items, item("it"+string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676)), "book", "", "", true))
	}
	ds := &folder.Folder{Items: items}
	for _, frac := range []float64{0, 0.1, 0.5} {
		t.Run("", func(t *testing.T) {
			got := HoldOut(ds, frac, 1)
			share := float64(len(got)) / float64(len(items))
			if math.Abs(share-frac) > 0.02 {
				t.Fatalf("HoldOut(%g): %d of %d (%.3f)", frac, len(got), len(items), share)
			}
			// the choice depends on the id only: a subset keeps its picks
			sub := HoldOut(&folder.Folder{Items: items[:100]}, frac, 1)
			for _, it := range items[:100] {
				if sub[it.ID] != got[it.ID] {
					t.Fatalf("%s: %v in the subset, %v in the whole", it.ID, sub[it.ID], got[it.ID])
				}
			}
		})
	}
	if a, b := HoldOut(ds, 0.1, 1), HoldOut(ds, 0.1, 2); len(a) > 0 && len(b) > 0 && equalSets(a, b) {
		t.Fatal("the seed does not change the pick")
	}
}

func equalSets(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func TestCold(t *testing.T) {
	ds := baselineData(t)
	fresh := map[string]bool{"b2": true, "b1": true}
	cold := ds.Cold(fresh)
	for _, x := range cold.Interactions {
		if x.Split == folder.SplitTrain && fresh[x.Item] {
			t.Fatalf("train interaction %+v names a new item", x)
		}
	}
	// u8's test event on b1 stays: a target that is a new item
	if !slices.ContainsFunc(cold.Interactions, func(x folder.Interaction) bool { return x.User == "u8" && x.Item == "b1" }) {
		t.Fatal("the test event on a new item was dropped")
	}
	var qs []string
	for _, q := range cold.Queries {
		qs = append(qs, q.Query+"/"+q.Split)
	}
	if want := []string{"spaghetti/train", "pasta/test"}; !slices.Equal(qs, want) {
		t.Fatalf("queries %v, want %v (gopher names b2)", qs, want)
	}
	if len(ds.Interactions) == len(cold.Interactions) {
		t.Fatal("Cold changed nothing")
	}
	// the baselines of the cold data never rank a new item by interactions
	kit, err := NewKit(context.Background(), cold)
	if err != nil {
		t.Fatal(err)
	}
	defer kit.Close()
	got, _ := kit.Baselines().Recommend["itemknn"].Recommend(context.Background(), []string{"b3"}, "book", 1)
	if len(got) == 1 && fresh[got[0]] && kit.st.trainCount[kit.st.ord[got[0]]] > 0 {
		t.Fatalf("itemknn learned from a new item: %v", got)
	}
}

func TestContentKNN(t *testing.T) {
	ds := baselineData(t)
	kit, err := NewKit(context.Background(), ds.Cold(map[string]bool{"b2": true}))
	if err != nil {
		t.Fatal(err)
	}
	defer kit.Close()
	c := kit.ContentKNN()
	tests := []struct {
		history []string
		typ     string
		want    string // the top answer
	}{
		{[]string{"b1"}, "book", "b2"},           // "Programming", "a practical book": b2 has no interactions
		{[]string{"b3"}, "film", "f2"},           // pasta, Italy/Italian: only f2 shares "pasta"
		{[]string{"f1", "b1"}, "book", "b2"},     // the latest history item weighs most
		{[]string{"b2", "b1", "b3"}, "book", ""}, // b4 is out of stock: nothing left but fill
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			got, err := c.Recommend(context.Background(), tc.history, tc.typ, 3)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range tc.history {
				if slices.Contains(got, h) {
					t.Fatalf("%v: history item %s returned", got, h)
				}
			}
			if slices.Contains(got, "b4") {
				t.Fatalf("%v: out-of-stock b4 returned", got)
			}
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("got %v, want nothing", got)
				}
				return
			}
			if len(got) == 0 || got[0] != tc.want {
				t.Fatalf("got %v, want %s first", got, tc.want)
			}
		})
	}
}
