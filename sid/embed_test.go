package sid

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestTokenize(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		bigrams bool
		want    []string
	}{
		{"words", "Gold Handbag, small", false, []string{"gold", "handbag", "small"}},
		{"drops one-rune words", "a B cd 7 42", false, []string{"cd", "42"}},
		{"unicode", "Crème brûlée", false, []string{"crème", "brûlée"}},
		{"bigrams", "red leather bag", true, []string{"red", "leather", "bag", "red leather", "leather bag"}},
		{"empty", " ,;", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tokenize(tt.text, tt.bigrams, nil)
			if !slices.Equal(got, tt.want) {
				t.Errorf("tokenize(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestF32sJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want F32s
	}{
		{"array", `[1, -2.5, 0]`, F32s{1, -2.5, 0}},
		{"empty array", `[]`, F32s{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got F32s
			if err := json.Unmarshal([]byte(tt.in), &got); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("round trip", func(t *testing.T) {
		in := F32s{1.5, float32(math.Pi), -1e-30, 0}
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out F32s
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(in, out) {
			t.Errorf("round trip %v -> %s -> %v", in, b, out)
		}
	})
	t.Run("bad", func(t *testing.T) {
		var out F32s
		if err := json.Unmarshal([]byte(`"AAA"`), &out); err == nil {
			t.Error("want error for truncated base64")
		}
	})
}

// randomCSR is a sparse rows x cols matrix with about density·rows·cols
// non-zeros, and its dense copy.
func randomCSR(rng *rand.Rand, rows, cols int, density float64) (*csr, *mat.Dense) {
	a := &csr{rows: rows, cols: cols, ptr: make([]int, rows+1)}
	d := mat.NewDense(rows, cols, nil)
	for i := range rows {
		for j := range cols {
			if rng.Float64() < density {
				v := rng.NormFloat64()
				a.idx = append(a.idx, int32(j))
				a.val = append(a.val, v)
				d.Set(i, j, v)
			}
		}
		a.ptr[i+1] = len(a.idx)
	}
	return a, d
}

func TestRandomizedSVD(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name       string
		rows, cols int
		k          int
	}{
		{"tall", 120, 40, 8},
		{"wide", 40, 150, 8},
		{"k above rank", 12, 9, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, d := randomCSR(rng, tt.rows, tt.cols, 0.2)
			var exact mat.SVD
			if !exact.Factorize(d, mat.SVDNone) {
				t.Fatal("exact SVD failed")
			}
			want := exact.Values(nil)
			u, s, v, err := randomizedSVD(a, tt.k, 4, rand.New(rand.NewPCG(3, 4)))
			if err != nil {
				t.Fatal(err)
			}
			k := len(s)
			if k != min(tt.k, tt.rows, tt.cols) {
				t.Fatalf("got %d values", k)
			}
			for i := range min(k, 4) {
				if math.Abs(s[i]-want[i]) > 1e-3*want[0] {
					t.Errorf("σ%d = %g, want %g", i, s[i], want[i])
				}
			}
			// Columns of u and v are orthonormal.
			for _, m := range []*mat.Dense{u, v} {
				var g mat.Dense
				g.Mul(m.T(), m)
				for i := range k {
					for j := range k {
						w := 0.0
						if i == j && s[i] > 1e-9 {
							w = 1
						}
						if i != j || s[i] > 1e-9 {
							if math.Abs(g.At(i, j)-w) > 1e-6 {
								t.Fatalf("gram[%d,%d] = %g", i, j, g.At(i, j))
							}
						}
					}
				}
			}
		})
	}
}

func TestFitText(t *testing.T) {
	texts := []string{
		"red leather handbag with gold chain",
		"black leather handbag with silver chain",
		"brown leather handbag small",
		"running shoe with foam sole",
		"trail running shoe waterproof",
		"leather shoe formal black",
		"silk scarf floral print",
		"wool scarf winter warm",
		"",
	}
	e, emb, err := FitText(texts, TextConfig{Dim: 4, Bigrams: true, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if e.Dim != 4 || len(emb) != len(texts) {
		t.Fatalf("dim %d, %d embeddings", e.Dim, len(emb))
	}
	cos := func(a, b []float32) float64 {
		s := 0.0
		for i := range a {
			s += float64(a[i]) * float64(b[i])
		}
		return s
	}
	t.Run("unit rows, zero for empty text", func(t *testing.T) {
		for i, v := range emb {
			n := math.Sqrt(cos(v, v))
			want := 1.0
			if texts[i] == "" {
				want = 0
			}
			if math.Abs(n-want) > 1e-5 {
				t.Errorf("text %d: norm %g, want %g", i, n, want)
			}
		}
	})
	t.Run("Embed reproduces training embeddings", func(t *testing.T) {
		for i, s := range texts {
			if got := e.Embed(s); !slices.Equal(got, emb[i]) {
				t.Errorf("Embed(%q) = %v, fit gave %v", s, got, emb[i])
			}
		}
	})
	t.Run("similar texts are closer", func(t *testing.T) {
		bag := e.Embed("leather handbag gold")
		if cb, cs := cos(bag, emb[0]), cos(bag, emb[7]); cb <= cs {
			t.Errorf("handbag query: cos to handbag %.3f <= cos to scarf %.3f", cb, cs)
		}
		if z := e.Embed("zebra xylophone"); cos(z, z) != 0 {
			t.Errorf("unknown words: want zero vector, got %v", z)
		}
	})
	t.Run("JSON round trip", func(t *testing.T) {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var back TextEmbedder
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		for _, s := range texts {
			if got, want := back.Embed(s), e.Embed(s); !slices.Equal(got, want) {
				t.Errorf("after round trip Embed(%q) = %v, want %v", s, got, want)
			}
		}
		if err := json.Unmarshal([]byte(`{"dim":2,"terms":["a"],"idf":[1],"proj":[1],"mean":[0,0]}`), &back); err == nil {
			t.Error("inconsistent sizes: want error")
		}
	})
	t.Run("no words", func(t *testing.T) {
		if _, _, err := FitText([]string{"", "- 1 ,"}, TextConfig{}); err == nil {
			t.Error("want error")
		}
	})
}

// TestFitTextScale runs LSA on a catalog-sized sparse problem (10k
// documents, about 20k terms) to keep the randomized SVD path exercised at
// size; it takes about a second.
func TestFitTextScale(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	texts := make([]string, 10000)
	var b strings.Builder
	for i := range texts {
		b.Reset()
		topic := rng.IntN(50)
		for range 12 {
			// Zipf-ish words within a topic vocabulary of 400.
			w := topic*400 + int(400*math.Pow(rng.Float64(), 3))
			b.WriteString(" w")
			b.WriteString(strings.Repeat("x", w%7))
			b.WriteString(string(rune('a' + w%26)))
			b.WriteString(string(rune('a' + (w/26)%26)))
			b.WriteString(string(rune('a' + (w/676)%26)))
		}
		texts[i] = b.String()
	}
	e, emb, err := FitText(texts, TextConfig{Dim: 64, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d terms, dim %d", len(e.Terms), e.Dim)
	if len(e.Terms) < 10000 || e.Dim != 64 || len(emb) != len(texts) {
		t.Errorf("%d terms, dim %d, %d embeddings", len(e.Terms), e.Dim, len(emb))
	}
}

func TestCoocEmbeddings(t *testing.T) {
	// Items 0-4 co-occur among themselves, 5-9 among themselves, 10 never.
	var sessions [][]int
	rng := rand.New(rand.NewPCG(1, 1))
	for s := range 40 {
		base := 5 * (s % 2)
		sess := make([]int, 6)
		for i := range sess {
			sess[i] = base + rng.IntN(5)
		}
		sessions = append(sessions, sess)
	}
	emb, has, err := CoocEmbeddings(11, sessions, CoocConfig{Dim: 4, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	cos := func(i, j int) float64 {
		s := 0.0
		for c := range emb[i] {
			s += float64(emb[i][c]) * float64(emb[j][c])
		}
		return s
	}
	if has[10] || !has[0] || !has[9] {
		t.Errorf("has = %v", has)
	}
	minSame, maxCross := 1.0, -1.0
	for i := 0; i < 10; i++ {
		for j := i + 1; j < 10; j++ {
			if (i < 5) == (j < 5) {
				minSame = min(minSame, cos(i, j))
			} else {
				maxCross = max(maxCross, cos(i, j))
			}
		}
	}
	t.Logf("min same-cluster cosine %.3f, max cross-cluster %.3f", minSame, maxCross)
	if minSame <= maxCross+0.1 {
		t.Errorf("clusters not separated: min same-cluster cosine %.3f, max cross-cluster %.3f", minSame, maxCross)
	}
	if cos(10, 10) != 0 {
		t.Error("item without interactions: want zero vector")
	}

	t.Run("errors and empty", func(t *testing.T) {
		if _, _, err := CoocEmbeddings(3, [][]int{{0, 3}}, CoocConfig{}); err == nil {
			t.Error("out-of-range index: want error")
		}
		emb, has, err := CoocEmbeddings(3, [][]int{{1}, {2, 2}}, CoocConfig{})
		if err != nil || emb != nil || slices.Contains(has, true) {
			t.Errorf("no pairs: got %v %v %v", emb, has, err)
		}
	})
}
