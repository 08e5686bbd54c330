package exporter

import (
	"strings"
	"testing"

	"github.com/neo-search/neo/sid"
)

func item(typ, brand, tier string, attrs map[string]string) *itemInfo {
	it := &itemInfo{id: typ + brand, typ: typ, brand: brand, tier: tier, attrs: attrs,
		sid: sid.SID{Type: typ, Codes: []int{1, 2, 3, 0}}}
	for k := range attrs {
		it.attrKeys = append(it.attrKeys, k)
	}
	return it
}

func TestProfileText(t *testing.T) {
	rg := map[string]string{"style": "understated", "color": "rose gold", "material": "gold vermeil"}
	sv := map[string]string{"style": "bold", "color": "silver", "material": "sterling silver"}
	cases := []struct {
		name string
		hist []*itemInfo
		want string
	}{
		{"one item", []*itemInfo{item("ring", "Maison Aurel", "premium", rg)},
			"This shopper favours understated rose gold rings in gold vermeil from Maison Aurel, at premium prices."},
		{"dominant style, two types",
			[]*itemInfo{item("bracelet", "Maison Aurel", "mid-range", rg), item("ring", "Maison Aurel", "mid-range", rg), item("bracelet", "Maison Aurel", "mid-range", rg)},
			"This shopper favours understated rose gold pieces in gold vermeil from Maison Aurel, mostly bracelets and rings, at mid-range prices."},
		{"no dominant attribute",
			[]*itemInfo{item("bracelet", "A", "budget", rg), item("ring", "B", "premium", sv), item("watch", "C", "", nil), item("scarf", "D", "", nil)},
			"This shopper favours pieces, mostly bracelets and rings, across price ranges."}, // at most two types
		{"material inside colour is said once",
			[]*itemInfo{item("ring", "", "", map[string]string{"color": "rose gold", "material": "gold"})},
			"This shopper favours rose gold rings."},
		{"other attributes",
			[]*itemInfo{item("movie", "", "", map[string]string{"genres": "Comedy|Drama"}), item("movie", "", "", map[string]string{"genres": "Comedy"})},
			"This shopper favours movies; favourite genres: Comedy."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := profileText(c.hist); got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestMixedCompletion(t *testing.T) {
	rg := map[string]string{"style": "understated", "color": "rose gold", "material": "gold vermeil", "collection": "Aurora"}
	other := map[string]string{"style": "bold", "color": "black", "material": "leather"}
	target := item("bracelet", "Maison Aurel", "", rg)
	cases := []struct {
		name   string
		hist   []*itemInfo
		target *itemInfo
		want   string
	}{
		{"shared style and material", []*itemInfo{item("ring", "X", "", rg), item("ring", "Y", "", rg)}, target,
			"Based on your taste for understated gold vermeil pieces, I recommend [SID], a rose gold bracelet from the Aurora collection by Maison Aurel."},
		{"shared brand only", []*itemInfo{item("handbag", "Maison Aurel", "", other)}, target,
			"Based on your interest in Maison Aurel, I recommend [SID], a rose gold bracelet from the Aurora collection by Maison Aurel."},
		{"shared type only", []*itemInfo{item("bracelet", "Z", "", other)}, target,
			"Based on the bracelets in your history, I recommend [SID], a rose gold bracelet from the Aurora collection by Maison Aurel."},
		{"nothing shared, vowel type", []*itemInfo{item("handbag", "Z", "", other)}, item("earring", "", "", nil),
			"Based on your recent activity, I recommend [SID], an earring."},
		{"no claim beyond the history's mode", []*itemInfo{item("ring", "Z", "", other), item("ring", "Z", "", other), item("ring", "Z", "", rg)}, target,
			"Based on your recent activity, I recommend [SID], a rose gold bracelet from the Aurora collection by Maison Aurel."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			for _, s := range mixedCompletion(c.hist, c.target) {
				if s.SID != nil {
					if !s.SID.Equal(c.target.sid) {
						t.Fatalf("completion names %s, not the target", s.SID)
					}
					b.WriteString("[SID]")
					continue
				}
				b.WriteString(s.Text)
			}
			if b.String() != c.want {
				t.Errorf("got  %q\nwant %q", b.String(), c.want)
			}
		})
	}
}

func TestTemplates(t *testing.T) {
	for _, task := range sid.Tasks {
		t.Run(task, func(t *testing.T) {
			tpls := Templates[task]
			if len(tpls) < 5 {
				t.Fatalf("%d templates, want at least 5", len(tpls))
			}
			if containsPlaceholder(tpls[0], "context") {
				t.Error("template 0 (served) needs {context}")
			}
			vals := map[string][]sid.Segment{"query": TextValue("q"), "type": TypeValue("ring"),
				"history": sid.Spans([]sid.SID{{Type: "ring", Codes: []int{1, 0}}}), "context": TextValue("c")}
			for i, tpl := range tpls {
				segs, err := sid.Prompt(tpl, sid.TaskFormat[task], vals)
				if err != nil {
					t.Fatalf("template %d: %v", i, err)
				}
				if segs[0].Special != sid.TokenBOS || segs[len(segs)-1].Special != sid.TokenAssistant {
					t.Errorf("template %d: frame %v", i, segs)
				}
				needs := map[string]bool{sid.TaskSearch: containsPlaceholder(tpl, "query"), sid.TaskRecommend: containsPlaceholder(tpl, "history"),
					sid.TaskExplain: containsPlaceholder(tpl, "history"), sid.TaskMixed: containsPlaceholder(tpl, "history")}
				if !needs[task] {
					t.Errorf("template %d lacks its task's main placeholder: %q", i, tpl)
				}
			}
		})
	}
	if _, err := sid.Prompt("x", "json", nil); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestTypeWords(t *testing.T) {
	cases := []struct{ typ, singular, plural string }{
		{"handbag", "handbag", "handbags"},
		{"hand_bag", "hand bag", "hand bags"},
		{"watch", "watch", "watches"},
		{"accessory", "accessory", "accessories"},
		{"Hand Bag", "hand bag", "hand bags"},
	}
	for _, c := range cases {
		t.Run(c.typ, func(t *testing.T) {
			if got := TypeWord(c.typ); got != c.singular {
				t.Errorf("TypeWord = %q, want %q", got, c.singular)
			}
			if got := TypePlural(c.typ); got != c.plural {
				t.Errorf("TypePlural = %q, want %q", got, c.plural)
			}
			// Training renders {type} exactly as serving does.
			if got := TypeValue(c.typ)[0].Text; got != sid.TypeWord([]string{sid.NormalizeType(c.typ)}) {
				t.Errorf("TypeValue = %q, serving renders %q", got, sid.TypeWord([]string{c.typ}))
			}
		})
	}
	if got := TypeValue("")[0].Text; got != sid.TypeWord(nil) {
		t.Errorf("untyped {type} = %q, serving renders %q", got, sid.TypeWord(nil))
	}
}
