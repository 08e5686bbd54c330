package convert

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/index/folder"
)

func TestSplitTitle(t *testing.T) {
	tests := []struct {
		raw, title, year string
	}{
		{"Toy Story (1995)", "Toy Story", "1995"},
		{"American President, The (1995)", "The American President", "1995"},
		{"City of Lost Children, The (Cité des enfants perdus, La) (1995)", "The City of Lost Children (Cité des enfants perdus, La)", "1995"},
		{"Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)", "Amélie (Fabuleux destin d'Amélie Poulain, Le)", "2001"},
		{"Auberge espagnole, L' (2002)", "L'Auberge espagnole", "2002"},
		{"Sex, Lies, and Videotape (1989)", "Sex, Lies, and Videotape", "1989"},
		{"Babylon 5", "Babylon 5", ""},
		{"Cosmos (1980– )", "Cosmos", "1980"},
		{"Fawlty Towers (1975-1979)", "Fawlty Towers", "1975"},
		{"Ghost in the Shell (Kôkaku kidôtai) (1995) ", "Ghost in the Shell (Kôkaku kidôtai)", "1995"},
		{"千と千尋の神隠し (2001)", "千と千尋の神隠し", "2001"},
		{"(1995)", "(1995)", "1995"},
		{"", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			title, year := SplitTitle(tc.raw)
			if title != tc.title || year != tc.year {
				t.Errorf("SplitTitle(%q) = %q, %q; want %q, %q", tc.raw, title, year, tc.title, tc.year)
			}
		})
	}
}

func TestGenreKeyAndNormalizeTag(t *testing.T) {
	keys := map[string]string{
		"Sci-Fi": "genre_sci_fi", "Film-Noir": "genre_film_noir", "IMAX": "genre_imax",
		"Children's": "genre_children_s", "Comedy": "genre_comedy", " War ": "genre_war", "Ünïcode": "genre_n_code",
	}
	for in, want := range keys {
		t.Run("genre/"+in, func(t *testing.T) {
			if got := GenreKey(in); got != want {
				t.Errorf("GenreKey(%q) = %q, want %q", in, got, want)
			}
		})
	}
	tags := map[string]string{
		"  Studio   Ghibli ": "studio ghibli", "SPACE": "space", "Ästhetik": "ästhetik",
		"\t\n": "", "quirky, charming": "quirky, charming",
	}
	for in, want := range tags {
		t.Run("tag/"+in, func(t *testing.T) {
			if got := NormalizeTag(in); got != want {
				t.Errorf("NormalizeTag(%q) = %q, want %q", in, got, want)
			}
		})
	}
}

// readBack converts testdata/movielens and reads the three files back with
// the readers of package index.
func readBack(t *testing.T, opt MovieLensOptions) (*MovieLensStats, []index.Item, []folder.Interaction, []folder.Query) {
	t.Helper()
	out := t.TempDir()
	st, err := ConvertMovieLens(filepath.Join("testdata", "movielens"), out, opt)
	if err != nil {
		t.Fatal(err)
	}
	open := func(name string) *os.File {
		f, err := os.Open(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	items, err := folder.ReadItems(open(folder.ItemsFile))
	if err != nil {
		t.Fatal(err)
	}
	inter, err := folder.ReadInteractions(open(folder.InteractionsFile))
	if err != nil {
		t.Fatal(err)
	}
	qs, err := folder.ReadQueries(open(folder.QueriesFile))
	if err != nil {
		t.Fatal(err)
	}
	return st, items, inter, qs
}

func TestConvertMovieLensItems(t *testing.T) {
	st, items, _, _ := readBack(t, MovieLensOptions{})
	if st.Items != 10 || len(items) != 10 {
		t.Fatalf("items: stats %d, read %d; want 10", st.Items, len(items))
	}
	byID := map[string]index.Item{}
	for _, it := range items {
		byID[it.ID] = it
		if it.Type != "movie" || !it.InStock {
			t.Errorf("%s: type %q in_stock %v", it.ID, it.Type, it.InStock)
		}
	}
	tests := []struct {
		id, title, desc string
		attrs           map[string]string
	}{
		{"m1", "Toy Story", "Adventure, Animation, Children, Comedy, Fantasy film from 1995", map[string]string{
			"year": "1995", "genres": "Adventure|Animation|Children|Comedy|Fantasy", "genre_adventure": "true",
			"genre_animation": "true", "genre_children": "true", "genre_comedy": "true", "genre_fantasy": "true"}},
		{"m3", "The City of Lost Children (Cité des enfants perdus, La)", "Adventure, Drama, Fantasy, Mystery, Sci-Fi film from 1995", nil},
		{"m5", "Babylon 5", "Sci-Fi film", map[string]string{"genres": "Sci-Fi", "genre_sci_fi": "true"}},
		{"m7", `"Great" Performances: Cats`, "Musical film from 1998", nil},
		{"m8", "千と千尋の神隠し", "Animation, Fantasy film from 2001", nil},
		{"m9", "Unknown Film", "Film from 2010", map[string]string{"year": "2010"}},
		{"m10", "L'Auberge espagnole", "Comedy, Drama, Film-Noir film from 2002", map[string]string{
			"year": "2002", "genres": "Comedy|Drama|Film-Noir", "genre_comedy": "true", "genre_drama": "true", "genre_film_noir": "true"}},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			it, ok := byID[tc.id]
			if !ok {
				t.Fatal("missing")
			}
			if it.Title != tc.title || it.Description != tc.desc {
				t.Errorf("title %q desc %q; want %q, %q", it.Title, it.Description, tc.title, tc.desc)
			}
			if tc.attrs != nil && !reflect.DeepEqual(it.Attributes, tc.attrs) {
				t.Errorf("attributes %v, want %v", it.Attributes, tc.attrs)
			}
		})
	}
}

