package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/neo-search/neo/index"
)

var files = []string{"items.ndjson", "interactions.ndjson", "queries.ndjson"}

// TestDeterministic generates the demo twice and compares the bytes, and
// checks that the committed demo is what the generator writes.
func TestDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if err := Generate(DefaultConfig()).Write(dir); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		x, err := os.ReadFile(filepath.Join(a, f))
		if err != nil {
			t.Fatal(err)
		}
		y, _ := os.ReadFile(filepath.Join(b, f))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between runs", f)
		}
		committed, err := os.ReadFile(filepath.Join("..", "demo", f))
		if err != nil {
			t.Logf("no committed %s: %v", f, err)
			continue
		}
		if !bytes.Equal(x, committed) {
			t.Errorf("testdata/demo/%s is stale: run go run ./testdata/gen", f)
		}
	}
}

func TestShape(t *testing.T) {
	dir := t.TempDir()
	d := Generate(DefaultConfig())
	if err := d.Write(dir); err != nil {
		t.Fatal(err)
	}
	open := func(name string) *os.File {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}

	items, err := index.ReadItems(open("items.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]index.Item{}
	perType := map[string]int{}
	inStock := 0
	for _, it := range items {
		byID[it.ID] = it
		perType[it.Type]++
		if it.InStock {
			inStock++
		}
		for _, k := range []string{"collection", "material", "color", "style"} {
			if it.Attributes[k] == "" {
				t.Fatalf("%s lacks attribute %s", it.ID, k)
			}
		}
		if it.Price <= 0 || it.Brand == "" || it.Description == "" {
			t.Fatalf("incomplete item %+v", it)
		}
	}
	t.Run("items", func(t *testing.T) {
		if len(items) < 2800 || len(items) > 3200 || len(byID) != len(items) {
			t.Errorf("%d items, %d ids", len(items), len(byID))
		}
		if len(perType) != 10 {
			t.Errorf("types %v", perType)
		}
		for ty, n := range perType {
			if n < 150 || n > 500 {
				t.Errorf("%d items of type %s", n, ty)
			}
		}
		if f := float64(inStock) / float64(len(items)); f < 0.88 || f > 0.96 {
			t.Errorf("in stock share %.3f", f)
		}
	})

	t.Run("interactions", func(t *testing.T) {
		ins, err := index.ReadInteractions(open("interactions.ndjson"))
		if err != nil {
			t.Fatal(err)
		}
		byUser := map[string][]index.Interaction{}
		var users []string
		for _, in := range ins {
			if _, ok := byID[in.Item]; !ok {
				t.Fatalf("unknown item %q", in.Item)
			}
			if byUser[in.User] == nil {
				users = append(users, in.User)
			}
			byUser[in.User] = append(byUser[in.User], in)
		}
		if len(users) != DefaultConfig().Users {
			t.Fatalf("%d users", len(users))
		}
		sameColl := 0
		for _, u := range users {
			evs := byUser[u]
			if len(evs) < 6 || len(evs) > 14 {
				t.Fatalf("%s has %d events", u, len(evs))
			}
			if !slices.IsSortedFunc(evs, func(a, b index.Interaction) int { return int(a.TS - b.TS) }) {
				t.Fatalf("%s events not in time order", u)
			}
			for i, e := range evs {
				want := index.SplitTrain
				switch i {
				case len(evs) - 1:
					want = index.SplitTest
				case len(evs) - 2:
					want = index.SplitValid
				}
				if e.Split != want || (e.Event != "view" && e.Event != "purchase") {
					t.Fatalf("%s event %d: %+v", u, i, e)
				}
			}
			target := byID[evs[len(evs)-1].Item].Attributes["collection"]
			if slices.ContainsFunc(evs[:len(evs)-1], func(e index.Interaction) bool { return byID[e.Item].Attributes["collection"] == target }) {
				sameColl++
			}
		}
		// Tastes are coherent: the target's collection is mostly in the history.
		if f := float64(sameColl) / float64(len(users)); f < 0.6 {
			t.Errorf("only %.2f of test targets share a collection with their history", f)
		}
	})

	t.Run("queries", func(t *testing.T) {
		qs, err := index.ReadQueries(open("queries.ndjson"))
		if err != nil {
			t.Fatal(err)
		}
		train := map[string]bool{}
		split := map[string]int{}
		typed := 0
		for _, q := range qs {
			split[q.Split]++
			if q.Split == index.SplitTrain {
				train[q.Query] = true
			}
			if q.Type != "" {
				typed++
			}
			if n := len(q.Relevant); n < 3 || n > 40 {
				t.Fatalf("%q has %d relevant items", q.Query, n)
			}
			full := 0
			for _, r := range q.Relevant {
				it, ok := byID[r.Item]
				if !ok {
					t.Fatalf("%q: unknown item %q", q.Query, r.Item)
				}
				if q.Type != "" && it.Type != q.Type {
					t.Fatalf("%q: %s is a %s", q.Query, it.ID, it.Type)
				}
				if r.Grade == 2 {
					full++
				}
				if strings.Contains(strings.ToLower(q.Query), strings.ToLower(it.Title)) {
					t.Fatalf("%q copies a title", q.Query)
				}
			}
			if full < 3 {
				t.Fatalf("%q has %d grade-2 items", q.Query, full)
			}
		}
		if split[index.SplitTrain] != 2500 || split[index.SplitTest] != 300 {
			t.Errorf("splits %v", split)
		}
		if f := float64(typed) / float64(len(qs)); f < 0.4 || f > 0.6 {
			t.Errorf("typed share %.2f", f)
		}
		for _, q := range qs {
			if q.Split == index.SplitTest && train[q.Query] {
				t.Errorf("test query %q is also a train query", q.Query)
			}
		}
	})
}
