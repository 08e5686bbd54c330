package convert

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neo-search/neo/index/folder"
)

// The fuzz targets parse arbitrary CSV and, when it parses, check that the
// NDJSON written from it is read back by package index's strict readers
// with the contract's invariants. Seed corpora: testdata/fuzz/<Target>/ and
// the synthetic MovieLens files.

func addFile(f *testing.F, name string) {
	b, err := os.ReadFile(filepath.Join("testdata", "movielens", name))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(b))
}

func FuzzParseMovies(f *testing.F) {
	addFile(f, "movies.csv")
	f.Fuzz(func(t *testing.T, data string) {
		movies, err := ParseMovies(strings.NewReader(data))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		var st MovieLensStats
		if err := WriteMovieItems(&buf, movies, &st); err != nil {
			t.Fatal(err)
		}
		items, err := folder.ReadItems(&buf)
		if err != nil {
			t.Fatalf("written items do not read back: %v", err)
		}
		if len(items) != len(movies) {
			t.Fatalf("%d movies, %d items", len(movies), len(items))
		}
		for _, it := range items {
			if it.Type != "movie" || !it.InStock || it.Title == "" && it.Description == "" {
				t.Errorf("item %+v", it)
			}
		}
	})
}

func FuzzParseRatings(f *testing.F) {
	addFile(f, "ratings.csv")
	f.Fuzz(func(t *testing.T, data string) {
		ratings, err := ParseRatings(strings.NewReader(data))
		if err != nil {
			return
		}
		known := map[int]bool{}
		for _, r := range ratings {
			known[r.Movie] = r.Movie%2 == 0 // drop some
		}
		var buf bytes.Buffer
		var st MovieLensStats
		if err := WriteRatingInteractions(&buf, ratings, known, &st); err != nil {
			t.Fatal(err)
		}
		inter, err := folder.ReadInteractions(&buf)
		if err != nil {
			t.Fatalf("written interactions do not read back: %v", err)
		}
		if len(inter)+st.DroppedRatings != len(ratings) {
			t.Fatalf("%d written + %d dropped != %d ratings", len(inter), st.DroppedRatings, len(ratings))
		}
		tests := map[string]int{}
		users := map[string]bool{}
		for i, x := range inter {
			users[x.User] = true
			if x.Split == "test" {
				tests[x.User]++
			}
			if i > 0 && inter[i-1].TS > x.TS {
				t.Fatal("not in time order")
			}
		}
		for u := range users {
			if tests[u] != 1 {
				t.Errorf("user %s has %d test events", u, tests[u])
			}
		}
	})
}

func FuzzParseTags(f *testing.F) {
	addFile(f, "tags.csv")
	f.Fuzz(func(t *testing.T, data string) {
		tags, err := ParseTags(strings.NewReader(data))
		if err != nil {
			return
		}
		known := map[int]bool{}
		for _, x := range tags {
			known[x.Movie] = true
		}
		var buf bytes.Buffer
		var st MovieLensStats
		if err := WriteTagQueries(&buf, tags, known, MovieLensOptions{TestFraction: 0.5}, &st); err != nil {
			t.Fatal(err)
		}
		qs, err := folder.ReadQueries(&buf)
		if err != nil {
			t.Fatalf("written queries do not read back: %v", err)
		}
		pairs := map[string]bool{}
		for _, q := range qs {
			if q.Query != NormalizeTag(q.Query) {
				t.Errorf("query %q not normalised", q.Query)
			}
			for _, r := range q.Relevant {
				k := q.Query + "\x00" + r.Item
				if pairs[k] {
					t.Errorf("pair (%q, %s) in two queries", q.Query, r.Item)
				}
				pairs[k] = true
			}
		}
		if len(pairs) != st.TagPairs {
			t.Errorf("%d pairs written, stats say %d", len(pairs), st.TagPairs)
		}
	})
}
