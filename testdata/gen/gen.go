package main

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/index/folder"
	"github.com/neo-search/neo/internal/bench/catgen"
)

// Config sizes the demo.
type Config struct {
	Seed         uint64
	Users        int
	TrainQueries int
	TestQueries  int
	// LiteralQueries is the number of literal queries in valid and in test
	// each (see literalQueries).
	LiteralQueries int
	// LiteralTrain is the number of literal queries in train: further
	// attribute and fragment queries with texts of their own, so that the
	// model learns queries in the catalog's words without seeing a valid
	// or test text.
	LiteralTrain int
}

// DefaultConfig is the committed demo in testdata/demo.
func DefaultConfig() Config {
	return Config{Seed: 20260317, Users: 2000, TrainQueries: 2500, TestQueries: 300, LiteralQueries: 150, LiteralTrain: 1000}
}

// Demo is a generated data folder.
type Demo struct {
	Items        []index.Item
	Interactions []folder.Interaction
	Queries      []folder.Query
}

// collection is a brand's themed line: one style, one material family, a
// three-colour palette, several types.
type collection struct {
	name    string
	brand   int
	style   int
	family  int
	palette []int
	types   []int
}

// item is an index.Item with its generation attributes kept as indexes.
type item struct {
	index.Item
	coll, typ, style, family, color, material int // material: global index
}

type gen struct {
	cfg   Config
	colls []collection
	items []*item
	// byCollType[c][t] lists the items of collection c and type t.
	byCollType [][][]*item
	materials  []materialSpec // global material list: family*6 + class*2 + k
}

// rng returns an independent stream per phase, so that changing one phase
// does not reshuffle the others.
func (g *gen) rng(phase uint64) *rand.Rand {
	return rand.New(rand.NewPCG(g.cfg.Seed, phase))
}

// Generate builds the demo deterministically from cfg.
func Generate(cfg Config) *Demo {
	g := &gen{cfg: cfg}
	for _, f := range families {
		for _, cl := range f.materials {
			g.materials = append(g.materials, cl[0], cl[1])
		}
	}
	g.catalog()
	d := &Demo{}
	for _, it := range g.items {
		d.Items = append(d.Items, it.Item)
	}
	d.Interactions = g.sessions()
	d.Queries = g.queries()
	used := map[string]bool{}
	for i := range d.Queries {
		d.Queries[i].Kind = folder.KindParaphrase
		used[d.Queries[i].Query] = true
	}
	d.Queries = append(d.Queries, g.literalQueries(used)...)
	return d
}

func materialIndex(family, class, k int) int { return family*6 + class*2 + k }

// catalog makes the collections and their items.
func (g *gen) catalog() {
	r := g.rng(1)
	names := slices.Clone(collectionNames)
	r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	for b := range brands {
		house := r.IntN(len(styles)) // a brand leans to a house style
		n := 3 + r.IntN(2)
		for range n {
			c := collection{name: names[0], brand: b, family: r.IntN(len(families))}
			names = names[1:]
			c.style = house
			if r.Float64() < 0.5 {
				c.style = r.IntN(len(styles))
			}
			c.palette = r.Perm(len(colors))[:3]
			k := 4 + r.IntN(4)
			c.types = r.Perm(len(types))[:k]
			slices.Sort(c.types)
			g.colls = append(g.colls, c)
		}
	}
	// Every type must be in enough collections to spread its items.
	for t := range types {
		for g.collsWith(t) < 8 {
			c := &g.colls[r.IntN(len(g.colls))]
			if !slices.Contains(c.types, t) {
				c.types = append(c.types, t)
				slices.Sort(c.types)
			}
		}
	}

	g.byCollType = make([][][]*item, len(g.colls))
	for c := range g.colls {
		g.byCollType[c] = make([][]*item, len(types))
	}
	for t, ts := range types {
		var cs []int
		for c := range g.colls {
			if slices.Contains(g.colls[c].types, t) {
				cs = append(cs, c)
			}
		}
		// Split the type's count over its collections, unevenly.
		w := make([]float64, len(cs))
		sum := 0.0
		for i := range w {
			w[i] = 0.6 + r.Float64()
			sum += w[i]
		}
		left := ts.count
		for i, c := range cs {
			n := int(math.Round(float64(ts.count) * w[i] / sum))
			if i == len(cs)-1 || n > left {
				n = left
			}
			left -= n
			g.makeItems(r, c, t, n)
		}
	}

	// Ids in a shuffled order, so nothing can be read off an id.
	r.Shuffle(len(g.items), func(i, j int) { g.items[i], g.items[j] = g.items[j], g.items[i] })
	for i, it := range g.items {
		it.ID = fmt.Sprintf("sku-%05d", i+1)
	}
}

