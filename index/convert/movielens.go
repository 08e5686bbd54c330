package convert

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/neo-search/neo/index/folder"
)

// MovieLens conversion.
//
// ConvertMovieLens turns a GroupLens MovieLens folder (ml-latest-small
// layout: movies.csv, ratings.csv, tags.csv) into the three NDJSON files of
// docs/CONTRACTS.md:
//
//   - items.ndjson: one item per movie, id "m{movieId}", type "movie", the
//     title without its "(year)" suffix and with a trailing article moved to
//     the front ("Matrix, The" → "The Matrix"), description
//     "Adventure, Animation film from 1995", in_stock true, and attributes
//     "year" ("1995"), "genres" (the pipe-joined list as in the CSV,
//     "Adventure|Animation") and one flag per genre, genre_<name>: "true",
//     where <name> is the genre lower-cased with every run of other characters
//     than a-z and 0-9 replaced by "_" (Sci-Fi → genre_sci_fi,
//     Film-Noir → genre_film_noir). Flags are plain keyword values so a Bleve
//     term query genre_comedy:true selects them. "(no genres listed)" gives
//     no genre attributes.
//   - interactions.ndjson: every rating as an event "rating" of user
//     "u{userId}" on "m{movieId}" (the rating value itself is not part of the
//     contract and is dropped), written in time order. Split: leave-last-out
//     per user — ordered by (timestamp, movieId, line), the last event is
//     "test", the one before "valid", the rest "train".
//   - queries.ndjson: the tag applications as search queries. The query is
//     the tag lower-cased, trimmed, inner whitespace collapsed. The unit of
//     the train/test split is the (query, movie) pair: a seeded hash puts a
//     pair (with all its applications) into test with probability
//     TestFraction, so a test pair never occurs in train; of the other
//     pairs, a second seeded hash puts ValidFraction into "valid" (for
//     tuning; the exporter trains on "train" only). Per query string there
//     is at most one query per split (relevant = its pairs of that split). A pair has grade 2 if at least
//     two distinct users applied the tag to the movie, else grade 1.
//
// Ratings and tags of movies missing from movies.csv are dropped and counted.

// MovieLensOptions tunes ConvertMovieLens. The zero value means seed 1, a
// test fraction of 0.2 and a valid fraction of 0.1 (of the pairs not in
// test); a negative ValidFraction means no valid queries.
type MovieLensOptions struct {
	Seed          uint64
	TestFraction  float64
	ValidFraction float64
}

// MovieLensStats counts what ConvertMovieLens wrote.
type MovieLensStats struct {
	Items              int  `json:"items"`
	Users              int  `json:"users"`
	Interactions       int  `json:"interactions"`
	TrainInteractions  int  `json:"train_interactions"`
	ValidInteractions  int  `json:"valid_interactions"`
	TestInteractions   int  `json:"test_interactions"`
	TagApplications    int  `json:"tag_applications"`
	TagPairs           int  `json:"tag_pairs"`
	TrainQueries       int  `json:"train_queries"`
	ValidQueries       int  `json:"valid_queries"`
	TestQueries        int  `json:"test_queries"`
	TrainPairs         int  `json:"train_pairs"`
	ValidPairs         int  `json:"valid_pairs"`
	TestPairs          int  `json:"test_pairs"`
	DroppedRatings     int  `json:"dropped_ratings"`
	DroppedTags        int  `json:"dropped_tags"`
	NoInteractionsFile bool `json:"no_ratings_file,omitempty"`
	NoQueriesFile      bool `json:"no_tags_file,omitempty"`
}

func (o MovieLensOptions) withDefaults() MovieLensOptions {
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.TestFraction <= 0 || o.TestFraction >= 1 {
		o.TestFraction = 0.2
	}
	if o.ValidFraction == 0 || o.ValidFraction >= 1 {
		o.ValidFraction = 0.1
	}
	return o
}

