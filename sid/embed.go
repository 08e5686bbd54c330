package sid

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"gonum.org/v1/gonum/mat"
)

// F32s is a float32 vector that marshals to JSON as base64 of its
// little-endian bytes: a quantizer holds hundreds of thousands of floats,
// and as JSON numbers they would be four times larger and slow to parse.
// Unmarshal also accepts a plain JSON array of numbers.
type F32s []float32

// MarshalJSON implements json.Marshaler.
func (v F32s) MarshalJSON() ([]byte, error) {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return json.Marshal(base64.StdEncoding.EncodeToString(b))
}

// UnmarshalJSON implements json.Unmarshaler.
func (v *F32s) UnmarshalJSON(data []byte) error {
	if len(data) > 0 && data[0] == '[' {
		var fs []float32
		if err := json.Unmarshal(data, &fs); err != nil {
			return err
		}
		*v = fs
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("sid: float vector: %w", err)
	}
	if len(b)%4 != 0 {
		return errors.New("sid: float vector: length not a multiple of 4")
	}
	out := make(F32s, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	*v = out
	return nil
}

// TextConfig configures FitText. Zero fields take the defaults.
type TextConfig struct {
	Dim        int    // LSA dimensions (default 64; fewer when documents or terms are few)
	Bigrams    bool   // add word bigrams to the unigram terms
	MinDF      int    // minimum document frequency (default 2 from 20 documents on, else 1)
	MaxTerms   int    // vocabulary cap, highest document frequency first (default 50000)
	PowerIters int    // randomized SVD power iterations (default 3)
	Seed       uint64 // random projection seed
}

// TextEmbedder maps item text to a dense vector: sublinear TF-IDF over
// lower-cased word tokens, projected onto the top right singular vectors of
// the training TF-IDF matrix (LSA), centred and L2-normalised. It keeps the
// vocabulary, idf and projection, so text seen later embeds into the same
// space. It is safe for concurrent use once built.
type TextEmbedder struct {
	Dim     int      `json:"dim"`
	Bigrams bool     `json:"bigrams"`
	Terms   []string `json:"terms"` // column order
	IDF     F32s     `json:"idf"`
	Proj    F32s     `json:"proj"` // len(Terms) x Dim, row per term
	Mean    F32s     `json:"mean"` // mean training projection, removed before normalising

	index map[string]int32
}

// UnmarshalJSON restores the embedder and rebuilds its term index.
func (e *TextEmbedder) UnmarshalJSON(data []byte) error {
	type plain TextEmbedder
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	if len(p.IDF) != len(p.Terms) || len(p.Proj) != len(p.Terms)*p.Dim || len(p.Mean) != p.Dim {
		return fmt.Errorf("sid: text embedder: inconsistent sizes (%d terms, %d idf, %d proj, dim %d, %d mean)",
			len(p.Terms), len(p.IDF), len(p.Proj), p.Dim, len(p.Mean))
	}
	*e = TextEmbedder(p)
	e.buildIndex()
	return nil
}

func (e *TextEmbedder) buildIndex() {
	e.index = make(map[string]int32, len(e.Terms))
	for i, t := range e.Terms {
		e.index[t] = int32(i)
	}
}

// tokenize appends the terms of text to dst: lower-cased runs of letters and
// digits of at least two runes (one-letter words carry little meaning), plus
// "a b" bigrams of consecutive kept words when bigrams is set.
func tokenize(text string, bigrams bool, dst []string) []string {
	start := len(dst)
	i := 0
	for i < len(text) {
		r, w := utf8.DecodeRuneInString(text[i:])
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			i += w
			continue
		}
		j, n := i, 0
		for j < len(text) {
			r, w := utf8.DecodeRuneInString(text[j:])
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				break
			}
			j += w
			n++
		}
		if n >= 2 {
			dst = append(dst, strings.ToLower(text[i:j]))
		}
		i = j
	}
	if bigrams {
		end := len(dst)
		for k := start; k+1 < end; k++ {
			dst = append(dst, dst[k]+" "+dst[k+1])
		}
	}
	return dst
}

// csr is a sparse row-major matrix.
type csr struct {
	rows, cols int
	ptr        []int // len rows+1
	idx        []int32
	val        []float64
}

// mul returns a·b (rows x l) for dense b (cols x l).
func (a *csr) mul(b *mat.Dense) *mat.Dense {
	_, l := b.Dims()
	bd := b.RawMatrix()
	out := mat.NewDense(a.rows, l, nil)
	od := out.RawMatrix()
	for i := 0; i < a.rows; i++ {
		orow := od.Data[i*od.Stride : i*od.Stride+l]
		for p := a.ptr[i]; p < a.ptr[i+1]; p++ {
			v := a.val[p]
			brow := bd.Data[int(a.idx[p])*bd.Stride:]
			for c := range orow {
				orow[c] += v * brow[c]
			}
		}
	}
	return out
}