func (g *gen) collsWith(t int) int {
	n := 0
	for _, c := range g.colls {
		if slices.Contains(c.types, t) {
			n++
		}
	}
	return n
}

// makeItems adds n distinct variants (adjective × material × colour ×
// noun) of type t to collection c.
func (g *gen) makeItems(r *rand.Rand, c, t, n int) {
	col := g.colls[c]
	ts, st := types[t], styles[col.style]
	br := brands[col.brand]
	variants := len(st.adjs) * 2 * len(col.palette) * len(ts.nouns)
	if n > variants {
		panic(fmt.Sprintf("gen: %d %s items in %s, only %d variants", n, ts.name, col.name, variants))
	}
	for _, v := range r.Perm(variants)[:n] {
		adj := v % len(st.adjs)
		v /= len(st.adjs)
		mk := v % 2
		v /= 2
		color := col.palette[v%len(col.palette)]
		noun := ts.nouns[v/len(col.palette)]
		mat := materialIndex(col.family, ts.class, mk)
		m := g.materials[mat]
		it := &item{coll: c, typ: t, style: col.style, family: col.family, color: color, material: mat}
		colorName := colors[color].name
		var title string
		if ts.class == jewel {
			title = fmt.Sprintf("%s %s %s %s %s", br.name, col.name, st.adjs[adj], catgen.TitleCase(m.name), noun)
		} else {
			title = fmt.Sprintf("%s %s %s %s %s %s", br.name, col.name, st.adjs[adj], catgen.TitleCase(colorName), catgen.TitleCase(m.name), noun)
		}
		// Only products and quotients: no fused multiply-add can make
		// prices differ between CPU architectures.
		price := ts.price * tierPrice[br.tier] * m.price * float64(80+r.IntN(41)) / 100
		it.Item = index.Item{
			Type:        ts.name,
			Title:       title,
			Description: describe(r, col, ts, st, m.name, colorName, noun, br.name),
			Brand:       br.name,
			Attributes: map[string]string{
				"collection": col.name,
				"material":   m.name,
				"color":      colorName,
				"style":      st.name,
			},
			Price:   catgen.RoundPrice(price),
			InStock: r.Float64() < 0.92,
		}
		g.items = append(g.items, it)
		g.byCollType[c][t] = append(g.byCollType[c][t], it)
	}
}

// describe writes one to three sentences naming material, colour, style
// and an occasion.
func describe(r *rand.Rand, col collection, ts typeSpec, st styleSpec, material, color, noun, brand string) string {
	noun = strings.ToLower(noun)
	lead := article(st.name) + " " + st.name
	if strings.HasSuffix(noun, "s") {
		lead = "A pair of " + st.name
	}
	s := []string{fmt.Sprintf("%s %s in %s, from the %s collection by %s.", lead, noun, material, col.name, brand)}
	if r.Float64() < 0.75 {
		f := pick(r, []string{"Shown in %s, with %s.", "Dyed %s and made with %s.", "In a %s colourway, with %s."})
		if ts.class == jewel {
			f = pick(r, []string{"Set with %s stones, with %s.", "Finished with %s enamel and %s.", "Accented in %s, with %s."})
		}
		s = append(s, fmt.Sprintf(f, color, st.describe))
	}
	if r.Float64() < 0.6 {
		f := pick(r, []string{"Made for %s.", "An easy choice for %s.", "Just right for %s."})
		s = append(s, fmt.Sprintf(f, st.occasions[r.IntN(len(st.occasions))]))
	}
	return strings.Join(s, " ")
}

func pick(r *rand.Rand, xs []string) string { return xs[r.IntN(len(xs))] }

