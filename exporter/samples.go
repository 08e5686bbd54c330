package exporter

import (
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/neo-search/neo/index/folder"
	"github.com/neo-search/neo/sid"
)

// lossKind says which tokens of a sequence are loss targets.
type lossKind uint8

const (
	lossAnswer     lossKind = iota // the completion and <|eos|>
	lossAll                        // every token but <|bos|> (warmup)
	lossAnswerSIDs                 // only the SID tokens of the completion (valid)
	lossSequence                   // type and code tokens of history spans lossFrom.. (no completion)
)

// sample is one sequence before tokenization: the prompt's template and
// values, kept in parts so that encoding can drop the oldest history items
// or shorten a text value when it must fit MaxSeq.
type sample struct {
	key string // task/format, for the report
	// format, when set, frames the sample as an instruction (sid.Prompt);
	// seq frames it as a recommend sequence (sid.SequencePrompt); else the
	// prompt is head followed by the rendered tpl (catalog samples).
	format string
	seq    bool
	head   []sid.Segment
	tpl    string
	text   map[string]string // plain-text placeholder values
	hist   []sid.SID         // {history}, oldest first (nil: no {history})
	answer []sid.Segment     // the completion; <|eos|> follows
	loss   lossKind
	clip   string // text value that may be shortened to fit ("" = none)
	// lossFrom is, for lossSequence, the first history span with a loss.
	lossFrom int
}

// prompt renders the prompt with the given history and text values.
func (s *sample) prompt(hist []sid.SID, text map[string]string) ([]sid.Segment, error) {
	vals := make(map[string][]sid.Segment, len(text)+1)
	for k, v := range text {
		vals[k] = TextValue(v)
	}
	if s.hist != nil {
		vals["history"] = sid.Spans(hist)
	}
	switch {
	case s.format != "":
		return sid.Prompt(s.tpl, s.format, vals)
	case s.seq:
		return sid.SequencePrompt(s.tpl, hist)
	}
	body, err := sid.RenderTemplate(s.tpl, vals)
	if err != nil {
		return nil, err
	}
	return append(append(make([]sid.Segment, 0, len(s.head)+len(body)), s.head...), body...), nil
}

// countText adds the sample's text, as it will be encoded, to wc.
func (s *sample) countText(wc wordCounter) error {
	p, err := s.prompt(s.hist, s.text)
	if err != nil {
		return err
	}
	for _, segs := range [][]sid.Segment{p, s.answer} {
		run := ""
		for _, g := range segs {
			if g.SID == nil && g.Special == "" {
				run += g.Text
				continue
			}
			wc.add(run)
			run = ""
		}
		wc.add(run)
	}
	return nil
}

// builder turns the prepared inputs into samples.
type builder struct {
	opt   Options
	items []*itemInfo
	byID  map[string]*itemInfo
	meta  *sid.ModelMeta
	tok   *sid.Tokenizer
	// encoded memoizes tok.Encode: training text repeats item titles and
	// templates, and sugarme's encoder costs ~300µs a text.
	encoded map[string][]int32
	rep     *Report
}

// rng returns the random stream of one purpose, derived from the seed, so
// that changing one stage's sampling leaves the others' untouched.
func (b *builder) rng(purpose string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(purpose))
	return rand.New(rand.NewPCG(uint64(b.opt.Seed), h.Sum64()))
}

func (b *builder) count(stage, key string) { b.rep.Mix[stage+" "+key]++ }

var bos = sid.Segment{Special: sid.TokenBOS}

// warmup: each item's catalog text, loss on every token.
func (b *builder) warmup() []*sample {
	out := make([]*sample, 0, len(b.items))
	for _, it := range b.items {
		out = append(out, &sample{key: "catalog/text", head: []sid.Segment{bos}, tpl: "{text}",
			text: map[string]string{"text": warmupText(it)}, loss: lossAll})
		b.count(StageWarmup, "catalog/text")
	}
	return out
}

// ground: per item text→SID, SID→text and SID→type; loss on the answer.
func (b *builder) ground() []*sample {
	out := make([]*sample, 0, 3*len(b.items))
	for _, it := range b.items {
		s := it.sid
		out = append(out,
			&sample{key: "text-sid", head: []sid.Segment{bos}, tpl: "Item: {title}\nID:",
				text: map[string]string{"title": it.title}, clip: "title",
				answer: []sid.Segment{{SID: &s}}},
			&sample{key: "sid-text", head: []sid.Segment{bos, {SID: &s}, {Text: " is called"}},
				answer: []sid.Segment{{Text: " " + it.title}}},
			&sample{key: "sid-type", head: []sid.Segment{bos, {SID: &s}, {Text: " is a kind of"}},
				answer: []sid.Segment{{Text: " " + TypeWord(it.typ)}}},
		)
		b.count(StageGround, "text-sid")
		b.count(StageGround, "sid-text")
		b.count(StageGround, "sid-type")
	}
	return out
}

