package sid

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// demoLike builds a synthetic catalog shaped like the demo: 10 types of
// about 300 items, each type with 8 styles whose items share style words,
// brands, colours and materials, plus sessions in which users browse
// mostly one style of a few types. style[i] is the item's (type, style).
func demoLike(seed uint64) (items []AssignItem, sessions [][]int, style []int) {
	rng := rand.New(rand.NewPCG(seed, 0))
	types := []string{"handbag", "shoe", "dress", "watch", "ring", "scarf", "belt", "wallet", "sunglasses", "jacket"}
	colors := []string{"gold", "black", "red", "ivory", "navy", "emerald", "blush", "tan", "silver", "olive"}
	materials := []string{"leather", "suede", "silk", "wool", "canvas", "satin", "cotton", "steel"}
	brands := []string{"Aurel", "Belmont", "Corvo", "Delphine", "Etoile", "Faro", "Gilda", "Halden"}
	styleWords := [][]string{
		{"classic", "timeless", "structured", "heritage"},
		{"sporty", "active", "breathable", "performance"},
		{"bohemian", "fringe", "embroidered", "relaxed"},
		{"minimal", "clean", "sleek", "modern"},
		{"evening", "sequin", "glamorous", "party"},
		{"vintage", "retro", "antique", "washed"},
		{"rugged", "outdoor", "durable", "utility"},
		{"playful", "bright", "graphic", "quirky"},
	}
	byStyle := map[int][]int{}
	for ti, typ := range types {
		for j := range 300 - 3*ti {
			s := rng.IntN(len(styleWords))
			w := styleWords[s]
			pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
			// Colour and material lean on the style, so they carry signal.
			color := colors[(2*s+rng.IntN(3))%len(colors)]
			mat := materials[(s+rng.IntN(2))%len(materials)]
			title := fmt.Sprintf("%s %s %s %s %s", brands[(s+rng.IntN(3))%len(brands)], pick(w), color, mat, typ)
			desc := fmt.Sprintf("A %s %s %s, %s and %s. Model %d.", pick(w), mat, typ, pick(w), pick(w), rng.IntN(1000))
			items = append(items, AssignItem{ID: fmt.Sprintf("%s-%03d", typ, j), Type: typ, Text: title + ". " + desc})
			style = append(style, ti*len(styleWords)+s)
			byStyle[s] = append(byStyle[s], len(items)-1)
		}
	}
	for range 400 {
		s := rng.IntN(len(styleWords))
		sess := make([]int, 4+rng.IntN(12))
		for p := range sess {
			if rng.IntN(10) == 0 {
				sess[p] = rng.IntN(len(items)) // noise
			} else {
				sess[p] = byStyle[s][rng.IntN(len(byStyle[s]))]
			}
		}
		sessions = append(sessions, sess)
	}
	return items, sessions, style
}

// checkSIDs verifies the SIDs are unique, well-formed and within codebooks.
func checkSIDs(t *testing.T, a *Assignment, items []AssignItem) {
	t.Helper()
	seen := map[string]int{}
	for i, s := range a.SIDs {
		if s.Type != NormalizeType(items[i].Type) {
			t.Fatalf("item %d: type %q, want %q", i, s.Type, items[i].Type)
		}
		if len(s.Codes) != a.Report.Levels+1 {
			t.Fatalf("item %d: %d codes", i, len(s.Codes))
		}
		for l, c := range s.Codes[:a.Report.Levels] {
			if c < 0 || c >= a.Codebook[s.Type][l] {
				t.Fatalf("item %d: code %d out of range at level %d", i, c, l)
			}
		}
		if j, dup := seen[s.Key()]; dup {
			t.Fatalf("items %d and %d share SID %s", j, i, s)
		}
		seen[s.Key()] = i
		if _, err := Parse(s.String()); err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
	}
	if _, err := NewVocab(100, a.Types, a.CodeCounts()); err != nil {
		t.Fatal(err)
	}
}

