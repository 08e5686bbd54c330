package plugin

import (
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// listCodec is a tokenizer whose tokens are arbitrary strings.
type listCodec struct{ texts []string }

func (c *listCodec) add(s string) int32 {
	for i, t := range c.texts {
		if t == s {
			return int32(i)
		}
	}
	c.texts = append(c.texts, s)
	return int32(len(c.texts) - 1)
}

func (c *listCodec) decode(t int32) string { return c.texts[t] }

func (c *listCodec) text(toks []int32) string {
	var b strings.Builder
	for _, t := range toks {
		b.WriteString(c.texts[t])
	}
	return b.String()
}

// TestFactGuardHoles: what a hostile review found the guard let through,
// each now refused at its last token: a value spelled across a split
// UTF-8 character, a phrase continued after an abandoned SID span (the
// guard resumes where the text was), and more open matches than the guard
// follows (the 17th is refused rather than followed blind).
func TestFactGuardHoles(t *testing.T) {
	long := strings.TrimSpace(strings.Repeat("a ", 20))
	tests := []struct {
		name   string
		values []string
		own    []string
		toks   []string // all but the last must be allowed; the last masked
		pause  int      // Pause and Resume before this token (0: none)
	}{
		{"split UTF-8", []string{"Étoile", "silver"}, []string{"silver"}, []string{" ", "\xc3", "\x89toile"}, 0},
		{"resume", []string{"white", "white gold"}, []string{"white"}, []string{" white", " gold"}, 1},
		{"resume mid-word", []string{"rose gold", "silver"}, []string{"silver"}, []string{" ro", "se"}, 1},
		{"many matches", []string{long, "a b"}, []string{long}, slices.Repeat([]string{" a"}, 17), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &listCodec{}
			eos := c.add("<eos>")
			ids := make([]int32, len(tc.toks))
			for i, s := range tc.toks {
				ids[i] = c.add(s)
			}
			f := NewFacts(tc.values, c.decode, len(c.texts))
			g := NewFactGuard(f, 4)
			g.SetAllowed(f.ValueIDs(nil, tc.own))
			for i, tok := range ids {
				if tc.pause > 0 && i == tc.pause {
					g.Pause()
					g.Resume()
				}
				logits := make([]float32, len(c.texts))
				g.Process(logits, eos)
				masked := logits[tok] == negInf
				if last := i == len(ids)-1; masked != last {
					t.Fatalf("token %d %q: masked %v", i, tc.toks[i], masked)
				}
				g.Accept(tok)
			}
		})
	}
}

func randCase(rng *rand.Rand, s string) string {
	switch rng.IntN(4) {
	case 0:
		return strings.ToUpper(s)
	case 1:
		if r, n := utf8.DecodeRuneInString(s); n > 0 {
			return strings.ToUpper(string(r)) + s[n:]
		}
	}
	return s
}

// TestFactGuardAdversarial (from a hostile review): tokens are random
// substrings of the values and of values joined by separators, in random
// case, cut anywhere, even inside a UTF-8 character; values hold "é", "’",
// digits, "&" and prefixes of one another. Whatever a random model
// samples under the guard, Check finds no contradiction in the text.
func TestFactGuardAdversarial(t *testing.T) {
	const split = true
	trials := 300
	if v, err := strconv.Atoi(os.Getenv("NEO_FACT_TRIALS")); err == nil && v > 0 {
		trials = v
	}
	rng := rand.New(rand.NewPCG(uint64(trials), 3))
	words := []string{"rose", "gold", "ros", "kestrel", "vane", "castellane", "fils", "14k", "étoile", "lumière", "o’neil", "avant", "garde", "a", "tan", "tang", "noir", "no", "é"}
	seps := []string{" ", " ", " & ", "-", " "}
	fails, dead, runs := 0, 0, 0
	for trial := range trials {
		var values []string
		for range 3 + rng.IntN(8) {
			n := 1 + rng.IntN(3)
			v := words[rng.IntN(len(words))]
			for range n - 1 {
				v += seps[rng.IntN(len(seps))] + words[rng.IntN(len(words))]
			}
			values = append(values, randCase(rng, v))
		}
		c := &listCodec{}
		eos := c.add("<eos>")
		for _, s := range []string{" ", ",", ".", "&", "-", "'", "’", "s", "x", " the", " x", "ly"} {
			c.add(s)
		}
		for ch := 'a'; ch <= 'z'; ch++ {
			c.add(string(ch))
		}
		// random substrings of value texts, joined values and separators
		for range 60 {
			src := values[rng.IntN(len(values))]
			if rng.IntN(3) == 0 {
				src += seps[rng.IntN(len(seps))] + values[rng.IntN(len(values))]
			}
			src = randCase(rng, " "+src+[]string{"", ",", " ", "s", "."}[rng.IntN(5)])
			i := rng.IntN(len(src))
			j := i + 1 + rng.IntN(len(src)-i)
			tok := src[i:j]
			if !split && (!utf8.ValidString(tok)) {
				continue
			}
			c.add(tok)
		}
		f := NewFacts(values, c.decode, len(c.texts))
		var mine []string
		for _, v := range values {
			if rng.IntN(3) == 0 {
				mine = append(mine, v)
			}
		}
		own := f.ValueIDs(nil, mine)
		for range 10 {
			runs++
			g := NewFactGuard(f, 16)
			g.SetAllowed(own)
			var out []int32
			for step := 0; step < 40; step++ {
				logits := make([]float32, len(c.texts))
				for i := range logits {
					logits[i] = float32(rng.NormFloat64()) * 2
				}
				g.Process(logits, eos)
				alive := 0
				for i, v := range logits {
					if v != negInf && int32(i) != eos {
						alive++
					}
				}
				if alive == 0 {
					dead++
					if dead <= 3 {
						t.Logf("all masked: values %q own %q after %q (pending %d, eos masked %v)", values, mine, c.text(out), g.Pending(), logits[eos] == negInf)
					}
					break
				}
				tok := sampleLogits(logits, rng)
				if tok == eos {
					break
				}
				g.Accept(tok)
				out = append(out, tok)
			}
			out = out[:len(out)-g.Pending()]
			text := c.text(out)
			if _, n, bad := f.Check(text, own); n > 0 {
				fails++
				if fails <= 5 {
					var parts []string
					for _, tk := range out {
						parts = append(parts, strconv.Quote(c.texts[tk]))
					}
					t.Errorf("trial %d values %q own %q: %q -> %v\n tokens %s", trial, values, mine, text, bad, strings.Join(parts, " "))
				}
			}
		}
	}
	t.Logf("%d runs, %d contradictions, %d runs with every text token masked", runs, fails, dead)
}