// relevantList returns a query's known relevant items with grade > 0,
// grouped by grade (highest first), each group in input order.
func (b *builder) relevantList(q *folder.Query) [][]*itemInfo {
	byGrade := map[int][]*itemInfo{}
	var grades []int
	seen := map[string]bool{}
	for _, r := range q.Relevant {
		if r.Grade <= 0 || seen[r.Item] {
			continue
		}
		seen[r.Item] = true
		it := b.byID[r.Item]
		if it == nil {
			b.rep.Skipped["relevance label naming an unknown item"]++
			continue
		}
		if len(byGrade[r.Grade]) == 0 {
			grades = append(grades, r.Grade)
		}
		byGrade[r.Grade] = append(byGrade[r.Grade], it)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(grades)))
	out := make([][]*itemInfo, len(grades))
	for i, g := range grades {
		out[i] = byGrade[g]
	}
	return out
}

// sortedQueries returns the queries of the wanted split in canonical order.
func sortedQueries(qs []folder.Query, train bool) []*folder.Query {
	var out []*folder.Query
	for i := range qs {
		if folder.IsTrain(qs[i].Split) == train {
			out = append(out, &qs[i])
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Query != out[j].Query {
			return out[i].Query < out[j].Query
		}
		return out[i].Type < out[j].Type
	})
	return out
}

// queryType returns the normalised type of a query ("" if none or unknown)
// and whether it was inferred from the relevant items rather than given.
func (b *builder) queryType(q *folder.Query, rel [][]*itemInfo) (string, bool) {
	if t := sid.NormalizeType(q.Type); t != "" {
		return t, false
	}
	t := ""
	for _, g := range rel {
		for _, it := range g {
			if t != "" && it.typ != t {
				return "", false
			}
			t = it.typ
		}
	}
	return t, true
}

// search: per train query, searchPermutations orderings of its relevant
// items (grade 2 before grade 1, shuffled within a grade, at most
// searchMaxResults), each with a random template; the type word is the
// query's type (or the relevant items' common type) or, in a share of the
// samples, dropped to "items"/"pieces".
func (b *builder) search(qs []folder.Query) []*sample {
	rng := b.rng("instruct/search")
	var out []*sample
	for _, q := range sortedQueries(qs, true) {
		text := cleanText(q.Query, maxQueryRunes)
		if text == "" {
			b.rep.Skipped["train query with empty text"]++
			continue
		}
		rel := b.relevantList(q)
		if len(rel) == 0 {
			b.rep.Skipped["train query without known relevant items"]++
			continue
		}
		typ, inferred := b.queryType(q, rel)
		for p := 0; p < searchPermutations; p++ {
			var list []sid.SID
			for _, g := range rel {
				g = append([]*itemInfo(nil), g...)
				rng.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
				for _, it := range g {
					if len(list) < searchMaxResults {
						list = append(list, it.sid)
					}
				}
			}
			word := NoTypeWords[rng.IntN(len(NoTypeWords))]
			drop := searchDropType
			if inferred {
				drop = 0.5
			}
			key := "search/ids untyped"
			if typ != "" && rng.Float64() >= drop {
				word, key = TypePlural(typ), "search/ids typed"
			}
			tpls := Templates[sid.TaskSearch]
			out = append(out, &sample{key: key, tpl: tpls[rng.IntN(len(tpls))],
				text: map[string]string{"query": text, "type": word}, clip: "query",
				format: sid.FormatIDs, answer: sid.Spans(list)})
			b.count(StageInstruct, key)
		}
	}
	return out
}

// event is an interaction with a known item.
type event struct {
	it    *itemInfo
	ts    int64
	split string
}

// userEvents groups known-item interactions per user, ordered by time
// (ties by item id, so that the input order does not matter).
func (b *builder) userEvents(ins []folder.Interaction) map[string][]event {
	users := map[string][]event{}
	for _, x := range ins {
		it := b.byID[x.Item]
		if it == nil {
			b.rep.Skipped["interaction naming an unknown item"]++
			continue
		}
		if x.User == "" {
			b.rep.Skipped["interaction without user"]++
			continue
		}
		split := x.Split
		if split == "" {
			split = "train"
		}
		users[x.User] = append(users[x.User], event{it: it, ts: x.TS, split: split})
	}
	for _, ev := range users {
		sort.SliceStable(ev, func(i, j int) bool {
			if ev[i].ts != ev[j].ts {
				return ev[i].ts < ev[j].ts
			}
			if ev[i].it.id != ev[j].it.id {
				return ev[i].it.id < ev[j].it.id
			}
			return ev[i].split < ev[j].split
		})
	}
	return users
}

