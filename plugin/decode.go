package plugin

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/neo-search/neo/index"
)

// BeamSearch candidates: one expansion of one beam.
type beamCand struct {
	beam  int
	tok   int32
	score float64
}

// rankedList answers an ids-format request with constrained beam search
// over one SID span: every beam is a distinct SID prefix, every expansion
// a trie child that still leads to an allowed item, so the finished beams
// are distinct allowed items ranked by their summed log-probabilities. All
// SIDs have the same length, so no length normalisation is needed. With
// width ≥ k the list has k items whenever k allowed items exist.
//
// With fusion, each expansion also adds the experts' FusionGain, so the
// finished beams rank by log p_model + Σ_j λ_j·log P_j(item).
func (e *Engine) rankedList(ctx context.Context, req *Request, snap *index.Snapshot, set TrieSet, opts RowOptions, fut *fusionFuture, prompt []int32, resp *Response, emit func(Segment) error) error {
	width := req.BeamWidth
	rows := make([]RowOptions, width)
	for i := range rows {
		rows[i] = opts
	}
	proc, err := NewLogitsProcessor(e.meta.SID, e.sp, set, rows)
	if err != nil {
		return err
	}
	if !proc.canOpen(&proc.rows[0]) {
		return nil // no allowed item: an empty list, not an error
	}
	// The ids format forces [SID] first, so it is prefilled with the prompt.
	open := e.meta.SID.Open
	if _, _, err := proc.Accept(0, open); errors.Is(err, ErrDeadEnd) {
		return nil // every allowed item went away since canOpen: an empty list
	} else if err != nil {
		return err
	}
	t0 := time.Now()
	st, err := e.sched.prefill(ctx, [][]int32{append(prompt[:len(prompt):len(prompt)], open)})
	resp.Timing.prefilled(t0)
	if err != nil {
		return err
	}
	defer func() {
		if st != nil {
			st.Close()
		}
	}()
	fus, err := fut.wait()
	if err != nil {
		return err
	}
	proc.fusion = fus
	e.tokens.Add(1)
	decoded := 1 // tokens fed to the model for this answer, [SID] included
	defer func() { resp.Tokens = decoded }()
	scores := []float64{0}
	spanLen := proc.levels + 1 // type token + code levels
	stale := false             // st's logits are one token behind (skipped step)
	var cands []beamCand
	allowed := make([]int32, 0, 256)
	for depth := 0; depth < spanLen; depth++ {
		cands = cands[:0]
		for b := range scores {
			t0 := time.Now()
			allowed = proc.AllowedSID(b, allowed[:0])
			e.procNanos.Add(int64(time.Since(t0)))
			if len(allowed) == 0 {
				continue // dead end (items went away meanwhile): the beam dies
			}
			if stale {
				// every beam's token here is forced (see below): it adds
				// log 1 under the constrained distribution
				cands = append(cands, beamCand{b, allowed[0], scores[b] + proc.FusionGain(b, allowed[0])})
				continue
			}
			logits := st.Logits(b)
			lse := logSumExp(logits)
			for _, t := range allowed {
				cands = append(cands, beamCand{b, t, scores[b] + float64(logits[t]) - lse + proc.FusionGain(b, t)})
			}
		}
		if len(cands) == 0 {
			return nil
		}
		sort.SliceStable(cands, func(a, b int) bool { return cands[a].score > cands[b].score })
		if len(cands) > width {
			cands = cands[:width]
		}
		parents := make([]int, len(cands))
		toks := make([]int32, len(cands))
		next := make([]float64, len(cands))
		for i, c := range cands {
			parents[i], toks[i], next[i] = c.beam, c.tok, c.score
		}
		t0 := time.Now()
		proc.Reorder(parents)
		for i, t := range toks {
			if _, _, err := proc.Accept(i, t); err != nil {
				return err
			}
		}
		e.procNanos.Add(int64(time.Since(t0)))
		scores = next
		if depth < spanLen-1 {
			// When the next token is forced for every beam (the collision
			// level of an SID no other item shares), its logits are not
			// needed: skip the model step.
			if depth+1 == spanLen-1 && allForced(proc, len(scores), allowed[:0]) {
				stale = true
				continue
			}
			if err := st.Reorder(parents); err != nil {
				return err
			}
			next, err := e.sched.step(ctx, st, toks)
			if err != nil {
				return err // st is unchanged and still ours: the deferred Close releases it
			}
			st = next
			e.tokens.Add(int64(len(toks)))
			decoded += len(toks)
			resp.Timing.firstToken()
		}
	}
	var ems []Emitted
	var emScores []float64
	for b := range scores {
		if len(ems) == req.K {
			break
		}
		em, ok, err := proc.Accept(b, e.meta.SID.Close)
		if err != nil || !ok {
			continue // went away after its last code: never emit it
		}
		ems = append(ems, em)
		emScores = append(emScores, scores[b])
	}
	items, err := e.resolve(snap, set, ems, emScores, fus, req.Explain)
	if err != nil {
		return err
	}
	for i := range items {
		resp.Items = append(resp.Items, items[i])
		seg := Segment{Item: &items[i]}
		resp.Segments = append(resp.Segments, seg)
		if emit != nil {
			if err := emit(seg); err != nil {
				return err
			}
		}
	}
	return nil
}

