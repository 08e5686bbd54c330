package main

import (
	"cmp"
	"slices"
	"strings"

	"github.com/neo-search/neo/index/folder"
)

// literalQueries are queries in the catalog's own words, as a shopper
// types them: a type word with a colour (or its last word: "red scarf"
// for ruby red), a material, a brand, a collection or a style, a colour
// with a material, and short title fragments. Every item with the type
// and the named attribute (or the fragment in its title) is relevant,
// grade 2, so P@5 on them is the share of the top five with the right
// type and the named attribute. They are drawn from their own random
// stream after every other phase, so items, sessions and paraphrase
// queries do not depend on them: the first LiteralQueries go to valid, the
// next LiteralQueries to test, then LiteralTrain to train. Each text is
// used once, so no valid or test text is a train text; texts already used
// by a paraphrase query are skipped.
func (g *gen) literalQueries(used map[string]bool) []folder.Query {
	r := g.rng(4)
	type cand struct {
		text  string
		typ   int // -1: any type (title fragments)
		match func(*item) bool
	}
	var cands []cand
	for t := range types {
		tw := types[t].name
		add := func(attr string, match func(*item) bool) {
			cands = append(cands, cand{strings.ToLower(attr + " " + tw), t, match})
		}
		for c := range colors {
			add(colors[c].name, func(it *item) bool { return it.color == c })
			if ws := strings.Fields(colors[c].name); len(ws) > 1 {
				last := ws[len(ws)-1]
				add(last, func(it *item) bool { return slices.Contains(strings.Fields(colors[it.color].name), last) })
			}
		}
		for m := range g.materials {
			add(g.materials[m].name, func(it *item) bool { return it.material == m })
		}
		for b := range brands {
			add(brands[b].name, func(it *item) bool { return g.colls[it.coll].brand == b })
		}
		for c := range g.colls {
			add(g.colls[c].name, func(it *item) bool { return it.coll == c })
		}
		for s := range styles {
			add(styles[s].name, func(it *item) bool { return it.style == s })
		}
		for c := range colors {
			for m := range g.materials {
				add(colors[c].name+" "+g.materials[m].name, func(it *item) bool { return it.color == c && it.material == m })
			}
		}
	}
	byID := slices.Clone(g.items)
	slices.SortFunc(byID, func(a, b *item) int { return cmp.Compare(a.ID, b.ID) })
	for range 400 {
		ws := strings.Fields(strings.ToLower(byID[r.IntN(len(byID))].Title))
		n := 2 + r.IntN(2)
		if len(ws) < n {
			continue
		}
		i := r.IntN(len(ws) - n + 1)
		frag := strings.Join(ws[i:i+n], " ")
		cands = append(cands, cand{frag, -1, func(it *item) bool {
			return strings.Contains(" "+strings.ToLower(it.Title)+" ", " "+frag+" ")
		}})
	}
	r.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })

	var out []folder.Query
	for _, c := range cands {
		if len(out) == 2*g.cfg.LiteralQueries+g.cfg.LiteralTrain {
			break
		}
		if used[c.text] {
			continue
		}
		var rel []folder.Relevance
		typ := ""
		for _, it := range byID {
			if (c.typ < 0 || it.typ == c.typ) && c.match(it) {
				rel = append(rel, folder.Relevance{Item: it.ID, Grade: 2})
			}
		}
		if len(rel) < 3 || len(rel) > 40 {
			continue
		}
		used[c.text] = true
		q := folder.Query{Query: c.text, Relevant: rel, Kind: folder.KindLiteral, Split: folder.SplitValid}
		switch n := len(out); {
		case n >= 2*g.cfg.LiteralQueries:
			q.Split = folder.SplitTrain
		case n >= g.cfg.LiteralQueries:
			q.Split = folder.SplitTest
		}
		if c.typ >= 0 && r.Float64() < 0.5 {
			typ = types[c.typ].name
		}
		q.Type = typ
		out = append(out, q)
	}
	return out
}