// tmul returns aᵀ·b (cols x l) for dense b (rows x l).
func (a *csr) tmul(b *mat.Dense) *mat.Dense {
	_, l := b.Dims()
	bd := b.RawMatrix()
	out := mat.NewDense(a.cols, l, nil)
	od := out.RawMatrix()
	for i := 0; i < a.rows; i++ {
		brow := bd.Data[i*bd.Stride : i*bd.Stride+l]
		for p := a.ptr[i]; p < a.ptr[i+1]; p++ {
			v := a.val[p]
			orow := od.Data[int(a.idx[p])*od.Stride:]
			for c, bv := range brow {
				orow[c] += v * bv
			}
		}
	}
	return out
}

// orthonormalize replaces the columns of y by an orthonormal basis of their
// span (modified Gram-Schmidt, two passes for stability). Columns that are
// dependent on earlier ones become zero. gonum's QR would build the full
// rows x rows Q, which is far too large for a tall matrix.
func orthonormalize(y *mat.Dense) {
	_, c := y.Dims()
	cols := make([][]float64, c)
	for j := range cols {
		cols[j] = mat.Col(nil, j, y)
	}
	for pass := 0; pass < 2; pass++ {
		for j := range cols {
			before := norm(cols[j])
			for i := 0; i < j; i++ {
				axpy(-dot(cols[i], cols[j]), cols[i], cols[j])
			}
			n := norm(cols[j])
			if n <= 1e-9*before || n == 0 {
				clear(cols[j])
				continue
			}
			scale(1/n, cols[j])
		}
	}
	for j := range cols {
		y.SetCol(j, cols[j])
	}
}

// randomizedSVD returns the top-k singular triplets of a (Halko, Martinsson
// & Tropp 2011): a Gaussian range sketch with oversampling, power iterations
// re-orthonormalised each step, then an exact SVD of the small projected
// matrix. u is rows x k, v is cols x k, s descending.
func randomizedSVD(a *csr, k, iters int, rng *rand.Rand) (u *mat.Dense, s []float64, v *mat.Dense, err error) {
	l := min(k+10, a.rows, a.cols)
	k = min(k, l)
	if k < 1 {
		return nil, nil, nil, errors.New("sid: SVD of an empty matrix")
	}
	omega := mat.NewDense(a.cols, l, nil)
	od := omega.RawMatrix().Data
	for i := range od {
		od[i] = rng.NormFloat64()
	}
	q := a.mul(omega)
	orthonormalize(q)
	for range iters {
		z := a.tmul(q)
		orthonormalize(z)
		q = a.mul(z)
		orthonormalize(q)
	}
	bt := a.tmul(q) // (qᵀa)ᵀ, cols x l
	var svd mat.SVD
	if !svd.Factorize(bt, mat.SVDThin) {
		return nil, nil, nil, errors.New("sid: SVD did not converge")
	}
	var ub, wb mat.Dense
	svd.UTo(&ub)
	svd.VTo(&wb)
	sv := svd.Values(nil)
	// a ≈ q·b = q·wb·Σ·ubᵀ, so u = q·wb and v = ub.
	var uf mat.Dense
	uf.Mul(q, &wb)
	u = mat.DenseCopyOf(uf.Slice(0, a.rows, 0, k))
	v = mat.DenseCopyOf(ub.Slice(0, a.cols, 0, k))
	return u, sv[:k], v, nil
}

var errNoWords = errors.New("sid: no text has any word to embed")