func article(word string) string {
	if strings.ContainsRune("aeiou", rune(word[0])) {
		return "An"
	}
	return "A"
}

// user is a shopper's taste: a favourite collection (its style, material
// family and price tier) and possibly a second one close to it, and a
// favourite colour.
type user struct {
	favs  []int
	color int
}

// sessions writes one session of 6–14 events per user and splits each
// leave-last-out.
func (g *gen) sessions() []folder.Interaction {
	r := g.rng(2)
	var out []folder.Interaction
	const day = 86400
	for u := range g.cfg.Users {
		us := g.taste(r)
		id := fmt.Sprintf("u%04d", u+1)
		n := 6 + r.IntN(9)
		ts := int64(1_735_689_600 + r.IntN(90*day))
		seen := map[*item]bool{}
		var cur *item
		var evs []folder.Interaction
		for len(evs) < n {
			it := g.nextItem(r, us, cur, seen)
			seen[it] = true
			cur = it
			ev := "view"
			if r.Float64() < 0.12 {
				ev = "purchase"
			}
			evs = append(evs, folder.Interaction{User: id, Item: it.ID, TS: ts, Event: ev, Split: folder.SplitTrain})
			ts += int64(20 + r.IntN(900))
		}
		evs[len(evs)-1].Split = folder.SplitTest
		evs[len(evs)-2].Split = folder.SplitValid
		out = append(out, evs...)
	}
	return out
}

func (g *gen) taste(r *rand.Rand) user {
	c := r.IntN(len(g.colls))
	us := user{favs: []int{c}, color: g.colls[c].palette[r.IntN(3)]}
	if r.Float64() < 0.6 {
		if o := g.nearCollection(r, c, []int{c}); o >= 0 {
			us.favs = append(us.favs, o)
		}
	}
	return us
}

// nearCollection picks a collection other than those in not that shares
// c's style or material family, preferring c's price tier; -1 if none.
func (g *gen) nearCollection(r *rand.Rand, c int, not []int) int {
	base := g.colls[c]
	var best []int
	bestScore := 0
	for o, oc := range g.colls {
		if slices.Contains(not, o) {
			continue
		}
		score := 0
		if oc.style == base.style {
			score += 2
		}
		if oc.family == base.family {
			score += 2
		}
		if score == 0 {
			continue
		}
		if brands[oc.brand].tier == brands[base.brand].tier {
			score++
		}
		switch {
		case score > bestScore:
			best, bestScore = []int{o}, score
		case score == bestScore:
			best = append(best, o)
		}
	}
	if len(best) == 0 {
		return -1
	}
	return best[r.IntN(len(best))]
}

// nextItem picks a shopper's next item: mostly the next type (by the
// usual cross-type moves) in the current or a favourite collection, in the
// favourite colour when there is one; 15% of the time any item.
func (g *gen) nextItem(r *rand.Rand, us user, cur *item, seen map[*item]bool) *item {
	for range 50 {
		if r.Float64() < 0.15 {
			if it := g.items[r.IntN(len(g.items))]; !seen[it] {
				return it
			}
			continue
		}
		c := us.favs[r.IntN(len(us.favs))]
		if cur != nil {
			switch x := r.Float64(); {
			case x < 0.6 && g.isFav(us, cur.coll):
				c = cur.coll
			case x > 0.85:
				if o := g.nearCollection(r, c, us.favs); o >= 0 {
					c = o
				}
			}
		}
		t := g.nextType(r, c, cur)
		cands := g.byCollType[c][t]
		var fresh, inColor []*item
		for _, it := range cands {
			if !seen[it] {
				fresh = append(fresh, it)
				if it.color == us.color {
					inColor = append(inColor, it)
				}
			}
		}
		if len(inColor) > 0 && r.Float64() < 0.6 {
			return inColor[r.IntN(len(inColor))]
		}
		if len(fresh) > 0 {
			return fresh[r.IntN(len(fresh))]
		}
	}
	for { // everything near the taste was seen: any new item
		if it := g.items[r.IntN(len(g.items))]; !seen[it] {
			return it
		}
	}
}

func (g *gen) isFav(us user, c int) bool { return slices.Contains(us.favs, c) }