// ConvertMovieLens reads dir/movies.csv (required), dir/ratings.csv and
// dir/tags.csv (each optional; see the notes at the top of movielens.go for
// the mapping and the splits) and writes items.ndjson, interactions.ndjson
// and queries.ndjson into out (created if needed). A missing optional input
// means the matching output file is not written.
func ConvertMovieLens(dir, out string, opt MovieLensOptions) (*MovieLensStats, error) {
	opt = opt.withDefaults()
	mf, err := os.Open(filepath.Join(dir, "movies.csv"))
	if err != nil {
		return nil, err
	}
	defer mf.Close()
	movies, err := ParseMovies(bufio.NewReader(mf))
	if err != nil {
		return nil, fmt.Errorf("movies.csv: %w", err)
	}
	var ratings []Rating
	var tags []TagApplication
	st := &MovieLensStats{}
	if rf, err := os.Open(filepath.Join(dir, "ratings.csv")); err == nil {
		ratings, err = ParseRatings(bufio.NewReader(rf))
		rf.Close()
		if err != nil {
			return nil, fmt.Errorf("ratings.csv: %w", err)
		}
	} else if errors.Is(err, fs.ErrNotExist) {
		st.NoInteractionsFile = true
	} else {
		return nil, err
	}
	if tf, err := os.Open(filepath.Join(dir, "tags.csv")); err == nil {
		tags, err = ParseTags(bufio.NewReader(tf))
		tf.Close()
		if err != nil {
			return nil, fmt.Errorf("tags.csv: %w", err)
		}
	} else if errors.Is(err, fs.ErrNotExist) {
		st.NoQueriesFile = true
	} else {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	write := func(name string, fn func(io.Writer) error) error {
		f, err := os.Create(filepath.Join(out, name))
		if err != nil {
			return err
		}
		w := bufio.NewWriter(f)
		if err := fn(w); err != nil {
			f.Close()
			return err
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	known := make(map[int]bool, len(movies))
	for _, m := range movies {
		known[m.ID] = true
	}
	if err := write(folder.ItemsFile, func(w io.Writer) error {
		return WriteMovieItems(w, movies, st)
	}); err != nil {
		return nil, err
	}
	if !st.NoInteractionsFile {
		if err := write(folder.InteractionsFile, func(w io.Writer) error {
			return WriteRatingInteractions(w, ratings, known, st)
		}); err != nil {
			return nil, err
		}
	}
	if !st.NoQueriesFile {
		if err := write(folder.QueriesFile, func(w io.Writer) error {
			return WriteTagQueries(w, tags, known, opt, st)
		}); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// Movie is one row of movies.csv.
type Movie struct {
	ID     int
	Title  string // raw title, "Toy Story (1995)"
	Genres []string
}

// Rating is one row of ratings.csv (the rating value is kept for callers
// that want it; the converter drops it).
type Rating struct {
	User, Movie int
	Rating      float64
	TS          int64
	line        int
}

// TagApplication is one row of tags.csv.
type TagApplication struct {
	User, Movie int
	Tag         string
	TS          int64
}

// readCSV reads a CSV stream with the given header and calls fn for each
// record after it. The header must match (case-insensitive, BOM tolerated).
func readCSV(r io.Reader, header []string, fn func(rec []string, line int) error) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(header)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err == io.EOF {
		return errors.New("empty file: no header")
	}
	if err != nil {
		return err
	}
	for i, h := range head {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if !strings.EqualFold(h, header[i]) {
			return fmt.Errorf("header: column %d is %q, want %q", i+1, h, header[i])
		}
	}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(rec, line); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
}

func atoiField(name, s string) (int, error) {
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	if v < 0 {
		return 0, fmt.Errorf("%s: negative %d", name, v)
	}
	return v, nil
}

func tsField(s string) (int64, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("timestamp: %w", err)
	}
	return v, nil
}

// ParseMovies reads movies.csv (movieId,title,genres).
func ParseMovies(r io.Reader) ([]Movie, error) {
	var out []Movie
	seen := map[int]bool{}
	err := readCSV(r, []string{"movieId", "title", "genres"}, func(rec []string, _ int) error {
		id, err := atoiField("movieId", rec[0])
		if err != nil {
			return err
		}
		if seen[id] {
			return fmt.Errorf("duplicate movieId %d", id)
		}
		seen[id] = true
		var genres []string
		for g := range strings.SplitSeq(rec[2], "|") {
			g = strings.TrimSpace(g)
			if g == "" || strings.EqualFold(g, "(no genres listed)") {
				continue
			}
			genres = append(genres, g)
		}
		out = append(out, Movie{ID: id, Title: strings.TrimSpace(rec[1]), Genres: genres})
		return nil
	})
	return out, err
}

// ParseRatings reads ratings.csv (userId,movieId,rating,timestamp).
func ParseRatings(r io.Reader) ([]Rating, error) {
	var out []Rating
	err := readCSV(r, []string{"userId", "movieId", "rating", "timestamp"}, func(rec []string, line int) error {
		u, m, ts, err := userMovieTS(rec)
		if err != nil {
			return err
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[2]), 64)
		if err != nil {
			return fmt.Errorf("rating: %w", err)
		}
		out = append(out, Rating{User: u, Movie: m, Rating: v, TS: ts, line: line})
		return nil
	})
	return out, err
}

// ParseTags reads tags.csv (userId,movieId,tag,timestamp).
func ParseTags(r io.Reader) ([]TagApplication, error) {
	var out []TagApplication
	err := readCSV(r, []string{"userId", "movieId", "tag", "timestamp"}, func(rec []string, _ int) error {
		u, m, ts, err := userMovieTS(rec)
		if err != nil {
			return err
		}
		out = append(out, TagApplication{User: u, Movie: m, Tag: rec[2], TS: ts})
		return nil
	})
	return out, err
}

// userMovieTS reads the fields ratings.csv and tags.csv share: userId and
// movieId first, timestamp fourth.
func userMovieTS(rec []string) (user, movie int, ts int64, err error) {
	if user, err = atoiField("userId", rec[0]); err != nil {
		return
	}
	if movie, err = atoiField("movieId", rec[1]); err != nil {
		return
	}
	ts, err = tsField(rec[3])
	return
}

// yearRe matches a trailing "(1995)" or a range "(2006–2007)", "(1994-)".
var yearRe = regexp.MustCompile(`\s*\((\d{4})(?:\s*[-–]\s*(?:\d{4})?)?\)\s*$`)

// trailing articles MovieLens moves to the end of a title ("Matrix, The").
var articles = []string{"The", "A", "An", "Les", "La", "Le", "L'", "Il", "El", "Los", "Las", "Das", "Der", "Die"}

// SplitTitle splits a MovieLens title into the display title and the year
// ("" when there is none). A trailing article of the main title is moved to
// the front; an alternative title in parentheses is kept as is.
func SplitTitle(raw string) (title, year string) {
	t := strings.TrimSpace(raw)
	if m := yearRe.FindStringSubmatchIndex(t); m != nil {
		year = t[m[2]:m[3]]
		t = strings.TrimSpace(t[:m[0]])
	}
	// The main title ends where an alternative title "(...)" begins.
	main, rest := t, ""
	if strings.HasSuffix(t, ")") {
		if i := strings.Index(t, " ("); i > 0 {
			main, rest = t[:i], t[i:]
		}
	}
	for _, a := range articles {
		if p, ok := strings.CutSuffix(main, ", "+a); ok && p != "" {
			sep := " "
			if strings.HasSuffix(a, "'") {
				sep = ""
			}
			main = a + sep + p
			break
		}
	}
	t = main + rest
	if t == "" {
		// Only a year, e.g. "(1995)": keep the raw title so it is not empty.
		t = strings.TrimSpace(raw)
	}
	return t, year
}

// GenreKey is the attribute key of a genre flag: "genre_" + the genre
// lower-cased with runs of characters outside a-z0-9 replaced by "_".
func GenreKey(genre string) string {
	var b strings.Builder
	b.WriteString("genre_")
	under := false
	n := b.Len()
	for _, r := range strings.ToLower(genre) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			under = false
		} else if !under && b.Len() > n {
			b.WriteByte('_')
			under = true
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}

// NormalizeTag is the query text of a tag (folder.NormalizeQuery).
func NormalizeTag(tag string) string { return folder.NormalizeQuery(tag) }

type mlItem struct {
	ID          string            `json:"id"`
	Type        string            `json:"type"`
	Title       string            `json:"title"`
	Description string            `json:"description"`
	Attributes  map[string]string `json:"attributes,omitempty"`
	InStock     bool              `json:"in_stock"`
}

type mlInteraction struct {
	User  string `json:"user"`
	Item  string `json:"item"`
	TS    int64  `json:"ts"`
	Event string `json:"event"`
	Split string `json:"split"`
}

type mlRelevance struct {
	Item  string `json:"item"`
	Grade int    `json:"grade"`
}

type mlQuery struct {
	Query    string        `json:"query"`
	Type     string        `json:"type,omitempty"`
	Relevant []mlRelevance `json:"relevant"`
	Split    string        `json:"split"`
}

func newEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

func movieID(id int) string { return "m" + strconv.Itoa(id) }
func userID(id int) string  { return "u" + strconv.Itoa(id) }

// movieItem is the catalog item written for a movie.
func movieItem(m Movie) mlItem {
	title, year := SplitTitle(m.Title)
	attrs := map[string]string{}
	if year != "" {
		attrs["year"] = year
	}
	if len(m.Genres) > 0 {
		attrs["genres"] = strings.Join(m.Genres, "|")
		for _, g := range m.Genres {
			if k := GenreKey(g); k != "genre" {
				attrs[k] = "true"
			}
		}
	}
	desc := "Film"
	if len(m.Genres) > 0 {
		desc = strings.Join(m.Genres, ", ") + " film"
	}
	if year != "" {
		desc += " from " + year
	}
	return mlItem{ID: movieID(m.ID), Type: "movie", Title: title, Description: desc, Attributes: attrs, InStock: true}
}

// WriteMovieItems writes items.ndjson for movies (in movieId order).
func WriteMovieItems(w io.Writer, movies []Movie, st *MovieLensStats) error {
	ms := slices.Clone(movies)
	slices.SortFunc(ms, func(a, b Movie) int { return cmp.Compare(a.ID, b.ID) })
	enc := newEncoder(w)
	for _, m := range ms {
		if err := enc.Encode(movieItem(m)); err != nil {
			return err
		}
	}
	st.Items += len(ms)
	return nil
}

// WriteRatingInteractions writes interactions.ndjson: ratings of known
// movies with the leave-last-out split, in time order (ties by user, movie).
func WriteRatingInteractions(w io.Writer, ratings []Rating, known map[int]bool, st *MovieLensStats) error {
	byUser := map[int][]Rating{}
	for _, r := range ratings {
		if !known[r.Movie] {
			st.DroppedRatings++
			continue
		}
		byUser[r.User] = append(byUser[r.User], r)
	}
	type ev struct {
		Rating
		split string
	}
	all := make([]ev, 0, len(ratings))
	for _, rs := range byUser {
		// Deterministic order inside a user: time, then movie, then line.
		slices.SortFunc(rs, func(a, b Rating) int {
			return cmp.Or(cmp.Compare(a.TS, b.TS), cmp.Compare(a.Movie, b.Movie), cmp.Compare(a.line, b.line))
		})
		for i, r := range rs {
			split := "train"
			switch i {
			case len(rs) - 1:
				split = "test"
			case len(rs) - 2:
				split = "valid"
			}
			all = append(all, ev{r, split})
		}
	}
	slices.SortFunc(all, func(a, b ev) int {
		return cmp.Or(cmp.Compare(a.TS, b.TS), cmp.Compare(a.User, b.User), cmp.Compare(a.Movie, b.Movie), cmp.Compare(a.line, b.line))
	})
	enc := newEncoder(w)
	for _, e := range all {
		if err := enc.Encode(mlInteraction{User: userID(e.User), Item: movieID(e.Movie), TS: e.TS, Event: "rating", Split: e.split}); err != nil {
			return err
		}
		switch e.split {
		case "train":
			st.TrainInteractions++
		case "valid":
			st.ValidInteractions++
		case "test":
			st.TestInteractions++
		}
	}
	st.Interactions += len(all)
	st.Users += len(byUser)
	return nil
}

// pairInTest decides the split of a (query, movie) pair: a seeded FNV-1a
// hash mapped to [0,1). Hashing (rather than shuffling) keeps a pair's split
// stable when other rows are added or removed.
func pairInTest(seed uint64, query string, movie int, frac float64) bool {
	h := fnv.New64a()
	var b [8]byte
	for i := range b {
		b[i] = byte(seed >> (8 * i))
	}
	h.Write(b[:])
	h.Write([]byte(query))
	h.Write([]byte{0})
	h.Write([]byte(strconv.Itoa(movie)))
	x := h.Sum64()
	// splitmix64 finaliser: FNV's low bits are weak for short inputs.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11)/float64(1<<53) < frac
}

// splitRank orders the blocks of queries.ndjson.
var splitRank = map[string]int{"train": 0, "valid": 1, "test": 2}

// WriteTagQueries writes queries.ndjson from tag applications (see the
// package's MovieLens notes for the split and grades). Train queries come
// first, then valid, then test, each block sorted by query text.
func WriteTagQueries(w io.Writer, tags []TagApplication, known map[int]bool, opt MovieLensOptions, st *MovieLensStats) error {
	opt = opt.withDefaults()
	type pair struct {
		q string
		m int
	}
	users := map[pair]map[int]bool{}
	for _, t := range tags {
		q := NormalizeTag(t.Tag)
		if q == "" || !known[t.Movie] {
			st.DroppedTags++
			continue
		}
		st.TagApplications++
		p := pair{q, t.Movie}
		if users[p] == nil {
			users[p] = map[int]bool{}
		}
		users[p][t.User] = true
	}
	st.TagPairs += len(users)
	type key struct {
		q     string
		split string
	}
	groups := map[key][]mlRelevance{}
	for p, us := range users {
		split := "train"
		switch {
		case pairInTest(opt.Seed, p.q, p.m, opt.TestFraction):
			split = "test"
			st.TestPairs++
		case opt.ValidFraction > 0 && pairInTest(opt.Seed+0x9e3779b9, p.q, p.m, opt.ValidFraction):
			split = "valid"
			st.ValidPairs++
		default:
			st.TrainPairs++
		}
		grade := 1
		if len(us) >= 2 {
			grade = 2
		}
		k := key{p.q, split}
		groups[k] = append(groups[k], mlRelevance{Item: movieID(p.m), Grade: grade})
	}
	keys := make([]key, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(splitRank[a.split], splitRank[b.split]), cmp.Compare(a.q, b.q))
	})
	enc := newEncoder(w)
	for _, k := range keys {
		rel := groups[k]
		slices.SortFunc(rel, func(a, b mlRelevance) int {
			return cmp.Or(cmp.Compare(b.Grade, a.Grade), cmp.Compare(len(a.Item), len(b.Item)), cmp.Compare(a.Item, b.Item))
		})
		if err := enc.Encode(mlQuery{Query: k.q, Type: "movie", Relevant: rel, Split: k.split}); err != nil {
			return err
		}
		switch k.split {
		case "test":
			st.TestQueries++
		case "valid":
			st.ValidQueries++
		default:
			st.TrainQueries++
		}
	}
	return nil
}