// allForced reports whether each of the first n rows has exactly one
// allowed token next.
func allForced(proc *LogitsProcessor, n int, buf []int32) bool {
	for b := 0; b < n; b++ {
		if buf = proc.AllowedSID(b, buf[:0]); len(buf) != 1 {
			return false
		}
	}
	return true
}

// lseCut: terms more than this far below the max are left out of
// logSumExp; together they change the result by less than V·e^-lseCut
// (under 1e-5 for a 10k vocabulary), far below any score difference that
// matters for ranking.
const lseCut = 25

// logSumExp is log Σ exp(x). It runs once per beam row and step over the
// whole vocabulary, so it uses expNeg, a polynomial exp, instead of
// math.Exp.
func logSumExp(x []float32) float64 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	if math.IsInf(float64(m), -1) {
		return math.Inf(-1)
	}
	var s float64
	floor := m - lseCut
	for _, v := range x {
		if v > floor {
			s += float64(expNeg(v - m))
		}
	}
	return float64(m) + math.Log(s)
}

// expNeg is exp(d) for -lseCut ≤ d ≤ 0, relative error below 2e-6 (a
// 1e-6 change of a log-probability, far below what reorders beams):
// exp(d) = 2^n · 2^f with n = floor(d·log2 e) and the degree-7 Taylor
// polynomial of 2^f on [0,1).
func expNeg(d float32) float32 {
	y := d * 1.442695041
	n := float32(math.Floor(float64(y)))
	f := y - n
	p := float32(1.525273380405984e-5)
	p = p*f + 1.540353039338161e-4
	p = p*f + 1.333355814642844e-3
	p = p*f + 9.618129107628477e-3
	p = p*f + 5.550410866482158e-2
	p = p*f + 2.402265069591007e-1
	p = p*f + 6.931471805599453e-1
	p = p*f + 1.0
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// sample answers text and mixed requests token by token: greedy at
// temperature 0, else temperature + top-p sampling, always under the
// LogitsProcessor. Text streams out in chunks, items as soon as their SID
// closes.
func (e *Engine) sample(ctx context.Context, req *Request, snap *index.Snapshot, set TrieSet, opts RowOptions, fut *fusionFuture, prompt []int32, resp *Response, emit func(Segment) error) error {
	proc, err := NewLogitsProcessor(e.meta.SID, e.sp, set, []RowOptions{opts})
	if err != nil {
		return err
	}
	t0 := time.Now()
	st, err := e.sched.prefill(ctx, [][]int32{prompt})
	resp.Timing.prefilled(t0)
	if err != nil {
		return err
	}
	e.sched.beginSampling()
	defer func() {
		e.sched.endSampling()
		if st != nil {
			st.Close()
		}
	}()
	fus, err := fut.wait()
	if err != nil {
		return err
	}
	proc.fusion = fus
	guard, facts := e.newFactGuard(req, snap)
	var factBuf []int32
	seed := req.Seed
	if seed == 0 {
		seed = uint64(len(prompt))*0x9e3779b97f4a7c15 + uint64(prompt[len(prompt)-1])
	}
	rng := rand.New(rand.NewPCG(seed, 0x6e656f))
	var (
		gen       []int32 // generated tokens
		textRun   []int32 // current run of text tokens
		sent      int     // bytes of the current text run already streamed
		spanStart = -1
		spanLP    float64
		retries   int
		textBuf   strings.Builder
	)
	flushText := func(final bool) error {
		if len(textRun) == 0 {
			return nil
		}
		s := e.tok.Decode(textRun)
		if !final && !utf8.ValidString(s) {
			return nil
		}
		if len(s) > sent {
			chunk := s[sent:]
			sent = len(s)
			if emit != nil {
				if err := emit(Segment{Text: chunk}); err != nil {
					return err
				}
			}
		}
		if final {
			textBuf.WriteString(s)
			resp.Segments = append(resp.Segments, Segment{Text: s})
			textRun, sent = textRun[:0], 0
		}
		return nil
	}
	// rewind abandons the current SID span after a dead end (its items went
	// away while decoding): the model is re-prefilled with the prompt and
	// the tokens before [SID]. false: too many dead ends, stop the answer.
	rewind := func() (bool, error) {
		if retries++; retries > 3 || spanStart < 0 {
			return false, nil
		}
		proc.AbandonSID(0)
		if guard != nil {
			guard.Resume()
		}
		gen = gen[:spanStart]
		spanStart = -1
		st.Close()
		full := append(append([]int32(nil), prompt...), gen...)
		var err error
		t0 := time.Now()
		st, err = e.sched.prefill(ctx, [][]int32{full})
		resp.Timing.prefilled(t0)
		return err == nil, err
	}
	// room past the budget to finish an SID span or a value phrase
	hardStop := req.MaxTokens + proc.levels + 2 + factSlack
	for n := 0; n < hardStop; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		inSID := proc.InSID(0)
		if n >= req.MaxTokens && !inSID && (guard == nil || guard.Pending() == 0) {
			break
		}
		logits := st.Logits(0)
		var lse float64
		if inSID {
			lse = logSumExp(logits)
		}
		t0 := time.Now()
		nAllowed := proc.Process(0, logits)
		proc.ApplyFusion(0, logits)
		if guard != nil && !inSID {
			guard.Process(logits, e.sp.EOS, e.meta.SID.Open)
			if !anyFinite(logits) {
				// nothing true can follow (a value the vocabulary cannot
				// finish): end the answer; its unfinished phrase is dropped
				e.procNanos.Add(int64(time.Since(t0)))
				break
			}
		}
		e.procNanos.Add(int64(time.Since(t0)))
		if nAllowed == 0 {
			if ok, err := rewind(); err != nil {
				return err
			} else if !ok {
				break
			}
			continue
		}
		tok := pick(logits, req.Temperature, req.TopP, rng)
		t0 = time.Now()
		em, closed, err := proc.Accept(0, tok)
		e.procNanos.Add(int64(time.Since(t0)))
		if errors.Is(err, ErrDeadEnd) {
			if tok == e.meta.SID.Open {
				continue // nothing was fed: Process masks [SID] on these logits now
			}
			if ok, err := rewind(); err != nil {
				return err
			} else if !ok {
				break
			}
			continue
		}
		if err != nil {
			return err
		}
		e.tokens.Add(1)
		resp.Timing.firstToken()
		if tok == e.sp.EOS {
			break
		}
		switch {
		case tok == e.meta.SID.Open:
			if err := flushText(true); err != nil {
				return err
			}
			spanStart, spanLP = len(gen), 0
			if guard != nil {
				guard.Pause()
			}
		case inSID:
			spanLP += float64(logits[tok]) - lse
		default:
			if guard != nil {
				guard.Accept(tok)
			}
			textRun = append(textRun, tok)
			if err := flushText(false); err != nil {
				return err
			}
		}
		gen = append(gen, tok)
		if closed {
			resolved, err := e.resolve(snap, set, []Emitted{em}, []float64{spanLP}, fus, req.Explain)
			if err != nil {
				return err
			}
			it := resolved[0]
			if guard != nil {
				// the text after an item may only state its own values
				sp := fieldSpellings(it.Fields)
				factBuf = facts.ValueIDs(factBuf[:0], sp)
				guard.SetAllowed(factBuf)
				e.learnFacts(facts, sp)
			}
			resp.Items = append(resp.Items, it)
			seg := Segment{Item: &it}
			resp.Segments = append(resp.Segments, seg)
			textBuf.WriteString(it.SID) // the text form names the item in place
			spanStart = -1
			if emit != nil {
				if err := emit(seg); err != nil {
					return err
				}
			}
		}
		next, err := e.sched.stepSampled(ctx, st, tok)
		if err != nil {
			return err // st is unchanged and still ours: the deferred Close releases it
		}
		st = next
	}
	if guard != nil {
		// cut off inside another value's phrase: drop the phrase (a
		// stream has sent it already; the answer's text does not keep it)
		if k := guard.Pending(); k > 0 && k <= len(textRun) {
			textRun = textRun[:len(textRun)-k]
			sent = min(sent, len(e.tok.Decode(textRun)))
		}
	}
	if err := flushText(true); err != nil {
		return err
	}
	resp.Text = textBuf.String()
	resp.Tokens = len(gen)
	if guard != nil {
		resp.FactInterventions = guard.Interventions
	}
	return nil
}

