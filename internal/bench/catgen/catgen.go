// Package catgen generates the scale catalog of `neo bench catalog`: items
// and shopper sessions in the demo's NDJSON formats, streamed and seeded, at
// any size (issue 20). It imports only package index, so index's own
// benchmarks can use it.
package catgen

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/index/folder"
)

// Options size the synthetic catalog of Generate.
type Options struct {
	Items int    // items to write (≥ 1)
	Users int    // users with one session each; 0 means Items/5 (at least 1)
	Seed  uint64 // the same seed gives the same bytes
	Out   string // data folder to write (created when missing); Write ignores it
	// Log receives a progress line every few seconds and a last one at
	// the end (nil: none).
	Log io.Writer
}

// Result is what `neo bench catalog` prints.
type Result struct {
	Items        int     `json:"items"`
	Users        int     `json:"users"`
	Interactions int     `json:"interactions"`
	Bytes        int64   `json:"bytes"` // both files together
	Seconds      float64 `json:"seconds"`
	Out          string  `json:"out,omitempty"`
}

// Records per product line: a line shares brand, collection, type, style
// and material family, and its items differ in noun, adjective, material
// and colour, as a real catalog's variants do.
const lineSize = 12

// Generate writes o.Out/items.ndjson and o.Out/interactions.ndjson:
// o.Items items in the demo's record format, varied text from a
// combinatorial lexicon (brands, collections, types, styles, materials,
// colours), and one session of 6 to 14 events per user, split
// leave-last-out as the demo is (each user's last event test, the one
// before valid, the others train). Records are streamed, so memory does
// not grow with o.Items; the output is byte-identical for a seed.
func Generate(o Options) (*Result, error) {
	if o.Out == "" {
		return nil, errors.New("no output folder")
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	items, err := os.Create(filepath.Join(o.Out, folder.ItemsFile))
	if err != nil {
		return nil, err
	}
	defer items.Close()
	inter, err := os.Create(filepath.Join(o.Out, folder.InteractionsFile))
	if err != nil {
		return nil, err
	}
	defer inter.Close()
	res, err := Write(items, inter, o)
	if err != nil {
		return nil, err
	}
	if err := errors.Join(items.Close(), inter.Close()); err != nil {
		return nil, err
	}
	res.Out = o.Out
	return res, nil
}

func (o *Options) check() error {
	if o.Items < 1 || o.Users < 0 {
		return errors.New("items must be ≥ 1 and users ≥ 0")
	}
	if o.Users == 0 {
		o.Users = max(1, o.Items/5)
	}
	return nil
}

// Write is Generate writing to two streams.
func Write(items, interactions io.Writer, o Options) (*Result, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	start := time.Now()
	g := newCatGen(o)
	prog := progress{w: o.Log, start: start, last: start}

	iw := &countWriter{w: bufio.NewWriterSize(items, 1<<20)}
	enc := json.NewEncoder(iw)
	enc.SetEscapeHTML(false)
	var it index.Item
	for i := range o.Items {
		g.item(i, &it)
		if err := enc.Encode(&it); err != nil {
			return nil, err
		}
		prog.tick(i, "items %d/%d", i+1, o.Items)
	}
	if err := iw.w.(*bufio.Writer).Flush(); err != nil {
		return nil, err
	}

	vw := &countWriter{w: bufio.NewWriterSize(interactions, 1<<20)}
	enc = json.NewEncoder(vw)
	enc.SetEscapeHTML(false)
	n := 0
	var evs []folder.Interaction
	for u := range o.Users {
		evs = g.session(u, evs[:0])
		for i := range evs {
			if err := enc.Encode(&evs[i]); err != nil {
				return nil, err
			}
		}
		n += len(evs)
		prog.tick(u, "users %d/%d", u+1, o.Users)
	}
	if err := vw.w.(*bufio.Writer).Flush(); err != nil {
		return nil, err
	}
	res := &Result{Items: o.Items, Users: o.Users, Interactions: n, Bytes: iw.n + vw.n,
		Seconds: math.Round(time.Since(start).Seconds()*1000) / 1000}
	if o.Log != nil {
		fmt.Fprintf(o.Log, "catalog: %d items, %d users, %d interactions, %d bytes in %.1fs\n",
			res.Items, res.Users, res.Interactions, res.Bytes, res.Seconds)
	}
	return res, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// progress prints a line to w at most every two seconds.
type progress struct {
	w           io.Writer
	start, last time.Time
}

func (p *progress) tick(i int, format string, args ...any) {
	if p.w == nil || i%4096 != 4095 {
		return
	}
	if now := time.Now(); now.Sub(p.last) >= 2*time.Second {
		p.last = now
		fmt.Fprintf(p.w, "catalog: "+format+" (%.0fs)\n", append(args, now.Sub(p.start).Seconds())...)
	}
}

type catGen struct {
	o         Options
	pcg       *rand.PCG
	r         *rand.Rand
	lines     int
	idWidth   int
	userWidth int
	// lineStride permutes line numbers, so that the popular lines are
	// spread over the catalog instead of being the first ones.
	lineStride int
	brands     []string
	tiers      []int
	colls      []string
}

func newCatGen(o Options) *catGen {
	g := &catGen{o: o, pcg: rand.NewPCG(0, 0)}
	g.r = rand.New(g.pcg)
	g.lines = (o.Items + lineSize - 1) / lineSize
	g.idWidth = max(7, len(strconv.Itoa(o.Items)))
	g.userWidth = max(6, len(strconv.Itoa(o.Users)))
	g.lineStride = 1_000_003 % g.lines
	for gcd(g.lineStride, g.lines) != 1 {
		g.lineStride++
	}
	g.brands = append(g.brands, brandLast...)
	for _, f := range brandFirst {
		for _, l := range brandLast {
			g.brands = append(g.brands, f+" "+l)
		}
	}
	for i := range g.brands {
		g.tiers = append(g.tiers, 1+(i*7)%3)
	}
	for _, a := range collOnset {
		for _, b := range collNucleus {
			for _, c := range collCoda {
				g.colls = append(g.colls, a+b+c)
			}
		}
	}
	return g
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Streams of the generator's random numbers: each line, item and user has
// its own, so any record can be made without making those before it.
const (
	streamLine = iota + 1
	streamItem
	streamUser
)

func (g *catGen) rng(stream, n int) *rand.Rand {
	g.pcg.Seed(g.o.Seed*4+uint64(stream), uint64(n))
	return g.r
}

func (g *catGen) id(i int) string { return fmt.Sprintf("sku-%0*d", g.idWidth, i+1) }

type catLine struct {
	brand, coll, typ, style, family int
	palette                         [4]int
	offset                          int
}

func (g *catGen) line(l int) catLine {
	r := g.rng(streamLine, l)
	var ln catLine
	// brands are skewed (a few big houses, a long tail), spread by a stride
	u := r.Float64()
	ln.brand = int(float64(len(g.brands))*u*u) * 97 % len(g.brands)
	ln.coll = r.IntN(len(g.colls))
	ln.typ = r.IntN(len(catTypes))
	ln.style = r.IntN(len(catStyles))
	ln.family = r.IntN(len(catFamilies))
	p := r.Perm(len(catColors))
	copy(ln.palette[:], p)
	ln.offset = r.IntN(1 << 20)
	return ln
}

// item makes the i-th item into it.
func (g *catGen) item(i int, it *index.Item) {
	ln := g.line(i / lineSize)
	ts, st := catTypes[ln.typ], catStyles[ln.style]
	// The line's variants are distinct combinations of adjective, material,
	// colour and noun: a stride coprime with their number walks them.
	combos := len(st.adjs) * 2 * len(ln.palette) * len(ts.nouns)
	v := (ln.offset + (i%lineSize)*7) % combos
	adj := st.adjs[v%len(st.adjs)]
	v /= len(st.adjs)
	m := catFamilies[ln.family][ts.class][v%2]
	v /= 2
	color := catColors[ln.palette[v%len(ln.palette)]]
	noun := ts.nouns[v/len(ln.palette)]
	brand, coll := g.brands[ln.brand], g.colls[ln.coll]

	r := g.rng(streamItem, i)
	title := strings.Join([]string{brand, coll, adj, TitleCase(color), TitleCase(m.name), noun}, " ")
	price := ts.price * catTierPrice[g.tiers[ln.brand]] * m.price * float64(80+r.IntN(41)) / 100
	attrs := it.Attributes
	if attrs == nil {
		attrs = make(map[string]string, 4)
	}
	attrs["collection"], attrs["material"], attrs["color"], attrs["style"] = coll, m.name, color, st.name
	*it = index.Item{
		ID:          g.id(i),
		Type:        ts.name,
		Title:       title,
		Description: describe(r, ts, st, m.name, color, noun, coll, brand),
		Brand:       brand,
		Attributes:  attrs,
		Price:       RoundPrice(price),
		InStock:     r.Float64() < 0.92,
	}
}

// RoundPrice rounds a synthetic price to a shop's steps (10, or 50 from
// 1,000), at least one step; the demo generator (testdata/gen) prices with
// it too.
func RoundPrice(p float64) float64 {
	step := 10.0
	if p >= 1000 {
		step = 50
	}
	return math.Max(step, math.Round(p/step)*step)
}

// TitleCase capitalises each word of s (ASCII first letters), as both
// synthetic catalogs write material and colour names in titles.
func TitleCase(s string) string {
	w := strings.Fields(s)
	for i, x := range w {
		w[i] = strings.ToUpper(x[:1]) + x[1:]
	}
	return strings.Join(w, " ")
}

func pick(r *rand.Rand, xs []string) string { return xs[r.IntN(len(xs))] }

// describe writes one to three sentences naming material, colour, style
// and an occasion.
func describe(r *rand.Rand, ts catType, st catStyle, material, color, noun, coll, brand string) string {
	noun = strings.ToLower(noun)
	lead := "A " + st.name
	if strings.ContainsRune("aeiou", rune(st.name[0])) {
		lead = "An " + st.name
	}
	if strings.HasSuffix(noun, "s") {
		lead = "A pair of " + st.name
	}
	s := []string{fmt.Sprintf("%s %s in %s, from the %s collection by %s.", lead, noun, material, coll, brand)}
	if r.Float64() < 0.75 {
		f := pick(r, []string{"Shown in %s, with %s.", "Dyed %s and made with %s.", "In a %s colourway, with %s."})
		if ts.class == classJewel {
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

// lineItems is the number of items of line l.
func (g *catGen) lineItems(l int) int { return min(lineSize, g.o.Items-l*lineSize) }

// popularLine draws a line with a skewed popularity.
func (g *catGen) popularLine(r *rand.Rand) int {
	u := r.Float64()
	k := int(float64(g.lines) * u * u * u)
	return int((int64(k)*int64(g.lineStride) + 17) % int64(g.lines))
}

// session appends user u's events to evs: 6 to 14 distinct items (when
// the catalog has them), browsing within a line, between the user's
// favourite lines and to popular ones, split leave-last-out.
func (g *catGen) session(u int, evs []folder.Interaction) []folder.Interaction {
	r := g.rng(streamUser, u)
	const day = 86400
	user := fmt.Sprintf("u%0*d", g.userWidth, u+1)
	favs := []int{g.popularLine(r)}
	if r.Float64() < 0.6 {
		favs = append(favs, (favs[0]+1+r.IntN(3))%g.lines)
	}
	n := 6 + r.IntN(9)
	ts := int64(1_735_689_600 + r.IntN(90*day))
	cur := favs[0]
	var seen []int
	for len(evs) < n {
		var item int
		for try := 0; ; try++ {
			switch p := r.Float64(); {
			case p < 0.5:
			case p < 0.8:
				cur = favs[r.IntN(len(favs))]
			default:
				cur = g.popularLine(r)
			}
			item = cur*lineSize + r.IntN(g.lineItems(cur))
			if !slices.Contains(seen, item) || try == 8 {
				break
			}
		}
		seen = append(seen, item)
		ev := "view"
		if r.Float64() < 0.12 {
			ev = "purchase"
		}
		evs = append(evs, folder.Interaction{User: user, Item: g.id(item), TS: ts, Event: ev, Split: folder.SplitTrain})
		ts += int64(20 + r.IntN(900))
	}
	evs[n-1].Split = folder.SplitTest
	evs[n-2].Split = folder.SplitValid
	return evs
}