func sortedUsers(users map[string][]event) []string {
	out := make([]string, 0, len(users))
	for u := range users {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

func lastN(ev []event, n int) []*itemInfo {
	if len(ev) > n {
		ev = ev[len(ev)-n:]
	}
	out := make([]*itemInfo, len(ev))
	for i := range ev {
		out[i] = ev[i].it
	}
	return out
}

func sidsOf(its []*itemInfo) []sid.SID {
	out := make([]sid.SID, len(its))
	for i, it := range its {
		out[i] = it.sid
	}
	return out
}

// recommend builds the recommend, explain and mixed samples from each
// user's train events (ordered by time):
//   - recommend: at up to recCutsPerUser cut points t (the last always
//     among them), history = the ≤ MaxHistory events before t, answer =
//     the SID of event t; {type} is the target's type in a share of them;
//   - explain: for the full history and one earlier cut, the profile text;
//   - mixed: at up to mixedPerUser cut points, reason + SID + description.
//
// A share of recommend and mixed samples use a {context} template with a
// request that is true of the target ("something by Maison Aurel").
func (b *builder) recommend(users map[string][]event) []*sample {
	rng := b.rng("instruct/recommend")
	var out []*sample
	for _, u := range sortedUsers(users) {
		var ev []event
		for _, e := range users[u] {
			if e.split == "train" {
				ev = append(ev, e)
			}
		}
		if len(ev) == 0 {
			continue
		}
		b.rep.Users++
		// Explain works on histories alone: the full one and an earlier one.
		expl := []int{len(ev)}
		if len(ev) > 2 {
			expl = append(expl, 2+rng.IntN(len(ev)-2))
		}
		for i, t := range expl {
			if i >= explainPerUser {
				break
			}
			hist := lastN(ev[:t], b.opt.MaxHistory)
			tpls := Templates[sid.TaskExplain]
			out = append(out, &sample{key: "explain/text", tpl: tpls[rng.IntN(len(tpls))],
				text: map[string]string{}, hist: sidsOf(hist),
				format: sid.FormatText, answer: TextValue(profileText(hist))})
			b.count(StageInstruct, "explain/text")
		}
		if len(ev) < 2 {
			continue
		}
		cuts := make([]int, 0, len(ev)-1)
		for t := 1; t < len(ev); t++ {
			cuts = append(cuts, t)
		}
		if len(cuts) > recCutsPerUser {
			early := cuts[:len(cuts)-1]
			rng.Shuffle(len(early), func(i, j int) { early[i], early[j] = early[j], early[i] })
			early = early[:recCutsPerUser-1]
			sort.Ints(early)
			cuts = append(early, len(ev)-1)
		}
		if b.opt.SequenceSamples {
			out = append(out, b.seqSamples(ev)...)
		} else {
			for _, t := range cuts {
				out = append(out, b.recSample(rng, sid.TaskRecommend, ev[:t], ev[t].it))
			}
		}
		// Mixed at the last cut and a random other one.
		mixed := []int{cuts[len(cuts)-1]}
		if len(cuts) > 1 {
			mixed = append(mixed, cuts[rng.IntN(len(cuts)-1)])
		}
		for i, t := range mixed {
			if i >= mixedPerUser {
				break
			}
			out = append(out, b.recSample(rng, sid.TaskMixed, ev[:t], ev[t].it))
		}
	}
	return out
}

// recSample is one recommend or mixed sample: history → target.
func (b *builder) recSample(rng *rand.Rand, task string, before []event, target *itemInfo) *sample {
	hist := lastN(before, b.opt.MaxHistory)
	format := sid.TaskFormat[task]
	tpls := Templates[task]
	// Templates with {context} are the last ones; choose them only when a
	// context is at hand.
	var plain, withCtx []string
	for _, t := range tpls {
		if containsPlaceholder(t, "context") {
			withCtx = append(withCtx, t)
		} else {
			plain = append(plain, t)
		}
	}
	text := map[string]string{"type": NoTypeWords[rng.IntN(len(NoTypeWords))]}
	key := task + "/" + format
	typed := rng.Float64() < recTypedShare
	if typed {
		text["type"] = TypePlural(target.typ)
		key += " typed"
	}
	tpl := plain[rng.IntN(len(plain))]
	if ctxs := contextFor(target); len(ctxs) > 0 && len(withCtx) > 0 && rng.Float64() < contextShare {
		tpl = withCtx[rng.IntN(len(withCtx))]
		text["context"] = ctxs[rng.IntN(len(ctxs))]
		key += " context"
	}
	var answer []sid.Segment
	if task == sid.TaskMixed {
		answer = mixedCompletion(hist, target)
	} else {
		answer = []sid.Segment{{SID: &target.sid}}
	}
	b.count(StageInstruct, key)
	return &sample{key: key, tpl: tpl, text: text, hist: sidsOf(hist),
		format: format, answer: answer, clip: "context"}
}

func containsPlaceholder(tpl, name string) bool {
	for i := 0; i+len(name)+2 <= len(tpl); i++ {
		if tpl[i] == '{' && tpl[i+1:i+1+len(name)] == name && tpl[i+1+len(name)] == '}' {
			return true
		}
	}
	return false
}

// validSearch: each held-out query, served as template 0 would serve it,
// with its best relevant item (highest grade, first listed) as the target.
func (b *builder) validSearch(qs []folder.Query) []*sample {
	var out []*sample
	for _, q := range sortedQueries(qs, false) {
		text := cleanText(q.Query, maxQueryRunes)
		rel := b.relevantList(q)
		if text == "" || len(rel) == 0 {
			b.rep.Skipped["test query without text or known relevant items"]++
			continue
		}
		word := NoTypeWords[0]
		if t := sid.NormalizeType(q.Type); t != "" {
			word = TypePlural(t)
		}
		s := rel[0][0].sid
		out = append(out, &sample{key: "search/ids", tpl: Templates[sid.TaskSearch][0],
			text: map[string]string{"query": text, "type": word}, clip: "query",
			format: sid.FormatIDs, answer: []sid.Segment{{SID: &s}}, loss: lossAnswerSIDs})
		b.count(StageValid, "search/ids")
	}
	return out
}

// validRecommend: per user, the test event as the target, history = the
// train and valid events before it (the protocol of CONTRACTS.md).
func (b *builder) validRecommend(users map[string][]event) []*sample {
	var out []*sample
	for _, u := range sortedUsers(users) {
		ev := users[u]
		ti := -1
		for i, e := range ev {
			if e.split == "test" {
				ti = i
			}
		}
		if ti < 0 {
			continue
		}
		var before []event
		for _, e := range ev[:ti] {
			if e.split == "train" || e.split == "valid" {
				before = append(before, e)
			}
		}
		if len(before) == 0 {
			b.rep.Skipped["test event without history"]++
			continue
		}
		if b.opt.SequenceSamples {
			hist := sidsOf(lastN(before, b.seqWindow()-1))
			hist = append(hist, ev[ti].it.sid)
			out = append(out, &sample{key: "recommend/sequence", seq: true, tpl: SequenceTemplates[0],
				text: map[string]string{}, hist: hist, loss: lossSequence, lossFrom: len(hist) - 1})
			b.count(StageValid, "recommend/sequence")
			continue
		}
		hist := lastN(before, b.opt.MaxHistory)
		s := ev[ti].it.sid
		// The target's type is given, as neo eval gives it to every
		// method (CONTRACTS.md); the type token is still scored.
		out = append(out, &sample{key: "recommend/ids", tpl: Templates[sid.TaskRecommend][0],
			text: map[string]string{"type": TypePlural(ev[ti].it.typ)}, hist: sidsOf(hist),
			format: sid.FormatIDs, answer: []sid.Segment{{SID: &s}}, loss: lossAnswerSIDs})
		b.count(StageValid, "recommend/ids")
	}
	return out
}

// seqWindow is how many SID spans a sequence sample holds: as many as fit
// MaxSeq after <|bos|> <|user|> and the template text (counted as one
// token per byte, an upper bound; encodeSequence drops the oldest items
// should the estimate still be short).
func (b *builder) seqWindow() int {
	span := b.meta.SID.Levels() + 3 // [SID] type codes… [/SID]
	head := 2 + len(strings.ReplaceAll(SequenceTemplates[0], "{history}", ""))
	return max(2, (b.opt.MaxSeq-head)/span)
}

// seqSamples cuts one user's train events into sequence samples
// (Options.SequenceSamples): the first window holds items [0, W) with the
// loss on items 1..; each next window advances by W-C items (C =
// SequenceContext, default W/2) and puts the loss on its new items only, so
// every item after the first is a target exactly once, with at least C
// items of context after the first window.
func (b *builder) seqSamples(ev []event) []*sample {
	w := b.seqWindow()
	c := b.opt.SequenceContext
	if c <= 0 {
		c = w / 2
	}
	stride := max(1, w-min(c, w-1))
	var out []*sample
	add := func(start, end, from int) {
		hist := sidsOf(lastN(ev[start:end], end-start))
		out = append(out, &sample{key: "recommend/sequence", seq: true, tpl: SequenceTemplates[0],
			text: map[string]string{}, hist: hist, loss: lossSequence, lossFrom: from - start})
		b.count(StageInstruct, "recommend/sequence")
	}
	end := min(w, len(ev))
	add(0, end, 1)
	for covered := end; covered < len(ev); covered = end {
		end = min(covered+stride, len(ev))
		add(max(0, end-w), end, covered)
	}
	return out
}