// FitText builds a TextEmbedder from training texts and returns it with the
// embeddings of those texts (zero vectors for texts with no known term).
// It fails only when no text has any term.
func FitText(texts []string, cfg TextConfig) (*TextEmbedder, [][]float32, error) {
	if cfg.Dim <= 0 {
		cfg.Dim = 64
	}
	if cfg.MaxTerms <= 0 {
		cfg.MaxTerms = 50000
	}
	if cfg.PowerIters <= 0 {
		cfg.PowerIters = 3
	}
	n := len(texts)
	minDF := cfg.MinDF
	if minDF <= 0 {
		minDF = 1
		if n >= 20 {
			minDF = 2
		}
	}
	// Pass 1: document frequencies.
	docs := make([][]string, n)
	df := map[string]int{}
	var buf []string
	for i, t := range texts {
		buf = tokenize(t, cfg.Bigrams, buf[:0])
		slices.Sort(buf)
		buf = slices.Compact(buf)
		for _, w := range buf {
			df[w]++
		}
		docs[i] = tokenize(t, cfg.Bigrams, nil)
	}
	type termDF struct {
		term string
		df   int
	}
	pick := func(minDF int) []termDF {
		var out []termDF
		for t, d := range df {
			if d >= minDF {
				out = append(out, termDF{t, d})
			}
		}
		// Highest df first, ties by term, so the cap is deterministic.
		slices.SortFunc(out, func(a, b termDF) int {
			if a.df != b.df {
				return b.df - a.df
			}
			return strings.Compare(a.term, b.term)
		})
		if len(out) > cfg.MaxTerms {
			out = out[:cfg.MaxTerms]
		}
		return out
	}
	terms := pick(minDF)
	if len(terms) == 0 && minDF > 1 {
		terms = pick(1) // tiny or very diverse catalog: keep every term
	}
	if len(terms) == 0 {
		return nil, nil, errNoWords
	}
	slices.SortFunc(terms, func(a, b termDF) int { return strings.Compare(a.term, b.term) })

	e := &TextEmbedder{Bigrams: cfg.Bigrams, Terms: make([]string, len(terms)), IDF: make(F32s, len(terms))}
	for i, t := range terms {
		e.Terms[i] = t.term
		// Smooth idf as in scikit-learn: every term keeps a positive weight.
		e.IDF[i] = float32(math.Log(float64(1+n)/float64(1+t.df)) + 1)
	}
	e.buildIndex()

	// Pass 2: the TF-IDF matrix.
	a := &csr{rows: n, cols: len(terms), ptr: make([]int, n+1)}
	for i, d := range docs {
		ids, vals := e.row(d)
		a.idx = append(a.idx, ids...)
		a.val = append(a.val, vals...)
		a.ptr[i+1] = len(a.idx)
	}
	// Fewer dimensions than documents or terms: the rest would be noise.
	k := min(cfg.Dim, max(1, min(n, len(terms))-1))
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed7e47))
	_, _, v, err := randomizedSVD(a, k, cfg.PowerIters, rng)
	if err != nil {
		return nil, nil, err
	}
	_, k = v.Dims()
	e.Dim = k
	e.Proj = make(F32s, len(terms)*k)
	vd := v.RawMatrix()
	for t := range terms {
		for c := 0; c < k; c++ {
			e.Proj[t*k+c] = float32(vd.Data[t*vd.Stride+c])
		}
	}
	// Embeddings go through the same float32 projection Embed uses, so an
	// item embedded again later lands on exactly the same vector.
	raw := make([][]float64, n)
	mean := make([]float64, k)
	cnt := 0
	for i := range docs {
		ids, vals := a.idx[a.ptr[i]:a.ptr[i+1]], a.val[a.ptr[i]:a.ptr[i+1]]
		if len(ids) == 0 {
			continue
		}
		raw[i] = e.project(ids, vals)
		axpy(1, raw[i], mean)
		cnt++
	}
	scale(1/float64(max(cnt, 1)), mean)
	e.Mean = make(F32s, k)
	for c := range mean {
		e.Mean[c] = float32(mean[c])
	}
	out := make([][]float32, n)
	for i := range raw {
		out[i] = e.finish(raw[i])
	}
	return e, out, nil
}

