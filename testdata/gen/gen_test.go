package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/registry"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/index/folder"
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

	items, err := folder.ReadItems(open("items.ndjson"))
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
		ins, err := folder.ReadInteractions(open("interactions.ndjson"))
		if err != nil {
			t.Fatal(err)
		}
		byUser := map[string][]folder.Interaction{}
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
			if !slices.IsSortedFunc(evs, func(a, b folder.Interaction) int { return int(a.TS - b.TS) }) {
				t.Fatalf("%s events not in time order", u)
			}
			for i, e := range evs {
				want := folder.SplitTrain
				switch i {
				case len(evs) - 1:
					want = folder.SplitTest
				case len(evs) - 2:
					want = folder.SplitValid
				}
				if e.Split != want || (e.Event != "view" && e.Event != "purchase") {
					t.Fatalf("%s event %d: %+v", u, i, e)
				}
			}
			target := byID[evs[len(evs)-1].Item].Attributes["collection"]
			if slices.ContainsFunc(evs[:len(evs)-1], func(e folder.Interaction) bool { return byID[e.Item].Attributes["collection"] == target }) {
				sameColl++
			}
		}
		// Tastes are coherent: the target's collection is mostly in the history.
		if f := float64(sameColl) / float64(len(users)); f < 0.6 {
			t.Errorf("only %.2f of test targets share a collection with their history", f)
		}
	})

	t.Run("queries", func(t *testing.T) {
		all, err := folder.ReadQueries(open("queries.ndjson"))
		if err != nil {
			t.Fatal(err)
		}
		var qs, lit []folder.Query
		for _, q := range all {
			switch q.Kind {
			case folder.KindParaphrase:
				qs = append(qs, q)
			case folder.KindLiteral:
				lit = append(lit, q)
			default:
				t.Fatalf("query %q has kind %q", q.Query, q.Kind)
			}
		}
		t.Run("literal", func(t *testing.T) { checkLiteral(t, lit, qs, byID) })
		train := map[string]bool{}
		split := map[string]int{}
		typed := 0
		for _, q := range qs {
			split[q.Split]++
			if q.Split == folder.SplitTrain {
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
		if split[folder.SplitTrain] != 2500 || split[folder.SplitTest] != 300 {
			t.Errorf("splits %v", split)
		}
		if f := float64(typed) / float64(len(qs)); f < 0.4 || f > 0.6 {
			t.Errorf("typed share %.2f", f)
		}
		for _, q := range qs {
			if q.Split == folder.SplitTest && train[q.Query] {
				t.Errorf("test query %q is also a train query", q.Query)
			}
		}

		// Brand names cannot be paraphrased, so few queries carry one.
		for _, sp := range []string{folder.SplitTrain, folder.SplitTest} {
			n, branded := 0, 0
			for _, q := range qs {
				if q.Split != sp {
					continue
				}
				n++
				if slices.ContainsFunc(brands, func(b brandSpec) bool { return strings.Contains(q.Query, b.name) }) {
					branded++
				}
			}
			if f := float64(branded) / float64(n); f > 0.25 {
				t.Errorf("%s: %.2f of the queries name a brand", sp, f)
			}
		}

		// Every paraphrase is learnable: it occurs in at least 10 train queries.
		for _, l := range lexicon() {
			for _, form := range l.forms {
				fw := words(form)
				n := 0
				for _, q := range qs {
					if q.Split == folder.SplitTrain && containsRun(words(q.Query), fw) {
						n++
					}
				}
				if n < 10 {
					t.Errorf("%s form %q is in %d train queries, want >= 10", l.value, form, n)
				}
			}
		}

		// Keyword overlap: the share of test query content words found in the
		// title or description of a grade-2 item.
		skip := map[string]bool{}
		for _, w := range strings.Fields("a an the in of for to with and by from my me i some any on at it is that") {
			skip[w] = true
		}
		for _, b := range brands {
			for _, w := range words(b.name) {
				skip[w] = true
			}
		}
		content, shared := 0, 0
		for _, q := range qs {
			if q.Split != folder.SplitTest {
				continue
			}
			text := map[string]bool{}
			for _, r := range q.Relevant {
				if r.Grade == 2 {
					for _, w := range words(byID[r.Item].Title + " " + byID[r.Item].Description) {
						text[w] = true
					}
				}
			}
			for _, w := range words(q.Query) {
				if skip[w] {
					continue
				}
				content++
				if text[w] {
					shared++
				}
			}
		}
		f := float64(shared) / float64(content)
		t.Logf("test queries: %d of %d content words (%.3f) are in a grade-2 item's text", shared, content, f)
		if f > 0.10 {
			t.Errorf("keyword overlap %.3f > 0.10", f)
		}
	})
}

// checkLiteral: literal queries are LiteralQueries in valid and in test
// and LiteralTrain in train, each a new text, in the catalog's words: every word of the query is in
// the text (title, description, type, attributes) of every relevant item,
// and every relevant item has the query's type.
func checkLiteral(t *testing.T, lit, para []folder.Query, byID map[string]index.Item) {
	split := map[string]int{}
	texts := map[string]bool{}
	for _, q := range para {
		texts[q.Query] = true
	}
	for _, q := range lit {
		split[q.Split]++
		if texts[q.Query] {
			t.Fatalf("literal query %q repeats another query", q.Query)
		}
		texts[q.Query] = true
		if n := len(q.Relevant); n < 3 || n > 40 {
			t.Fatalf("%q has %d relevant items", q.Query, n)
		}
		for _, r := range q.Relevant {
			it, ok := byID[r.Item]
			if !ok || r.Grade != 2 {
				t.Fatalf("%q: relevant %+v (known %v)", q.Query, r, ok)
			}
			if q.Type != "" && it.Type != q.Type {
				t.Fatalf("%q: %s is a %s", q.Query, it.ID, it.Type)
			}
			text := it.Title + " " + it.Description + " " + it.Type
			for _, v := range it.Attributes {
				text += " " + v
			}
			have := words(text)
			for _, w := range words(q.Query) {
				if !slices.Contains(have, w) {
					t.Fatalf("%q: %q is not in the text of relevant item %s", q.Query, w, it.ID)
				}
			}
		}
	}
	cfg := DefaultConfig()
	want := cfg.LiteralQueries
	if split[folder.SplitValid] != want || split[folder.SplitTest] != want || split[folder.SplitTrain] != cfg.LiteralTrain || len(split) != 3 {
		t.Errorf("literal splits %v, want %d valid, %d test and %d train", split, want, want, cfg.LiteralTrain)
	}
}

// words splits s into lower-case words of letters and digits.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// containsRun reports whether sub occurs in ws as consecutive words.
func containsRun(ws, sub []string) bool {
	for i := 0; i+len(sub) <= len(ws); i++ {
		if slices.Equal(ws[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// lexEntry is one value's query forms.
type lexEntry struct {
	value string
	forms []string
}

// lexicon lists every value's query forms: type words and usage phrase,
// style words and hint, material and colour paraphrases.
func lexicon() []lexEntry {
	var out []lexEntry
	for _, ts := range types {
		out = append(out, lexEntry{"type " + ts.name, append(slices.Clone(ts.words), ts.usage)})
	}
	for _, st := range styles {
		out = append(out, lexEntry{"style " + st.name, append(slices.Clone(st.words), st.hint)})
	}
	for _, f := range families {
		for _, cl := range f.materials {
			for _, m := range cl {
				out = append(out, lexEntry{"material " + m.name, m.words})
			}
		}
	}
	for _, c := range colors {
		out = append(out, lexEntry{"colour " + c.name, c.words})
	}
	return out
}

// TestLexiconDisjoint checks that queries are paraphrases: no query form
// or template word shares a word or an English stem (as Bleve's "en"
// analyzer, used by the BM25 baseline, makes them) with any item's title,
// description or attribute values, and no form is part of another.
func TestLexiconDisjoint(t *testing.T) {
	an, err := registry.NewCache().AnalyzerNamed(en.AnalyzerName)
	if err != nil {
		t.Fatal(err)
	}
	stems := func(s string) []string {
		var out []string
		for _, tok := range an.Analyze([]byte(s)) {
			out = append(out, string(tok.Term))
		}
		return out
	}
	catalog := map[string]string{} // stem or word -> a text it comes from
	note := func(s string) {
		for _, w := range append(stems(s), words(s)...) {
			if _, ok := catalog[w]; !ok {
				catalog[w] = s
			}
		}
	}
	for _, it := range Generate(DefaultConfig()).Items {
		note(it.Title)
		note(it.Description)
		note(it.Type)
		for _, v := range it.Attributes {
			note(v)
		}
	}
	check := func(what, s string) {
		ws := stems(s)
		for _, w := range words(s) {
			if len(stems(w)) > 0 { // not an English stop word
				ws = append(ws, w)
			}
		}
		for _, w := range ws {
			if src, ok := catalog[w]; ok {
				t.Errorf("%s %q shares %q with catalog text %q", what, s, w, src)
			}
		}
	}
	var all [][]string
	for _, l := range lexicon() {
		n := len(l.forms)
		if strings.HasPrefix(l.value, "type ") || strings.HasPrefix(l.value, "style ") {
			n-- // the usage phrase or hint is an extra form
		}
		if n < 3 || n > 5 {
			t.Errorf("%s has %d paraphrases, want 3-5", l.value, n)
		}
		for _, f := range l.forms {
			check(l.value+" form", f)
			all = append(all, words(f))
		}
	}
	for _, tpl := range append(slices.Clone(templates), hintTemplate, "crafted from", "in a style", "some") {
		for _, ph := range []string{"{P}", "{T}", "{S}", "{U}", "{H}"} {
			tpl = strings.ReplaceAll(tpl, ph, " ")
		}
		check("template", tpl)
	}
	for i, a := range all {
		for j, b := range all {
			if i != j && containsRun(a, b) {
				t.Errorf("form %q contains form %q", strings.Join(a, " "), strings.Join(b, " "))
			}
		}
	}
}
