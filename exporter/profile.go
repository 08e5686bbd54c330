package exporter

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/neo-search/neo/sid"
)

// Per-field rune limits applied to catalog and query text before anything
// else (see clipRunes), so one giant field cannot crowd a sequence.
const (
	maxTitleRunes = 200
	maxDescRunes  = 1000
	maxShortRunes = 80 // brand, attribute keys and values
	maxQueryRunes = 200
)

// cleanText turns control characters and runs of white space into single
// spaces, trims, and clips to maxRunes (clipRunes).
func cleanText(s string, maxRunes int) string {
	s = sid.SanitizeUTF8(s)
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return clipRunes(b.String(), maxRunes)
}

// clipRunes shortens s to at most max runes, never splitting a character:
// it cuts after rune max, then backs up to the last space if that space
// lies within the final fifth of the cut (so words stay whole when they
// can), and trims trailing spaces and punctuation-free separators.
func clipRunes(s string, max int) string {
	if max <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	cut, n := 0, 0
	for i := range s {
		if n == max {
			cut = i
			break
		}
		n++
	}
	out := s[:cut]
	if sp := strings.LastIndexByte(out, ' '); sp > 0 && utf8.RuneCountInString(out[sp:]) <= max/5 {
		out = out[:sp]
	}
	return strings.TrimRight(out, " ")
}

// itemInfo is an item prepared for sequence building.
type itemInfo struct {
	id                 string
	sid                sid.SID
	typ                string // SID type
	title, desc, brand string
	attrs              map[string]string // cleaned, lower-case keys
	attrKeys           []string          // sorted
	tier               string            // "budget", "mid-range", "premium" or ""
}

func (it *itemInfo) attr(keys ...string) string {
	for _, k := range keys {
		if v := it.attrs[k]; v != "" {
			return v
		}
	}
	return ""
}

// Attribute keys with a fixed role in profile and reason texts.
var (
	keyStyle      = []string{"style"}
	keyMaterial   = []string{"material"}
	keyColour     = []string{"color", "colour"}
	keyCollection = []string{"collection"}
	knownKeys     = map[string]bool{"style": true, "material": true, "color": true, "colour": true, "collection": true}
)

// assignTiers sets each item's price tier from the tertiles of its type's
// prices; items without a price get none.
func assignTiers(items []*itemInfo, prices []float64) {
	byType := map[string][]float64{}
	for i, it := range items {
		if prices[i] > 0 {
			byType[it.typ] = append(byType[it.typ], prices[i])
		}
	}
	for _, ps := range byType {
		sort.Float64s(ps)
	}
	for i, it := range items {
		p := prices[i]
		ps := byType[it.typ]
		if p <= 0 || len(ps) == 0 {
			continue
		}
		lo, hi := ps[(len(ps)-1)/3], ps[(2*(len(ps)-1))/3]
		switch {
		case len(ps) >= 3 && p < lo:
			it.tier = "budget"
		case len(ps) >= 3 && p > hi:
			it.tier = "premium"
		default:
			it.tier = "mid-range"
		}
	}
}

// tally counts values, remembering first appearance for stable tie order.
type tally struct {
	count map[string]int
	order []string
}

func (t *tally) add(v string) {
	if v == "" {
		return
	}
	if t.count == nil {
		t.count = map[string]int{}
	}
	if t.count[v] == 0 {
		t.order = append(t.order, v)
	}
	t.count[v]++
}

// top returns values by count (desc), ties by first appearance.
func (t *tally) top() []string {
	out := append([]string(nil), t.order...)
	sort.SliceStable(out, func(i, j int) bool { return t.count[out[i]] > t.count[out[j]] })
	return out
}

// dominant returns the most frequent value if it is shared by at least 40%
// of n items and (unless n is 1) by at least two of them.
func (t *tally) dominant(n int) string {
	top := t.top()
	if len(top) == 0 {
		return ""
	}
	c := t.count[top[0]]
	if c*5 < 2*n || (c < 2 && n > 1) {
		return ""
	}
	return top[0]
}

// isMode reports whether v is one of the most frequent values.
func (t *tally) isMode(v string) bool {
	top := t.top()
	return v != "" && len(top) > 0 && t.count[v] == t.count[top[0]]
}