func TestAssignDemoLike(t *testing.T) {
	items, sessions, _ := demoLike(1)
	tests := []struct {
		name     string
		sessions [][]int
	}{
		{"text", nil},
		{"text+cooc", sessions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Assign(items, AssignOptions{Seed: 1, Sessions: tt.sessions})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("\n%s", a.Report)
			checkSIDs(t, a, items)
			r := a.Report
			if r.Items != len(items) || r.Types != 10 || len(a.Types) != 10 || !slices.IsSorted(a.Types) {
				t.Errorf("report: %d items, %d types, types %v", r.Items, r.Types, a.Types)
			}
			if r.CollisionRate > 0.05 {
				t.Errorf("collision rate %.3f > 5%%", r.CollisionRate)
			}
			// Sharing a longer prefix means more alike, and any shared
			// prefix beats random pairs.
			ps := r.PrefixSimilarity
			if len(ps) != r.Levels+1 {
				t.Fatalf("%d prefix rows", len(ps))
			}
			if ps[1].Cosine < ps[0].Random+0.1 || ps[2].Cosine < ps[1].Cosine || ps[0].Cosine > ps[0].Random {
				t.Errorf("prefix similarity does not rise with depth: %+v", ps)
			}
			if tt.sessions != nil && !strings.Contains(a.Report.String(), "text+cooc") {
				t.Error("report does not show the co-occurrence part")
			}
		})
	}
}

func TestAssignDeterministic(t *testing.T) {
	items, sessions, _ := demoLike(2)
	items = items[:900]
	var trimmed [][]int
	for _, s := range sessions {
		var keep []int
		for _, i := range s {
			if i < len(items) {
				keep = append(keep, i)
			}
		}
		trimmed = append(trimmed, keep)
	}
	run := func(seed uint64) []SID {
		a, err := Assign(items, AssignOptions{Seed: seed, Sessions: trimmed})
		if err != nil {
			t.Fatal(err)
		}
		return a.SIDs
	}
	same := func(x, y []SID) bool { return slices.EqualFunc(x, y, SID.Equal) }
	first := run(7)
	t.Run("same seed", func(t *testing.T) {
		if !same(first, run(7)) {
			t.Error("same input and seed gave different SIDs")
		}
	})
	t.Run("other seed", func(t *testing.T) {
		if same(first, run(8)) {
			t.Error("a different seed gave identical SIDs")
		}
	})
	t.Run("input order", func(t *testing.T) {
		// Items are processed in ID order, so shuffling the input (and
		// the session indexes with it) changes nothing.
		perm := rand.New(rand.NewPCG(1, 1)).Perm(len(items))
		shuffled := make([]AssignItem, len(items))
		where := make([]int, len(items))
		for to, from := range perm {
			shuffled[to] = items[from]
			where[from] = to
		}
		var sess [][]int
		for _, s := range trimmed {
			m := make([]int, len(s))
			for p, i := range s {
				m[p] = where[i]
			}
			sess = append(sess, m)
		}
		a, err := Assign(shuffled, AssignOptions{Seed: 7, Sessions: sess})
		if err != nil {
			t.Fatal(err)
		}
		for to, from := range perm {
			if !a.SIDs[to].Equal(first[from]) {
				t.Fatalf("item %s: %s shuffled, %s in order", items[from].ID, a.SIDs[to], first[from])
			}
		}
	})
}