// factSlack is how many tokens past max_tokens an answer may take to end a
// value phrase the fact guard does not let it end where it is.
const factSlack = 8

// newFactGuard is the fact guard of a text or mixed answer (nil when the
// catalog's values cannot be read): explain may state the history items'
// values from the start; mixed and text are free until they name an item.
func (e *Engine) newFactGuard(req *Request, snap *index.Snapshot) (*FactGuard, *Facts) {
	if e.cfg.NoFactGuard {
		return nil, nil
	}
	f, err := e.facts()
	if err != nil || f == nil {
		return nil, nil
	}
	g := NewFactGuard(f, 256)
	if req.Task == TaskExplain {
		_, ords, err := resolveHistory(snap, req.History, nil)
		if err != nil {
			return g, f
		}
		ids := make([]string, len(ords))
		for i, o := range ords {
			ids[i] = snap.ID(o)
		}
		docs, err := e.cat.GetMany(ids)
		if err != nil {
			return g, f
		}
		var sp []string
		for _, d := range docs {
			sp = append(sp, Spellings(d)...)
		}
		g.SetAllowed(f.ValueIDs(nil, sp))
	}
	return g, f
}

// anyFinite reports whether some token is still allowed.
func anyFinite(logits []float32) bool {
	for _, v := range logits {
		if !math.IsInf(float64(v), -1) {
			return true
		}
	}
	return false
}

// pick chooses a token from masked logits: argmax at temperature 0, else a
// sample from the temperature-scaled distribution cut to its top-p mass.
func pick(logits []float32, temp, topP float64, rng *rand.Rand) int32 {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	if temp <= 0 {
		return int32(best)
	}
	type tp struct {
		id int32
		p  float64
	}
	var c []tp
	m := float64(logits[best])
	var z float64
	for i, v := range logits {
		if math.IsInf(float64(v), -1) {
			continue
		}
		p := math.Exp((float64(v) - m) / temp)
		c = append(c, tp{int32(i), p})
		z += p
	}
	sort.Slice(c, func(a, b int) bool { return c[a].p > c[b].p })
	cut, acc := len(c), 0.0
	for i := range c {
		acc += c[i].p / z
		if acc >= topP {
			cut = i + 1
			break
		}
	}
	if len(c) == 0 {
		return int32(best) // nothing allowed: the caller checks anyFinite first
	}
	c = c[:cut]
	var tot float64
	for _, x := range c {
		tot += x.p
	}
	u := rng.Float64() * tot
	for _, x := range c {
		if u -= x.p; u <= 0 {
			return x.id
		}
	}
	return c[len(c)-1].id
}