// nextType follows the type moves from the current item within collection
// c's types; the first item, or a dead end, takes any of c's types.
func (g *gen) nextType(r *rand.Rand, c int, cur *item) int {
	ct := g.colls[c].types
	if cur != nil {
		var opts []int
		for _, name := range next[types[cur.typ].name] {
			if t := typeIndex(name); slices.Contains(ct, t) {
				opts = append(opts, t)
			}
		}
		if len(opts) > 0 {
			return opts[r.IntN(len(opts))]
		}
	}
	return ct[r.IntN(len(ct))]
}

func typeIndex(name string) int {
	return slices.IndexFunc(types, func(t typeSpec) bool { return t.name == name })
}

// Query attributes a query may target besides its type.
const (
	attrColor = iota
	attrMaterial
	attrBrand
	attrStyle
)

type attr struct{ kind, value int }

func (g *gen) has(it *item, a attr) bool {
	switch a.kind {
	case attrColor:
		return it.color == a.value
	case attrMaterial:
		return it.material == a.value
	case attrBrand:
		return g.colls[it.coll].brand == a.value
	default:
		return it.style == a.value
	}
}

// combo is what a query asks for: a type, a main attribute and maybe a
// second one. Items with the type and both attributes get grade 2; with
// the type and the main attribute only (e.g. the right material in another
// style), grade 1.
type combo struct {
	typ      int
	attrs    []attr
	relevant []folder.Relevance
}

// combos lists every combination whose relevant set has 3–40 items and at
// least 3 of grade 2, in a fixed order.
func (g *gen) combos() []combo {
	values := func(kind, t int) []int {
		var n int
		switch kind {
		case attrColor:
			n = len(colors)
		case attrMaterial:
			n = len(g.materials)
		case attrBrand:
			n = len(brands)
		default:
			n = len(styles)
		}
		var out []int
		for v := range n {
			if kind == attrMaterial && (v/2)%3 != types[t].class {
				continue
			}
			out = append(out, v)
		}
		return out
	}
	byID := slices.Clone(g.items)
	slices.SortFunc(byID, func(a, b *item) int { return cmp.Compare(a.ID, b.ID) })
	var out []combo
	for t := range types {
		for _, k1 := range []int{attrColor, attrMaterial, attrBrand} {
			for _, v1 := range values(k1, t) {
				a := attr{k1, v1}
				var base []*item
				for _, it := range byID {
					if it.typ == t && g.has(it, a) {
						base = append(base, it)
					}
				}
				if len(base) < 3 || len(base) > 40 {
					continue
				}
				c := combo{typ: t, attrs: []attr{a}}
				for _, it := range base {
					c.relevant = append(c.relevant, folder.Relevance{Item: it.ID, Grade: 2})
				}
				out = append(out, c)
				for k2 := attrColor; k2 <= attrStyle; k2++ {
					if k2 == k1 {
						continue
					}
					for _, v2 := range values(k2, t) {
						b := attr{k2, v2}
						c := combo{typ: t, attrs: []attr{a, b}}
						var full, part []folder.Relevance
						for _, it := range base {
							if g.has(it, b) {
								full = append(full, folder.Relevance{Item: it.ID, Grade: 2})
							} else {
								part = append(part, folder.Relevance{Item: it.ID, Grade: 1})
							}
						}
						if len(full) < 3 || len(part) == 0 {
							continue
						}
						c.relevant = append(full, part...)
						out = append(out, c)
					}
				}
			}
		}
	}
	return out
}

const (
	// brandShare is the share of queries, train and test alike, that name
	// a brand: brand names are the one thing a query cannot paraphrase, so
	// they stay rare.
	brandShare = 0.15
	// minTrainUses is how often every form of every value is used in the
	// train queries (the tests require at least 10).
	minTrainUses = 12
	// formTypes is how many types may use each form of a colour, material
	// or style in the train queries (see trainSubsets).
	formTypes = 2
)

func (c combo) hasBrand() bool {
	return slices.ContainsFunc(c.attrs, func(a attr) bool { return a.kind == attrBrand })
}

// attrType is the kind of the type words, which forms treats like an
// attribute whose value is a type.
const attrType = -1

