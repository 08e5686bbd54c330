package plugin

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// wordCodec is a toy tokenizer: " word" and "word" pieces, punctuation
// and word continuations ("ish", "s") are tokens of their own.
type wordCodec struct {
	ids   map[string]int32
	texts []string
}

func newWordCodec(words ...string) *wordCodec {
	c := &wordCodec{ids: map[string]int32{}}
	add := func(s string) {
		if _, ok := c.ids[s]; !ok {
			c.ids[s] = int32(len(c.texts))
			c.texts = append(c.texts, s)
		}
	}
	add("<eos>")
	add("<unk>")
	for _, w := range words {
		for _, v := range []string{w, strings.ToLower(w), strings.ToUpper(w[:1]) + w[1:]} {
			add(" " + v)
			add(v)
		}
	}
	for _, s := range []string{",", ".", " the", " a", " from", " by", "ish", "s", " collection"} {
		add(s)
	}
	return c
}

func (c *wordCodec) encode(s string) ([]int32, error) {
	var out []int32
	for i, w := range strings.Split(s, " ") {
		if w == "" {
			continue
		}
		piece := w
		if i > 0 {
			piece = " " + w
		}
		id, ok := c.ids[piece]
		if !ok {
			id = c.ids["<unk>"]
		}
		out = append(out, id)
	}
	return out, nil
}

func (c *wordCodec) decode(t int32) string {
	if int(t) >= len(c.texts) {
		return ""
	}
	return c.texts[t]
}

func (c *wordCodec) text(toks []int32) string {
	var b strings.Builder
	for _, t := range toks {
		b.WriteString(c.texts[t])
	}
	return b.String()
}

func TestFactGuard(t *testing.T) {
	values := []string{"rose", "rose gold", "silver", "silver grey", "black", "Atelier Noor", "Maison Aurel", "necklace"}
	c := newWordCodec("rose", "gold", "silver", "grey", "black", "Atelier", "Noor", "Maison", "Aurel", "necklace", "atelier", "noor", "maison", "aurel", "lovely")
	f := NewFacts(values, c.decode, len(c.texts)+16)
	own := f.ValueIDs(nil, []string{"silver grey", "atelier noor", "necklace"})
	if len(own) != 3 {
		t.Fatalf("own %v", own)
	}
	tok := func(s string) int32 { return c.ids[s] }
	eos := tok("<eos>")
	tests := []struct {
		name    string
		prefix  []string // tokens written after the item
		allowed []string
		masked  []string
	}{
		{"start", nil, []string{" silver", " Atelier", " the", " lovely", " necklace"}, []string{" black", " rose", " Black", " Maison", " maison"}},
		{"inside own", []string{" silver"}, []string{" grey", "ish", "s"}, []string{" the", ",", "<eos>", " gold"}},
		{"own complete", []string{" silver", " grey"}, []string{" the", ",", "<eos>", " necklace"}, []string{" black"}},
		{"own brand", []string{" Atelier"}, []string{" Noor"}, []string{}},
		{"after a word", []string{" lovely"}, []string{" silver", ","}, []string{" rose"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewFactGuard(f, 8)
			g.SetAllowed(own)
			for _, p := range tc.prefix {
				g.Accept(tok(p))
			}
			logits := make([]float32, len(c.texts)+16)
			g.Process(logits, eos)
			for _, a := range tc.allowed {
				if logits[tok(a)] == negInf {
					t.Errorf("%q masked after %q", a, tc.prefix)
				}
			}
			for _, m := range tc.masked {
				if logits[tok(m)] != negInf {
					t.Errorf("%q allowed after %q", m, tc.prefix)
				}
			}
		})
	}
	t.Run("pending", func(t *testing.T) {
		g := NewFactGuard(f, 8)
		g.SetAllowed(f.ValueIDs(nil, []string{"rose gold"}))
		g.Accept(tok(" rose")) // "rose" alone is another value
		if g.Pending() != 1 {
			t.Fatalf("pending %d, want 1", g.Pending())
		}
		g.Accept(tok(" gold"))
		if g.Pending() != 0 {
			t.Fatalf("pending %d after rose gold", g.Pending())
		}
	})
	t.Run("pause", func(t *testing.T) {
		g := NewFactGuard(f, 8)
		g.SetAllowed(own)
		g.Pause()
		logits := make([]float32, len(c.texts)+16)
		g.Process(logits, eos)
		if logits[tok(" black")] == negInf {
			t.Fatal("a paused guard masks")
		}
		g.Resume()
		g.Process(logits, eos)
		if logits[tok(" black")] != negInf {
			t.Fatal("a resumed guard does not mask")
		}
	})
}