// WriteText writes the counts as text, for a conversion into out.
func (st *MovieLensStats) WriteText(w io.Writer, out string) {
	fmt.Fprintf(w, "wrote %s\n", out)
	fmt.Fprintf(w, "  items          %d\n", st.Items)
	if st.NoInteractionsFile {
		fmt.Fprintln(w, "  interactions   none (no ratings.csv)")
	} else {
		fmt.Fprintf(w, "  interactions   %d (train %d, valid %d, test %d) of %d users\n",
			st.Interactions, st.TrainInteractions, st.ValidInteractions, st.TestInteractions, st.Users)
	}
	if st.NoQueriesFile {
		fmt.Fprintln(w, "  queries        none (no tags.csv)")
	} else {
		fmt.Fprintf(w, "  queries        train %d, valid %d, test %d (from %d tag applications, %d (tag, movie) pairs: train %d, valid %d, test %d)\n",
			st.TrainQueries, st.ValidQueries, st.TestQueries, st.TagApplications, st.TagPairs, st.TrainPairs, st.ValidPairs, st.TestPairs)
	}
	if st.DroppedRatings+st.DroppedTags > 0 {
		fmt.Fprintf(w, "  dropped        %d ratings, %d tags (unknown movie or empty tag)\n", st.DroppedRatings, st.DroppedTags)
	}
}