func tallyOf(hist []*itemInfo, f func(*itemInfo) string) *tally {
	t := &tally{}
	for _, it := range hist {
		t.add(f(it))
	}
	return t
}

// joinAnd joins words as "a", "a and b", "a, b and c".
func joinAnd(ws []string) string {
	switch len(ws) {
	case 0:
		return ""
	case 1:
		return ws[0]
	}
	return strings.Join(ws[:len(ws)-1], ", ") + " and " + ws[len(ws)-1]
}

// adjectives joins attribute values as a modifier, dropping repeats
// ("rose gold" + "gold" → "rose gold").
func adjectives(vals ...string) string {
	var out []string
	seen := ""
	for _, v := range vals {
		lv := strings.ToLower(v)
		if v == "" || strings.Contains(seen+" ", " "+lv+" ") {
			continue
		}
		seen += " " + lv
		out = append(out, lv)
	}
	return strings.Join(out, " ")
}

// profileText describes the taste behind a history from its attributes:
// dominant style, colour and material, brands, types and price tier, e.g.
// "This shopper favours understated rose gold pieces in gold vermeil from
// Maison Aurel, mostly bracelets and rings, at mid-range prices."
func profileText(hist []*itemInfo) string {
	n := len(hist)
	style := tallyOf(hist, func(it *itemInfo) string { return it.attr(keyStyle...) }).dominant(n)
	colour := tallyOf(hist, func(it *itemInfo) string { return it.attr(keyColour...) }).dominant(n)
	material := tallyOf(hist, func(it *itemInfo) string { return it.attr(keyMaterial...) }).dominant(n)
	types := tallyOf(hist, func(it *itemInfo) string { return it.typ })
	brands := tallyOf(hist, func(it *itemInfo) string { return it.brand })
	tiers := tallyOf(hist, func(it *itemInfo) string { return it.tier })

	var b strings.Builder
	b.WriteString("This shopper favours ")
	if adj := adjectives(style, colour); adj != "" {
		b.WriteString(adj + " ")
	}
	topTypes := types.top()
	if types.count[topTypes[0]]*5 >= 4*n {
		b.WriteString(TypePlural(topTypes[0]))
		topTypes = nil
	} else {
		b.WriteString(NoTypeWords[1])
	}
	if material != "" && !strings.Contains(" "+strings.ToLower(colour)+" ", " "+strings.ToLower(material)+" ") {
		b.WriteString(" in " + strings.ToLower(material))
	}
	var bs []string
	for _, br := range brands.top() {
		if len(bs) < 2 && brands.count[br]*5 >= 2*n && (brands.count[br] >= 2 || n == 1) {
			bs = append(bs, br)
		}
	}
	if len(bs) > 0 {
		b.WriteString(" from " + joinAnd(bs))
	}
	if topTypes != nil {
		var ts []string
		for _, t := range topTypes {
			if len(ts) < 2 && types.count[t]*4 >= n {
				ts = append(ts, TypePlural(t))
			}
		}
		if len(ts) > 0 {
			b.WriteString(", mostly " + joinAnd(ts))
		} else {
			b.WriteString(", across many kinds")
		}
	}
	if tier := tiers.dominant(n); tier != "" && tiers.count[tier]*2 > n {
		b.WriteString(", at " + tier + " prices")
	} else if len(tiers.order) > 1 {
		b.WriteString(", across price ranges")
	}
	// Other attributes (genres, fits, ...): name the favourite values of
	// the two best covered keys. Multi-valued attributes split on | and ,.
	if other := otherFavourites(hist); other != "" {
		b.WriteString("; " + other)
	}
	b.WriteString(".")
	return b.String()
}