func TestConvertMovieLensInteractions(t *testing.T) {
	st, _, inter, _ := readBack(t, MovieLensOptions{})
	if st.Interactions != 11 || st.DroppedRatings != 1 || st.Users != 4 {
		t.Errorf("stats %+v", st)
	}
	if st.TrainInteractions+st.ValidInteractions+st.TestInteractions != st.Interactions || st.TestInteractions != 4 || st.ValidInteractions != 3 {
		t.Errorf("split counts %+v", st)
	}
	if !slices.IsSortedFunc(inter, func(a, b folder.Interaction) int { return int(a.TS - b.TS) }) {
		t.Error("interactions not in time order")
	}
	got := map[string][]string{}
	for _, x := range inter {
		if x.Event != "rating" {
			t.Errorf("event %q", x.Event)
		}
		got[x.User] = append(got[x.User], x.Item+":"+x.Split)
	}
	want := map[string][]string{
		// m2 and m3 share ts 200: the tie is broken by movieId, so m3 is last.
		"u1": {"m1:train", "m4:train", "m2:valid", "m3:test"},
		"u2": {"m1:valid", "m5:test"},
		"u3": {"m8:test"},
		"u5": {"m7:train", "m2:train", "m10:valid", "m6:test"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("per-user events\n got %v\nwant %v", got, want)
	}
}

func TestConvertMovieLensQueries(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4, 5} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			st, _, _, qs := readBack(t, MovieLensOptions{Seed: seed, TestFraction: 0.5, ValidFraction: 0.3})
			if st.TagApplications != 12 || st.DroppedTags != 2 || st.TagPairs != 10 {
				t.Errorf("stats %+v", st)
			}
			if st.TrainQueries+st.ValidQueries+st.TestQueries != len(qs) || st.TrainPairs+st.ValidPairs+st.TestPairs != st.TagPairs {
				t.Errorf("stats %+v vs %d queries", st, len(qs))
			}
			// All labels of a query string, over the splits, must be exactly
			// the tagged pairs; no pair may be in two splits.
			want := map[string]map[string]int{
				"pixar": {"m1": 2}, "miyazaki": {"m8": 1}, "studio ghibli": {"m8": 1},
				"quirky, charming": {"m4": 1}, "paris": {"m4": 1, "m3": 1}, "politics": {"m2": 1},
				"ästhetik": {"m10": 1}, "space": {"m6": 1, "m5": 2},
			}
			got := map[string]map[string]int{}
			seenSplit := map[string]bool{}
			last := 0
			for _, q := range qs {
				if q.Type != "movie" || len(q.Relevant) == 0 {
					t.Errorf("query %+v", q)
				}
				r, ok := splitRank[q.Split]
				if !ok || r < last {
					t.Errorf("query of split %q after one of rank %d (want train, valid, test)", q.Split, last)
				}
				last = r
				key := q.Query + "/" + q.Split
				if seenSplit[key] {
					t.Errorf("two %s queries %q", q.Split, q.Query)
				}
				seenSplit[key] = true
				if got[q.Query] == nil {
					got[q.Query] = map[string]int{}
				}
				for _, r := range q.Relevant {
					if _, dup := got[q.Query][r.Item]; dup {
						t.Errorf("pair (%q, %s) in both splits", q.Query, r.Item)
					}
					got[q.Query][r.Item] = r.Grade
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("labels\n got %v\nwant %v", got, want)
			}
		})
	}
}