// TestPrefixSimilarityClusters checks the measurement on data with known
// structure: three nested levels of clusters given as user embeddings.
func TestPrefixSimilarityClusters(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 0))
	const d = 16
	randVec := func(s float64) []float64 {
		v := make([]float64, d)
		for i := range v {
			v[i] = s * rng.NormFloat64()
		}
		return v
	}
	var items []AssignItem
	for a := range 6 {
		ca := randVec(1)
		for b := range 6 {
			cb := randVec(0.4)
			for c := range 20 {
				v := randVec(0.15)
				e := make([]float32, d)
				for i := range e {
					e[i] = float32(ca[i] + cb[i] + v[i])
				}
				items = append(items, AssignItem{ID: fmt.Sprintf("x%d-%d-%d", a, b, c), Type: "thing", Embedding: e})
			}
		}
	}
	a, err := Assign(items, AssignOptions{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	checkSIDs(t, a, items)
	t.Logf("\n%s", a.Report)
	ps := a.Report.PrefixSimilarity
	for d := 1; d < len(ps)-1; d++ {
		if ps[d].Pairs == 0 || ps[d].Cosine <= ps[d-1].Cosine {
			t.Errorf("depth %d: cosine %.3f not above depth %d (%.3f)", d, ps[d].Cosine, d-1, ps[d-1].Cosine)
		}
	}
	if ps[1].Cosine < ps[0].Random+0.3 {
		t.Errorf("depth 1 cosine %.3f barely above random %.3f", ps[1].Cosine, ps[0].Random)
	}

	t.Run("matches brute force", func(t *testing.T) {
		x := make([]float64, 0, len(items)*d)
		codes := make([][]int, len(items))
		for i, it := range items {
			u, _ := unit(it.Embedding)
			for _, f := range u {
				x = append(x, float64(f))
			}
			codes[i] = a.SIDs[i].Codes[:3]
		}
		acc := make([]simAcc, 5)
		prefixSims(acc, x, d, codes)
		var brute [5]simAcc
		for i := range items {
			for j := i + 1; j < len(items); j++ {
				shared := 0
				for shared < 3 && codes[i][shared] == codes[j][shared] {
					shared++
				}
				c := dot(x[i*d:(i+1)*d], x[j*d:(j+1)*d])
				for dd := 0; dd <= shared; dd++ {
					brute[dd].pairs++
					brute[dd].dots += c
				}
			}
		}
		for dd := range 4 {
			if acc[dd].pairs != brute[dd].pairs || math.Abs(acc[dd].dots-brute[dd].dots) > 1e-6*float64(brute[dd].pairs+1) {
				t.Errorf("depth %d: got %+v, brute force %+v", dd, acc[dd], brute[dd])
			}
		}
	})
}

// TestAssignInteractionsOnly: a catalog of bare IDs still gets meaningful
// SIDs from its interactions.
func TestAssignInteractionsOnly(t *testing.T) {
	const per = 30
	var items []AssignItem
	for c := range 2 {
		for i := range per {
			items = append(items, AssignItem{ID: fmt.Sprintf("c%d-%02d", c, i), Type: "item"})
		}
	}
	rng := rand.New(rand.NewPCG(4, 4))
	var sessions [][]int
	for s := range 200 {
		c := s % 2
		sess := make([]int, 8)
		for p := range sess {
			sess[p] = c*per + rng.IntN(per)
		}
		sessions = append(sessions, sess)
	}
	a, err := Assign(items, AssignOptions{Seed: 1, Sessions: sessions})
	if err != nil {
		t.Fatal(err)
	}
	checkSIDs(t, a, items)
	t.Logf("\n%s", a.Report)
	level0 := [2]map[int]bool{{}, {}}
	for i, s := range a.SIDs {
		level0[i/per][s.Codes[0]] = true
	}
	for c := range level0[0] {
		if level0[1][c] {
			t.Errorf("level-0 code %d used by both clusters (%v vs %v)", c, level0[0], level0[1])
		}
	}
	if src := a.Report.PerType[0].Source; src != SourceInteractions {
		t.Errorf("source %q", src)
	}
	if _, _, err := a.Quantizer.Codes(AssignItem{ID: "new", Type: "item", Text: "x"}); err == nil {
		t.Error("Codes on an interactions-only type: want error")
	}
}

func TestAssignErrors(t *testing.T) {
	emb := func(v ...float32) []float32 { return v }
	tests := []struct {
		name  string
		items []AssignItem
		opt   AssignOptions
		want  string
	}{
		{"empty", nil, AssignOptions{}, "no items"},
		{"no id", []AssignItem{{Type: "a", Text: "x y"}}, AssignOptions{}, "has no ID"},
		{"duplicate id", []AssignItem{{ID: "1", Type: "a", Text: "red bag"}, {ID: "1", Type: "a", Text: "red bag"}}, AssignOptions{}, "duplicate"},
		{"bad type", []AssignItem{{ID: "1", Type: "--", Text: "red bag"}}, AssignOptions{}, "usable name"},
		{"ids only, no sessions", []AssignItem{{ID: "1", Type: "a"}, {ID: "2", Type: "a"}}, AssignOptions{}, "no item has text"},
		{"inconsistent dims", []AssignItem{{ID: "1", Type: "a", Embedding: emb(1, 0)}, {ID: "2", Type: "a", Embedding: emb(1, 0, 0)}}, AssignOptions{},
			"dimensional embedding"},
		{"partial embeddings", []AssignItem{{ID: "1", Type: "a", Embedding: emb(1, 0)}, {ID: "2", Type: "a", Text: "bag"}}, AssignOptions{},
			"1 of 2 items have an embedding"},
		{"zero embedding", []AssignItem{{ID: "1", Type: "a", Embedding: emb(0, 0)}}, AssignOptions{}, "embedding is zero"},
		{"nan embedding", []AssignItem{{ID: "1", Type: "a", Embedding: emb(float32(math.NaN()), 0)}}, AssignOptions{}, "NaN"},
		{"session index", []AssignItem{{ID: "1", Type: "a", Text: "bag"}}, AssignOptions{Sessions: [][]int{{0, 5}}}, "item index 5"},
		{"cooc weight", []AssignItem{{ID: "1", Type: "a", Text: "bag"}}, AssignOptions{CoocWeight: 1}, "co-occurrence weight"},
		{"levels", []AssignItem{{ID: "1", Type: "a", Text: "bag"}}, AssignOptions{Levels: MaxCodes}, "semantic levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Assign(tt.items, tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestAssignSmall(t *testing.T) {
	tests := []struct {
		name  string
		items []AssignItem
	}{
		{"one item", []AssignItem{{ID: "1", Type: "Hand Bag", Text: "red bag"}}},
		{"two types of one", []AssignItem{{ID: "1", Type: "a", Text: "red bag"}, {ID: "2", Type: "b", Text: "blue shoe"}}},
		{"identical texts", []AssignItem{{ID: "b", Type: "a", Text: "same"}, {ID: "a", Type: "a", Text: "same"}, {ID: "c", Type: "a", Text: "same"}}},
		{"embeddings", []AssignItem{{ID: "1", Type: "a", Embedding: []float32{1, 0}}, {ID: "2", Type: "a", Embedding: []float32{0, 1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Assign(tt.items, AssignOptions{})
			if err != nil {
				t.Fatal(err)
			}
			checkSIDs(t, a, tt.items)
		})
	}
}

func TestAssignFallback(t *testing.T) {
	// Every word of item "odd" appears once, so the vocabulary (min df 2
	// from 20 items on) drops them all.
	var items []AssignItem
	for i := range 30 {
		items = append(items, AssignItem{ID: fmt.Sprintf("i%02d", i), Type: "a", Text: []string{"red bag", "blue shoe", "green hat"}[i%3]})
	}
	items = append(items, AssignItem{ID: "odd", Type: "a", Text: "zebra xylophone"})
	a, err := Assign(items, AssignOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	checkSIDs(t, a, items)
	if a.Report.FallbackItems != 1 || !strings.Contains(a.Report.String(), "fallback: 1 items") {
		t.Errorf("fallback items %d\n%s", a.Report.FallbackItems, a.Report)
	}
	_, codes, err := a.Quantizer.Codes(items[len(items)-1])
	if err != nil {
		t.Fatal(err)
	}
	// The fallback direction depends on the ID only, so re-coding the item
	// finds its level-0 code again.
	if codes[0] != a.SIDs[len(items)-1].Codes[0] {
		t.Errorf("fallback item re-coded to %v, assigned %v", codes, a.SIDs[len(items)-1])
	}
}

func TestQuantizerCodes(t *testing.T) {
	items, sessions, style := demoLike(3)
	a, err := Assign(items, AssignOptions{Seed: 5, Sessions: sessions})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(a.Quantizer)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("quantizer JSON: %d bytes", len(b))
	var q Quantizer
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}

	t.Run("round trip gives the same codes", func(t *testing.T) {
		for _, it := range items[:200] {
			_, c1, err1 := a.Quantizer.Codes(it)
			_, c2, err2 := q.Codes(it)
			if err1 != nil || err2 != nil || !slices.Equal(c1, c2) {
				t.Fatalf("%s: %v %v / %v %v", it.ID, c1, err1, c2, err2)
			}
		}
	})

	t.Run("new items land among their style", func(t *testing.T) {
		// The dominant level-0 code of each (type, style) in the catalog.
		count := map[[2]int]int{}
		for i, s := range a.SIDs {
			count[[2]int{style[i], s.Codes[0]}]++
		}
		top := map[int]int{}
		for k, n := range count {
			if n > count[[2]int{k[0], top[k[0]]}] || n == count[[2]int{k[0], top[k[0]]}] && k[1] < top[k[0]] {
				top[k[0]] = k[1]
			}
		}
		// New items: fresh texts from the same generator (other IDs).
		fresh, _, freshStyle := demoLike(4)
		agree := 0
		for i, it := range fresh[:500] {
			it.ID = "new-" + it.ID
			typ, codes, err := q.Codes(it)
			if err != nil {
				t.Fatal(err)
			}
			if typ != it.Type || len(codes) != q.Levels {
				t.Fatalf("Codes = %q %v", typ, codes)
			}
			// Several codes may share a style; count hits on any code that
			// holds at least a fifth of that style's items.
			n := count[[2]int{freshStyle[i], codes[0]}]
			if n > 0 && n*5 >= count[[2]int{freshStyle[i], top[freshStyle[i]]}] {
				agree++
			}
		}
		t.Logf("%d of 500 new items got a level-0 code common in their style", agree)
		if agree < 350 {
			t.Errorf("only %d of 500 new items landed among their style", agree)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, it := range []AssignItem{
			{ID: "x", Type: "spaceship", Text: "red"},
			{ID: "x", Type: "handbag", Text: "  "},
		} {
			if _, _, err := q.Codes(it); err == nil {
				t.Errorf("Codes(%+v): want error", it)
			}
		}
	})
}

func TestQuantizerCodesEmbedding(t *testing.T) {
	items := []AssignItem{
		{ID: "1", Type: "a", Embedding: []float32{1, 0, 0}},
		{ID: "2", Type: "a", Embedding: []float32{0.9, 0.1, 0}},
		{ID: "3", Type: "a", Embedding: []float32{0, 0, 1}},
		{ID: "4", Type: "a", Embedding: []float32{0, 0.1, 0.9}},
	}
	a, err := Assign(items, AssignOptions{Levels: 2})
	if err != nil {
		t.Fatal(err)
	}
	checkSIDs(t, a, items)
	tests := []struct {
		name string
		emb  []float32
		like int // index of the item whose level-0 code it should get
		err  bool
	}{
		{"near 1", []float32{2, 0.1, 0}, 0, false},
		{"near 3", []float32{0, 0, 3}, 2, false},
		{"wrong dim", []float32{1, 0}, 0, true},
		{"zero", []float32{0, 0, 0}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, codes, err := a.Quantizer.Codes(AssignItem{ID: "n", Type: "a", Embedding: tt.emb, Text: "ignored"})
			if tt.err {
				if err == nil {
					t.Error("want error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if codes[0] != a.SIDs[tt.like].Codes[0] {
				t.Errorf("codes %v, want level 0 of %v", codes, a.SIDs[tt.like])
			}
		})
	}
}

func TestAssignProgress(t *testing.T) {
	items, sessions, _ := demoLike(5)
	items = items[:300]
	sessions = sessions[:0]
	stages := map[string]int{}
	last := 0
	_, err := Assign(items, AssignOptions{Sessions: sessions, Progress: func(stage string, done, total int) {
		stages[stage]++
		if done < last || done > total {
			t.Errorf("progress %s %d/%d after %d", stage, done, total, last)
		}
		last = done
	}})
	if err != nil {
		t.Fatal(err)
	}
	if stages["quantize"] == 0 || len(stages) != 1 {
		t.Errorf("stages %v", stages)
	}
}

// An item with nothing to place it by gets a fallback SID; the others are
// assigned as usual, and the report counts each source.
func TestAssignFallbackItems(t *testing.T) {
	items := []AssignItem{{ID: "1", Type: "a", Text: "red bag"}, {ID: "2", Type: "a"}, {ID: "3", Type: "a", Text: "blue bag"}, {ID: "4", Type: "a", Text: "?? !!"}}
	as, err := Assign(items, AssignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, it := range items {
		s := as.SIDs[i]
		if s.Type == "" {
			t.Fatalf("item %s has no SID", it.ID)
		}
		if seen[s.Key()] {
			t.Fatalf("SID %s given twice", s.Key())
		}
		seen[s.Key()] = true
	}
	if got, want := as.Report.Sources, map[string]int{"text": 2, "fallback": 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("sources %v, want %v", got, want)
	}
	if as.Report.FallbackItems != 2 {
		t.Errorf("fallback items %d, want 2", as.Report.FallbackItems)
	}
}