func TestFactsCheck(t *testing.T) {
	c := newWordCodec("rose", "gold", "Maison", "Aurel", "black")
	f := NewFacts([]string{"rose", "rose gold", "Maison Aurel", "black"}, c.decode, len(c.texts)+32)
	own := f.ValueIDs(nil, []string{"rose gold"})
	tests := []struct {
		text     string
		mentions int
		bad      []string
	}{
		{", a Rose Gold ring by Maison Aurel.", 2, []string{"maison aurel"}},
		{", a rose goldish ring", 1, []string{"rose"}}, // "rose" then "goldish": not rose gold
		{", a blackberry ring in roses", 0, nil},
		{"black", 1, []string{"black"}},
		{"", 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			m, n, bad := f.Check(tc.text, own)
			if m != tc.mentions || n != len(tc.bad) || !slices.Equal(bad, tc.bad) {
				t.Fatalf("Check(%q) = %d mentions, %d contradictions %v; want %d, %v", tc.text, m, n, bad, tc.mentions, tc.bad)
			}
		})
	}
}

// TestFactGuardProperty: over random catalogs of values and random
// "models" (random logits every step, temperature sampling), the text
// written under the guard after naming an item never names another
// item's value, as Check reads it.
func TestFactGuardProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	words := []string{"rose", "gold", "silver", "grey", "black", "pearl", "noor", "aurel", "vane", "kestrel", "prism", "tempest", "green", "forest", "leather"}
	for trial := range 60 {
		c := newWordCodec(words...)
		var values []string
		for range 4 + rng.IntN(12) {
			n := 1 + rng.IntN(3)
			var ws []string
			for range n {
				ws = append(ws, words[rng.IntN(len(words))])
			}
			values = append(values, strings.Join(ws, " "))
		}
		f := NewFacts(values, c.decode, len(c.texts))
		var mine []string
		for _, v := range values {
			if rng.IntN(3) == 0 {
				mine = append(mine, v)
			}
		}
		own := f.ValueIDs(nil, mine)
		eos := c.ids["<eos>"]
		for range 20 {
			g := NewFactGuard(f, 16)
			g.SetAllowed(own)
			var out []int32
			for step := 0; step < 30; step++ {
				logits := make([]float32, len(c.texts))
				for i := range logits {
					logits[i] = float32(rng.NormFloat64())
				}
				g.Process(logits, eos)
				tok := sampleLogits(logits, rng)
				if tok == eos {
					break
				}
				g.Accept(tok)
				out = append(out, tok)
			}
			if k := g.Pending(); k > 0 {
				out = out[:len(out)-k]
			}
			text := c.text(out)
			if _, n, bad := f.Check(text, own); n > 0 {
				t.Fatalf("trial %d: values %q, own %q: %q contradicts with %v", trial, values, mine, text, bad)
			}
		}
	}
}

func sampleLogits(logits []float32, rng *rand.Rand) int32 {
	var z float64
	for _, v := range logits {
		if v != negInf {
			z += math.Exp(float64(v))
		}
	}
	u := rng.Float64() * z
	for i, v := range logits {
		if v == negInf {
			continue
		}
		if u -= math.Exp(float64(v)); u <= 0 {
			return int32(i)
		}
	}
	for i := len(logits) - 1; i >= 0; i-- {
		if logits[i] != negInf {
			return int32(i)
		}
	}
	return 0
}