func TestConvertMovieLensDeterministic(t *testing.T) {
	run := func(opt MovieLensOptions) []byte {
		out := t.TempDir()
		if _, err := ConvertMovieLens(filepath.Join("testdata", "movielens"), out, opt); err != nil {
			t.Fatal(err)
		}
		var all []byte
		for _, f := range []string{folder.ItemsFile, folder.InteractionsFile, folder.QueriesFile} {
			b, err := os.ReadFile(filepath.Join(out, f))
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		return all
	}
	if !bytes.Equal(run(MovieLensOptions{}), run(MovieLensOptions{Seed: 1, TestFraction: 0.2})) {
		t.Error("two runs with the same (default) options differ")
	}
}

func TestPairSplitFraction(t *testing.T) {
	for _, frac := range []float64{0.1, 0.2, 0.5} {
		t.Run(fmt.Sprint(frac), func(t *testing.T) {
			const n = 20000
			in, diff := 0, 0
			for i := range n {
				q := fmt.Sprintf("tag %d", i%97)
				a := pairInTest(1, q, i, frac)
				if a {
					in++
				}
				if a != pairInTest(1, q, i, frac) {
					t.Fatal("not deterministic")
				}
				if a != pairInTest(2, q, i, frac) {
					diff++
				}
			}
			if got := float64(in) / n; got < frac-0.015 || got > frac+0.015 {
				t.Errorf("test share %.4f, want about %.2f", got, frac)
			}
			if diff == 0 {
				t.Error("the seed does not change the split")
			}
		})
	}
}

func TestConvertMovieLensOptionalFiles(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("testdata", "movielens", "movies.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "movies.csv"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "new", "folder")
	st, err := ConvertMovieLens(dir, out, MovieLensOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !st.NoInteractionsFile || !st.NoQueriesFile || st.Items != 10 {
		t.Errorf("stats %+v", st)
	}
	for f, want := range map[string]bool{folder.ItemsFile: true, folder.InteractionsFile: false, folder.QueriesFile: false} {
		if _, err := os.Stat(filepath.Join(out, f)); (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", f, err == nil, want)
		}
	}
	if _, err := ConvertMovieLens(t.TempDir(), out, MovieLensOptions{}); err == nil {
		t.Error("no movies.csv: want an error")
	}
}

func TestParseCSVErrors(t *testing.T) {
	tests := []struct {
		name  string
		parse func(string) error
		in    string
		want  string
	}{
		{"movies/empty", parseMoviesErr, "", "no header"},
		{"movies/header", parseMoviesErr, "id,title,genres\n", "header"},
		{"movies/fields", parseMoviesErr, "movieId,title,genres\n1,Toy Story\n", "wrong number of fields"},
		{"movies/id", parseMoviesErr, "movieId,title,genres\nx,Toy Story,Comedy\n", "movieId"},
		{"movies/negative", parseMoviesErr, "movieId,title,genres\n-1,Toy Story,Comedy\n", "negative"},
		{"movies/duplicate", parseMoviesErr, "movieId,title,genres\n1,A,Comedy\n1,B,Drama\n", "duplicate"},
		{"movies/quote", parseMoviesErr, "movieId,title,genres\n1,\"Toy Story,Comedy\n", "quote"},
		{"ratings/rating", parseRatingsErr, "userId,movieId,rating,timestamp\n1,1,good,5\n", "rating"},
		{"ratings/ts", parseRatingsErr, "userId,movieId,rating,timestamp\n1,1,4.0,soon\n", "timestamp"},
		{"tags/user", parseTagsErr, "userId,movieId,tag,timestamp\nu1,1,fun,5\n", "userId"},
		{"tags/line", parseTagsErr, "userId,movieId,tag,timestamp\n1,1,fun,5\n1,1,fun,x\n", "line 3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.parse(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	// A BOM and upper-case header are accepted.
	ms, err := ParseMovies(strings.NewReader("\ufeffMOVIEID,Title,Genres\n1,\"A, The (2000)\",Drama\n"))
	if err != nil || len(ms) != 1 || ms[0].Title != "A, The (2000)" {
		t.Errorf("BOM header: %v %v", ms, err)
	}
}

func parseMoviesErr(s string) error  { _, err := ParseMovies(strings.NewReader(s)); return err }
func parseRatingsErr(s string) error { _, err := ParseRatings(strings.NewReader(s)); return err }
func parseTagsErr(s string) error    { _, err := ParseTags(strings.NewReader(s)); return err }