// form is one query form of one value: (kind, value) and the form's index.
type form struct{ kind, value, i int }

// forms returns value a's query forms: its paraphrases, plus the hint
// clause for a style (the last form).
func (g *gen) forms(a attr) []string {
	switch a.kind {
	case attrType:
		return types[a.value].words
	case attrColor:
		return colors[a.value].words
	case attrMaterial:
		return g.materials[a.value].words
	case attrStyle:
		return append(slices.Clone(styles[a.value].words), styles[a.value].hint)
	}
	return nil
}

// phrasing is the state of query writing: the forms each train type may
// use, and how often each form was used so far per split.
type phrasing struct {
	allowed map[attr]map[int][]int // value -> type -> form indexes (train)
	uses    map[string]map[form]int
}

// trainSubsets spreads the forms of each colour, material and style over
// the types of the train combos that name it, so that each type uses as
// few forms as it can while every form may be used with formTypes types: with
// n forms and m types, each type uses k = ceil(formTypes*n/m) of them, the
// p-th type forms p*k ... p*k+k-1 (mod n). A value named with too few
// types (k >= n) uses all its forms with every type.
func (g *gen) trainSubsets(train []combo) map[attr]map[int][]int {
	typesOf := map[attr][]int{}
	for _, c := range train {
		for _, a := range c.attrs {
			if a.kind != attrBrand && !slices.Contains(typesOf[a], c.typ) {
				typesOf[a] = append(typesOf[a], c.typ)
			}
		}
	}
	out := map[attr]map[int][]int{}
	for a, ts := range typesOf {
		slices.Sort(ts)
		n := len(g.forms(a))
		k := (formTypes*n + len(ts) - 1) / len(ts)
		out[a] = map[int][]int{}
		for p, t := range ts {
			var fs []int
			for i := range n {
				if k >= n || (i-p*k%n+n)%n < k {
					fs = append(fs, i)
				}
			}
			out[a][t] = fs
		}
	}
	return out
}

// choose returns the least used of value a's forms allowed for a query of
// type typ in split (train: the type's subset; test: all forms); on a
// retry (the first phrasing was taken), a random allowed one.
func (g *gen) choose(r *rand.Rand, ph *phrasing, a attr, typ int, split string, retry bool) form {
	n := len(g.forms(a))
	cands := make([]int, n)
	for i := range cands {
		cands[i] = i
	}
	if split == folder.SplitTrain && a.kind != attrType {
		if fs, ok := ph.allowed[a][typ]; ok {
			cands = fs
		}
	}
	if retry {
		return form{a.kind, a.value, cands[r.IntN(len(cands))]}
	}
	best := form{a.kind, a.value, cands[0]}
	for _, i := range cands[1:] {
		if f := (form{a.kind, a.value, i}); ph.uses[split][f] < ph.uses[split][best] {
			best = f
		}
	}
	return best
}