// row turns a document's tokens into its sparse TF-IDF row: sublinear tf
// (1+ln tf) times idf, L2-normalised. Unknown terms are dropped.
func (e *TextEmbedder) row(tokens []string) ([]int32, []float64) {
	ids := make([]int32, 0, len(tokens))
	for _, t := range tokens {
		if id, ok := e.index[t]; ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var outIDs []int32
	var vals []float64
	for i := 0; i < len(ids); {
		j := i
		for j < len(ids) && ids[j] == ids[i] {
			j++
		}
		outIDs = append(outIDs, ids[i])
		vals = append(vals, (1+math.Log(float64(j-i)))*float64(e.IDF[ids[i]]))
		i = j
	}
	if n := norm(vals); n > 0 {
		scale(1/n, vals)
	}
	return outIDs, vals
}

func (e *TextEmbedder) project(ids []int32, vals []float64) []float64 {
	out := make([]float64, e.Dim)
	for p, id := range ids {
		row := e.Proj[int(id)*e.Dim : int(id+1)*e.Dim]
		v := vals[p]
		for c, f := range row {
			out[c] += v * float64(f)
		}
	}
	return out
}

// finish centres and normalises a projection; nil (no known term) gives zeros.
func (e *TextEmbedder) finish(p []float64) []float32 {
	out := make([]float32, e.Dim)
	if p == nil {
		return out
	}
	for c := range p {
		p[c] -= float64(e.Mean[c])
	}
	n := norm(p)
	if n == 0 {
		return out
	}
	for c := range p {
		out[c] = float32(p[c] / n)
	}
	return out
}

// Embed returns the unit-length embedding of text, or a zero vector when
// none of its words is in the vocabulary.
func (e *TextEmbedder) Embed(text string) []float32 {
	if e.index == nil {
		e.buildIndex()
	}
	ids, vals := e.row(tokenize(text, e.Bigrams, nil))
	if len(ids) == 0 {
		return e.finish(nil)
	}
	return e.finish(e.project(ids, vals))
}

// CoocConfig configures CoocEmbeddings. Zero fields take the defaults.
type CoocConfig struct {
	Dim        int // dimensions (default 64)
	Window     int // items within ±Window positions of a session co-occur (default 5)
	PowerIters int // randomized SVD power iterations (default 3)
	Seed       uint64
}

// CoocEmbeddings embeds n items from interaction sessions (ordered lists of
// item indexes): positive PMI of windowed co-occurrence counts, factored by
// truncated SVD (rows of U·√Σ), L2-normalised. has[i] reports whether item
// i co-occurred with anything; the others get zero vectors. It returns nil
// embeddings when no pair co-occurs at all.
func CoocEmbeddings(n int, sessions [][]int, cfg CoocConfig) (emb [][]float32, has []bool, err error) {
	if cfg.Dim <= 0 {
		cfg.Dim = 64
	}
	if cfg.Window <= 0 {
		cfg.Window = 5
	}
	if cfg.PowerIters <= 0 {
		cfg.PowerIters = 3
	}
	counts := map[uint64]float64{}
	for s, sess := range sessions {
		for p, i := range sess {
			if i < 0 || i >= n {
				return nil, nil, fmt.Errorf("sid: session %d refers to item index %d (have %d items)", s, i, n)
			}
			for q := p + 1; q < len(sess) && q <= p+cfg.Window; q++ {
				j := sess[q]
				if j < 0 || j >= n {
					return nil, nil, fmt.Errorf("sid: session %d refers to item index %d (have %d items)", s, j, n)
				}
				if i == j {
					continue
				}
				lo, hi := min(i, j), max(i, j)
				counts[uint64(lo)<<32|uint64(hi)]++
			}
		}
	}
	has = make([]bool, n)
	if len(counts) == 0 {
		return nil, has, nil
	}
	// Sorted keys: float sums in map order would differ from run to run.
	keys := make([]uint64, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	rowSum := make([]float64, n)
	total := 0.0
	deg := make([]int, n)
	for _, k := range keys {
		i, j, c := int(k>>32), int(k&0xffffffff), counts[k]
		rowSum[i] += c
		rowSum[j] += c
		total += 2 * c
		deg[i]++
		deg[j]++
	}
	// Symmetric CSR of PPMI values, columns sorted within each row.
	a := &csr{rows: n, cols: n, ptr: make([]int, n+1)}
	for i := range n {
		a.ptr[i+1] = a.ptr[i] + deg[i]
		has[i] = deg[i] > 0
	}
	a.idx = make([]int32, a.ptr[n])
	a.val = make([]float64, a.ptr[n])
	fill := slices.Clone(a.ptr[:n])
	put := func(i, j int, v float64) {
		a.idx[fill[i]] = int32(j)
		a.val[fill[i]] = v
		fill[i]++
	}
	// Column order within a row does not matter to the products below; the
	// fill order is fixed by the sorted keys, which keeps sums deterministic.
	for _, k := range keys {
		i, j, c := int(k>>32), int(k&0xffffffff), counts[k]
		pmi := math.Log(c * total / (rowSum[i] * rowSum[j]))
		if pmi < 0 {
			pmi = 0
		}
		put(i, j, pmi)
		put(j, i, pmi)
	}
	active := 0
	for _, h := range has {
		if h {
			active++
		}
	}
	k := min(cfg.Dim, max(1, active-1))
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xc00c))
	u, s, _, err := randomizedSVD(a, k, cfg.PowerIters, rng)
	if err != nil {
		return nil, nil, err
	}
	_, k = u.Dims()
	emb = make([][]float32, n)
	row := make([]float64, k)
	for i := range n {
		emb[i] = make([]float32, k)
		if !has[i] {
			continue
		}
		for c := range k {
			row[c] = u.At(i, c) * math.Sqrt(s[c])
		}
		if nr := norm(row); nr > 0 {
			for c := range k {
				emb[i][c] = float32(row[c] / nr)
			}
		} else {
			has[i] = false // only zero-PMI pairs: nothing to place it by
		}
	}
	return emb, has, nil
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i, x := range a {
		s += x * b[i]
	}
	return s
}

func norm(a []float64) float64 { return math.Sqrt(dot(a, a)) }

func axpy(alpha float64, x, y []float64) {
	for i, v := range x {
		y[i] += alpha * v
	}
}

func scale(alpha float64, x []float64) {
	for i := range x {
		x[i] *= alpha
	}
}
