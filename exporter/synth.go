package exporter

import (
	"math/rand/v2"
	"slices"
	"strings"
	"unicode"

	"github.com/neo-search/neo/index/folder"
)

// synthMaxRelevant bounds the items a synthesized query may match: a
// phrase shared by more items says little about any of them.
const synthMaxRelevant = 40

// synthQueries makes n search queries from item text, for catalogs
// without a query log: for a random item, a phrase of its own words (a
// run of two or three title words, its brand, an attribute value or a
// short segment of a list-like description ("Diners, Greek, Pizza"), alone
// or with the title's last word), and as relevant items
// (grade 2) every item whose words contain the phrase's words, when there
// are at most synthMaxRelevant of them. Phrases are distinct; the queries
// are train queries, in the order drawn, and never repeat the words of a
// query in have (the data's own queries, valid and test included, so
// nothing synthesized leaks into the held-out queries). Fewer than n come
// back when the catalog has too few distinct phrases (it gives up after
// 20n draws).
func synthQueries(items []*itemInfo, n int, have []folder.Query, rng *rand.Rand) []folder.Query {
	if n <= 0 || len(items) == 0 {
		return nil
	}
	post := map[string][]int32{} // word → items holding it, ascending
	for i, it := range items {
		ws := synthWords(it.title + " " + it.brand + " " + strings.Join(attrValues(it), " ") + " " + strings.Join(descSegments(it.desc), " "))
		slices.Sort(ws)
		ws = slices.Compact(ws)
		for _, w := range ws {
			post[w] = append(post[w], int32(i))
		}
	}
	match := func(phrase []string) []int32 {
		var cur []int32
		for k, w := range phrase {
			p := post[w]
			if k == 0 {
				cur = slices.Clone(p)
				continue
			}
			cur = slices.DeleteFunc(cur, func(i int32) bool { _, ok := slices.BinarySearch(p, i); return !ok })
		}
		return cur
	}
	seen := map[string]bool{}
	for _, q := range have {
		seen[strings.Join(synthWords(q.Query), " ")] = true
	}
	var out []folder.Query
	for tries := 0; len(out) < n && tries < 20*n; tries++ {
		it := items[rng.IntN(len(items))]
		title := synthWords(it.title)
		var phrase []string
		switch k := rng.IntN(4); {
		case k <= 1 && len(title) >= 2: // title run
			m := min(2+rng.IntN(2), len(title))
			i := rng.IntN(len(title) - m + 1)
			phrase = title[i : i+m]
		case k == 2 && it.brand != "":
			phrase = synthWords(it.brand)
		default:
			vals := append(attrValues(it), descSegments(it.desc)...)
			if len(vals) == 0 {
				continue
			}
			phrase = synthWords(vals[rng.IntN(len(vals))])
			if len(title) > 0 && rng.IntN(2) == 0 {
				phrase = append(slices.Clone(phrase), title[len(title)-1])
			}
		}
		if len(phrase) == 0 {
			continue
		}
		text := strings.Join(phrase, " ")
		if seen[text] {
			continue
		}
		seen[text] = true
		rel := match(phrase)
		if len(rel) == 0 || len(rel) > synthMaxRelevant {
			continue
		}
		q := folder.Query{Query: text, Split: folder.SplitTrain, Kind: folder.KindLiteral}
		for _, i := range rel {
			q.Relevant = append(q.Relevant, folder.Relevance{Item: items[i].id, Grade: 2})
		}
		out = append(out, q)
	}
	return out
}

// attrValues is an item's attribute values in key order.
func attrValues(it *itemInfo) []string {
	out := make([]string, 0, len(it.attrKeys))
	for _, k := range it.attrKeys {
		if v := it.attrs[k]; v != "" {
			out = append(out, v)
		}
	}
	return out
}

// descSegments is the short segments (one to three words) of a
// description that reads as a list (commas, semicolons or bars), as
// category lists do; none for prose.
func descSegments(desc string) []string {
	if !strings.ContainsAny(desc, ",;|") {
		return nil
	}
	var out []string
	for _, seg := range strings.FieldsFunc(desc, func(r rune) bool { return r == ',' || r == ';' || r == '|' }) {
		if n := len(synthWords(seg)); n >= 1 && n <= 3 {
			out = append(out, strings.TrimSpace(seg))
		}
	}
	return out
}

// synthWords is s as lower-case words of letters and digits.
func synthWords(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}