// queries phrases combos into train and test queries. A share of the
// combos is held out, so most test queries are new combinations; the rest
// are new phrasings of train combos. No test string equals a train string.
// brandShare of the queries, train and test alike, name a brand. The train
// queries first use every form of every colour, material and style at
// least minTrainUses times, then take the other combos in turn. Within a
// type, train queries use only some forms of each value (trainSubsets);
// test queries use them all, so a test query may pair a paraphrase with a
// type that the train queries paired only with other types.
func (g *gen) queries() []folder.Query {
	r := g.rng(3)
	all := g.combos()
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	var branded, plain []combo
	for _, c := range all {
		if c.hasBrand() {
			branded = append(branded, c)
		} else {
			plain = append(plain, c)
		}
	}
	nHeld := g.cfg.TestQueries * 2 / 3
	nHeldBrand := int(float64(nHeld) * brandShare)
	held := slices.Concat(branded[:nHeldBrand], plain[:nHeld-nHeldBrand])
	branded, plain = branded[nHeldBrand:], plain[nHeld-nHeldBrand:]

	ph := &phrasing{
		allowed: g.trainSubsets(slices.Concat(plain, branded)),
		uses:    map[string]map[form]int{folder.SplitTrain: {}, folder.SplitTest: {}},
	}
	used := map[string]bool{}
	var out []folder.Query
	add := func(c combo, split string) bool {
		for try := range 20 {
			s, fs := g.phrase(r, ph, c, split, try > 0)
			if used[s] {
				continue
			}
			used[s] = true
			for _, f := range fs {
				ph.uses[split][f]++
			}
			q := folder.Query{Query: s, Relevant: c.relevant, Split: split}
			if r.Float64() < 0.5 {
				q.Type = types[c.typ].name
			}
			out = append(out, q)
			return true
		}
		return false
	}

	nTrain, tries := 0, 0
	train := func(c combo) {
		if tries++; tries > 100*g.cfg.TrainQueries {
			panic("gen: not enough distinct train phrasings")
		}
		if add(c, folder.SplitTrain) {
			nTrain++
		}
	}
	nBrand := int(float64(g.cfg.TrainQueries) * brandShare)
	for i := 0; nTrain < nBrand; i++ {
		train(branded[i%len(branded)])
	}
	// Cover every form of every value, values in a fixed order: while a
	// form is short of minTrainUses, the next brandless train combo that
	// names the value with a type allowed that form (a branded one if there
	// is none; a value no train combo names is skipped).
	timesUsed := make([]int, len(plain))
	for _, kn := range []struct{ kind, n int }{{attrMaterial, len(g.materials)}, {attrColor, len(colors)}, {attrStyle, len(styles)}} {
		for v := range kn.n {
			a := attr{kn.kind, v}
			for i := range g.forms(a) {
				f := form{a.kind, v, i}
				var idx []int
				var alt []combo
				for j, c := range plain {
					if slices.Contains(c.attrs, a) && slices.Contains(ph.allowed[a][c.typ], i) {
						idx = append(idx, j)
					}
				}
				if len(idx) == 0 {
					for _, c := range branded {
						if slices.Contains(c.attrs, a) && slices.Contains(ph.allowed[a][c.typ], i) {
							alt = append(alt, c)
						}
					}
				}
				for j := 0; ph.uses[folder.SplitTrain][f] < minTrainUses && len(idx)+len(alt) > 0; j++ {
					if len(idx) > 0 {
						timesUsed[idx[j%len(idx)]]++
						train(plain[idx[j%len(idx)]])
					} else {
						train(alt[j%len(alt)])
					}
				}
			}
		}
	}
	if nTrain > g.cfg.TrainQueries {
		panic(fmt.Sprintf("gen: covering the lexicon takes %d train queries", nTrain))
	}
	// Then the brandless combos not used yet, then all of them in turn.
	for i := 0; nTrain < g.cfg.TrainQueries; i++ {
		if i < len(plain) && timesUsed[i] > 0 {
			continue
		}
		train(plain[i%len(plain)])
	}
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })

	for _, c := range held {
		add(c, folder.SplitTest)
	}
	for i := 0; len(out) < g.cfg.TrainQueries+g.cfg.TestQueries; i++ {
		if int(float64(i+1)*brandShare) > int(float64(i)*brandShare) {
			add(branded[r.IntN(len(branded))], folder.SplitTest)
		} else {
			add(plain[r.IntN(len(plain))], folder.SplitTest)
		}
	}
	test := out[g.cfg.TrainQueries:]
	r.Shuffle(len(test), func(i, j int) { test[i], test[j] = test[j], test[i] })
	return out
}

// plural reports whether a type word takes "some" rather than "a".
func plural(word string) bool {
	return strings.HasSuffix(word, "s") || word == "footwear"
}