func otherFavourites(hist []*itemInfo) string {
	n := len(hist)
	byKey := map[string]*tally{}
	cover := map[string]int{}
	var keys []string
	for _, it := range hist {
		for _, k := range it.attrKeys {
			if knownKeys[k] {
				continue
			}
			t := byKey[k]
			if t == nil {
				t = &tally{}
				byKey[k] = t
				keys = append(keys, k)
			}
			cover[k]++
			for _, v := range strings.FieldsFunc(it.attrs[k], func(r rune) bool { return r == '|' || r == ',' }) {
				t.add(strings.TrimSpace(v))
			}
		}
	}
	sort.SliceStable(keys, func(i, j int) bool {
		if cover[keys[i]] != cover[keys[j]] {
			return cover[keys[i]] > cover[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var parts []string
	for _, k := range keys {
		if len(parts) == 2 {
			break
		}
		var vs []string
		for _, v := range byKey[k].top() {
			if len(vs) < 2 && byKey[k].count[v]*5 >= 2*n && (byKey[k].count[v] >= 2 || n == 1) {
				vs = append(vs, v)
			}
		}
		if len(vs) > 0 {
			parts = append(parts, "favourite "+k+": "+joinAnd(vs))
		}
	}
	return strings.Join(parts, "; ")
}

// mixedCompletion is the answer of the mixed task: a reason that holds for
// both the history and the recommended item, the item's SID, and a short
// description of the item, e.g. "Based on your taste for understated silver
// pieces, I recommend [SID]…[/SID], a rose gold bracelet from the Aurora
// collection by Maison Aurel."
func mixedCompletion(hist []*itemInfo, target *itemInfo) []sid.Segment {
	shared := func(keys []string) string {
		v := target.attr(keys...)
		if v == "" {
			return ""
		}
		if !tallyOf(hist, func(it *itemInfo) string { return it.attr(keys...) }).isMode(v) {
			return ""
		}
		return v
	}
	var reason string
	style, material, colour := shared(keyStyle), shared(keyMaterial), shared(keyColour)
	switch {
	case style != "" || material != "":
		reason = "Based on your taste for " + adjectives(style, material) + " " + NoTypeWords[1]
	case colour != "":
		reason = "Based on your taste for " + adjectives(colour) + " " + NoTypeWords[1]
	case target.brand != "" && tallyOf(hist, func(it *itemInfo) string { return it.brand }).count[target.brand] > 0:
		reason = "Based on your interest in " + target.brand
	case tallyOf(hist, func(it *itemInfo) string { return it.typ }).count[target.typ] > 0:
		reason = "Based on the " + TypePlural(target.typ) + " in your history"
	default:
		reason = "Based on your recent activity"
	}
	desc := adjectives(target.attr(keyColour...))
	if desc != "" {
		desc += " "
	}
	desc += TypeWord(target.typ)
	desc = article(desc) + " " + desc
	if c := target.attr(keyCollection...); c != "" {
		desc += " from the " + c + " collection"
	}
	if target.brand != "" {
		desc += " by " + target.brand
	}
	s := target.sid
	return []sid.Segment{{Text: reason + ", I recommend "}, {SID: &s}, {Text: ", " + desc + "."}}
}

// contextFor returns free-text requests that are true of item it, for the
// {context} templates: "something by Maison Aurel", "something in rose gold".
func contextFor(it *itemInfo) []string {
	var out []string
	if it.brand != "" {
		out = append(out, "something by "+it.brand)
	}
	if c := it.attr(keyColour...); c != "" {
		out = append(out, "something in "+strings.ToLower(c))
	}
	if m := it.attr(keyMaterial...); m != "" {
		out = append(out, "something made of "+strings.ToLower(m))
	}
	if c := it.attr(keyCollection...); c != "" {
		out = append(out, "something from the "+c+" collection")
	}
	switch it.tier {
	case "budget":
		out = append(out, "a budget-friendly pick")
	case "mid-range":
		out = append(out, "something mid-range")
	case "premium":
		out = append(out, "a premium pick")
	}
	return out
}

// warmupText is an item's catalog text: "title. description. brand.
// type: t, key: value, ...".
func warmupText(it *itemInfo) string {
	var b strings.Builder
	add := func(s string) {
		if s == "" {
			return
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s)
		if !strings.ContainsAny(s[len(s)-1:], ".!?") {
			b.WriteByte('.')
		}
	}
	add(it.title)
	add(it.desc)
	add(it.brand)
	attrs := []string{"type: " + TypeWord(it.typ)}
	for _, k := range it.attrKeys {
		attrs = append(attrs, k+": "+it.attrs[k])
	}
	if it.tier != "" {
		attrs = append(attrs, "price: "+it.tier)
	}
	add(strings.Join(attrs, ", "))
	return b.String()
}