// phrase writes a combo as a query of split in one of the templates, each
// attribute through one of its forms (see choose), placed before or after
// the type word. It returns the forms it used.
func (g *gen) phrase(r *rand.Rand, ph *phrasing, c combo, split string, retry bool) (string, []form) {
	ts := types[c.typ]
	var used []form
	use := func(a attr) string {
		f := g.choose(r, ph, a, c.typ, split, retry)
		used = append(used, f)
		return g.forms(a)[f.i]
	}
	hint, styleWord := "", ""
	for _, a := range c.attrs {
		if a.kind == attrStyle {
			if w := use(a); w == styles[a.value].hint {
				hint = w
			} else {
				styleWord = w
			}
		}
	}
	tpl := hintTemplate
	if hint == "" {
		tpl = pick(r, templates)
	}
	before := strings.Contains(tpl, "{P}")
	brandFirst := before && strings.Contains(tpl, "{T}")
	var pre, post []string
	for _, a := range c.attrs {
		switch a.kind {
		case attrStyle:
			switch {
			case hint != "":
			case before:
				pre = append(pre, styleWord)
			default:
				post = append(post, "in a "+styleWord+" style")
			}
		case attrColor:
			w := use(a)
			if before && r.Float64() < 0.6 {
				pre = append(pre, w)
			} else {
				post = append(post, "in "+w)
			}
		case attrMaterial:
			w := use(a)
			switch x := r.Float64(); {
			case before && x < 0.4:
				pre = append(pre, w)
			case x < 0.8:
				post = append(post, "in "+w)
			default:
				post = append(post, "crafted from "+w)
			}
		case attrBrand:
			name := brands[a.value].name
			if brandFirst && r.Float64() < 0.4 {
				pre = append([]string{name}, pre...)
			} else {
				post = append(post, pick(r, []string{"by ", "from "})+name)
			}
		}
	}
	word := ""
	if strings.Contains(tpl, "{T}") {
		word = use(attr{attrType, c.typ})
	}
	if plural(word) {
		tpl = strings.Replace(tpl, "a {P}", "some {P}", 1) // "some jade danglers"
	}
	s := strings.NewReplacer(
		"{P}", strings.Join(pre, " "),
		"{S}", strings.Join(post, " "),
		"{T}", word,
		"{U}", ts.usage,
		"{H}", hint,
	).Replace(tpl)
	return fixArticles(strings.Join(strings.Fields(s), " ")), used
}

// fixArticles turns "a" before a vowel into "an".
func fixArticles(s string) string {
	w := strings.Fields(s)
	for i := 0; i+1 < len(w); i++ {
		if w[i] == "a" && strings.ContainsRune("aeiouAEIOU", rune(w[i+1][0])) {
			w[i] = "an"
		}
	}
	s = strings.Join(w, " ")
	return strings.ReplaceAll(s, " ?", "?")
}

// Write writes the three NDJSON files into dir.
func (d *Demo) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := []struct {
		name  string
		write func(f *os.File) error
	}{
		{"items.ndjson", func(f *os.File) error { return folder.WriteNDJSON(f, d.Items) }},
		{"interactions.ndjson", func(f *os.File) error { return folder.WriteNDJSON(f, d.Interactions) }},
		{"queries.ndjson", func(f *os.File) error { return folder.WriteNDJSON(f, d.Queries) }},
	}
	for _, fl := range files {
		f, err := os.Create(filepath.Join(dir, fl.name))
		if err != nil {
			return err
		}
		err = fl.write(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", fl.name, err)
		}
	}
	return nil
}

// Summary returns the demo's counts, one line each.
func (d *Demo) Summary() string {
	var b strings.Builder
	perType := map[string]int{}
	inStock := 0
	for _, it := range d.Items {
		perType[it.Type]++
		if it.InStock {
			inStock++
		}
	}
	fmt.Fprintf(&b, "items: %d (%d in stock)\n", len(d.Items), inStock)
	for _, t := range types {
		fmt.Fprintf(&b, "  %-9s %d\n", t.name, perType[t.name])
	}
	users := map[string]bool{}
	splits := map[string]int{}
	for _, in := range d.Interactions {
		users[in.User] = true
		splits[in.Split]++
	}
	fmt.Fprintf(&b, "interactions: %d from %d users (train %d, valid %d, test %d)\n",
		len(d.Interactions), len(users), splits[folder.SplitTrain], splits[folder.SplitValid], splits[folder.SplitTest])
	qs := map[string]int{}
	for _, q := range d.Queries {
		qs[q.Split]++
		if q.Kind == folder.KindLiteral {
			qs[folder.KindLiteral]++
		}
	}
	fmt.Fprintf(&b, "queries: %d (train %d, valid %d, test %d; literal %d)\n", len(d.Queries), qs[folder.SplitTrain], qs[folder.SplitValid], qs[folder.SplitTest], qs[folder.KindLiteral])
	return b.String()
}
