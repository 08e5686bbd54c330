package exporter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/neo-search/neo/index/folder"
	"github.com/neo-search/neo/internal/fsutil"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/sid"
)

// Stage names (shard file prefixes).
const (
	StageWarmup   = "warmup"
	StageGround   = "ground"
	StageInstruct = "instruct"
	StageValid    = "valid"
)

// Stages lists the stages in training order, valid last.
var Stages = []string{StageWarmup, StageGround, StageInstruct, StageValid}

// Defaults of Options.
const (
	DefaultVocabSize  = 4000
	DefaultMaxSeq     = 256
	DefaultMaxHistory = 20
)

// Mix of the instruct stage (see the package doc).
const (
	searchPermutations = 3    // orderings of the relevant list per train query
	searchMaxResults   = 10   // SIDs per search completion
	searchDropType     = 0.25 // share of search samples trained without {type}
	recCutsPerUser     = 10   // recommend targets per user (all when fewer)
	recTypedShare      = 0.5  // share of recommend/mixed samples told the target's type
	explainPerUser     = 2    // explain samples per user (full history + one earlier cut)
	mixedPerUser       = 2    // mixed samples per user
	contextShare       = 0.2  // share of recommend/mixed samples using a {context} template
	bpeMinFrequency    = 2    // pairs seen once are not merged
)

// Input is what an export reads: the catalog with SIDs assigned, the
// interaction log and the labelled queries (CONTRACTS.md "Data folder").
type Input struct {
	Items        []index.Item
	Interactions []folder.Interaction
	Queries      []folder.Query
}

// Options configure Export. Zero values take the defaults.
type Options struct {
	OutDir string
	// VocabSize is the size of the BPE (text) vocabulary, <|pad|> and
	// <|unk|> included; special and SID tokens come on top (neo.json
	// vocab_size is the total). Training may stop earlier when no pair of
	// tokens occurs twice.
	VocabSize  int
	MaxSeq     int   // tokens per sequence
	Seed       int64 // all sampling derives from it
	MaxHistory int   // history items per recommend/explain/mixed prompt
	// SequenceSamples replaces the recommend samples (one target after a
	// history of ≤ MaxHistory items) by sequence samples: each user's
	// train history as one long run of SID spans after the
	// sid.TaskRecommendSequence template, cut into windows of as many items as
	// fit MaxSeq (consecutive windows overlap by half a window), with the
	// loss on the type and code tokens of every span after the first, so
	// every next item is a target with up to a window of context. The valid
	// stage gets the same layout (history, then the test item as the only
	// target). neo.json then holds templates["recommend_sequence"], which
	// serving uses for recommend requests in the ids format. Explain and
	// mixed samples are unchanged. Off (the default), the export is
	// byte-identical to one without the option.
	SequenceSamples bool
	// SequenceContext is, with SequenceSamples, the context (history items
	// before it) every target after a user's first window has at least:
	// consecutive windows overlap by that many items. 0 = half a window;
	// capped at the window size minus one.
	SequenceContext int
	// MinCodeCounts optionally raises the number of code tokens per SID
	// level (semantic levels, then collision) above what the items use,
	// e.g. to the quantizer's codebook sizes, so that items added later
	// still have tokens.
	MinCodeCounts []int
	// SynthQueries adds search training queries made from item text, this
	// many per item (0, the default: none), for catalogs without a query
	// log: phrases of an item's own words (title runs, brand, attribute
	// values, list-like description segments) with every item holding
	// those words as relevant (see synthQueries). They join the train
	// queries; Report.Synthesized counts them.
	SynthQueries float64
	Progress     io.Writer
}

// Manifest is shards/manifest.json, plus a report for humans (not written).
type Manifest struct {
	InputHash string                `json:"input_hash"`
	Stages    map[string]StageStats `json:"stages"`
	VocabSize int                   `json:"vocab_size"`
	MaxSeq    int                   `json:"max_seq"`
	Report    Report                `json:"-"`
}

// StageStats counts one stage's shards.
type StageStats struct {
	Sequences  int64 `json:"sequences"`
	Tokens     int64 `json:"tokens"`
	LossTokens int64 `json:"loss_tokens"`
}

// Report says what an export did besides the shard counts.
type Report struct {
	BPESize int `json:"bpe_size"` // BPE tokens learned (≤ Options.VocabSize)
	Items   int `json:"items"`
	Users   int `json:"users"` // users with train events
	// Mix counts sequences per stage and task/format, e.g.
	// "instruct search/ids typed".
	Mix map[string]int `json:"mix"`
	// Truncated counts sequences shortened to fit MaxSeq (warmup tail cut,
	// oldest history dropped, query or context shortened); Dropped those
	// that could not fit (the completion alone is too long), per stage.
	Truncated map[string]int `json:"truncated"`
	Dropped   map[string]int `json:"dropped"`
	// Synthesized counts the search queries made from item text
	// (Options.SynthQueries).
	Synthesized int `json:"synthesized_queries,omitempty"`
	// Skipped counts input records left out, by reason.
	Skipped map[string]int     `json:"skipped"`
	Seconds map[string]float64 `json:"seconds"` // wall time per phase
}

// Export trains the tokenizer on the catalog text and writes tokenizer.json,
// neo.json and the training shards into opt.OutDir. The output depends only
// on the inputs (in any order) and the options.
func Export(ctx context.Context, in Input, opt Options) (*Manifest, error) {
	if err := opt.fill(); err != nil {
		return nil, err
	}
	rep := Report{Mix: map[string]int{}, Truncated: map[string]int{}, Dropped: map[string]int{}, Skipped: map[string]int{}, Seconds: map[string]float64{}}
	t0 := time.Now()
	phase := func(name string) {
		rep.Seconds[name] = time.Since(t0).Seconds()
		t0 = time.Now()
	}

	items, byID, vocab, err := prepareItems(in.Items, opt.MinCodeCounts)
	if err != nil {
		return nil, err
	}
	rep.Items = len(items)
	hash := inputHash(in)

	b := &builder{opt: opt, items: items, byID: byID, rep: &rep}
	tpls := make(map[string][]string, len(Templates))
	for k, v := range Templates {
		tpls[k] = append([]string(nil), v...)
	}
	if opt.SequenceSamples {
		tpls[sid.TaskRecommendSequence] = append([]string(nil), SequenceTemplates...)
	}
	b.meta = &sid.ModelMeta{
		FormatVersion: sid.MetaFormatVersion, PromptVersion: sid.PromptVersion, PromptHistory: opt.MaxHistory,
		SID: vocab, SIDLevels: vocab.Levels() - 1, Templates: tpls, MaxSeq: opt.MaxSeq,
	}
	stages := map[string][]*sample{
		StageWarmup: b.warmup(),
		StageGround: b.ground(),
	}
	users := b.userEvents(in.Interactions)
	trainQueries := in.Queries
	if opt.SynthQueries > 0 {
		syn := synthQueries(items, int(math.Round(opt.SynthQueries*float64(len(items)))), in.Queries, b.rng("instruct/synth"))
		trainQueries = append(slices.Clone(in.Queries), syn...)
		rep.Synthesized = len(syn)
	}
	stages[StageInstruct] = append(b.search(trainQueries), b.recommend(users)...)
	stages[StageValid] = append(b.validSearch(in.Queries), b.validRecommend(users)...)
	for _, s := range []string{StageWarmup, StageGround, StageInstruct} {
		rng := b.rng(s + "/shuffle")
		ss := stages[s]
		rng.Shuffle(len(ss), func(i, j int) { ss[i], ss[j] = ss[j], ss[i] })
	}
	phase("samples")

	// The tokenizer learns from exactly the text the training stages will
	// encode (never the held-out queries of valid).
	wc := wordCounter{}
	for _, s := range []string{StageWarmup, StageGround, StageInstruct} {
		for _, smp := range stages[s] {
			if err := smp.countText(wc); err != nil {
				return nil, err
			}
		}
	}
	var bar *progressbar.ProgressBar
	if opt.Progress != nil {
		bar = newBar(opt.Progress, opt.VocabSize, "tokenizer")
	}
	bpeVocab, merges, err := trainBPE(ctx, wc, opt.VocabSize, bpeMinFrequency, func(n int) {
		if bar != nil {
			_ = bar.Set(n)
		}
	})
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil {
		return nil, err
	}
	rep.BPESize = len(bpeVocab)
	// Lay out the ids: BPE, specials, SID tokens.
	base := int32(len(bpeVocab) + len(sid.SpecialTokens))
	if vocab, err = sid.NewVocab(base, vocab.Types, vocab.CodeCount); err != nil {
		return nil, err
	}
	b.meta.SID = vocab
	b.meta.VocabSize = int(vocab.End())
	b.meta.Special = map[string]int32{sid.TokenPad: 0, sid.TokenUnk: 1}
	for i, s := range sid.SpecialTokens {
		b.meta.Special[s] = int32(len(bpeVocab) + i)
	}
	tok, err := sid.NewTokenizer(bpeVocab, merges, append(append([]string(nil), sid.SpecialTokens...), vocab.Strings()...))
	if err != nil {
		return nil, err
	}
	b.tok = tok
	phase("tokenizer")

	if err := os.MkdirAll(filepath.Join(opt.OutDir, "shards"), 0o755); err != nil {
		return nil, fmt.Errorf("exporter: %w", err)
	}
	tj, err := tok.MarshalHF()
	if err != nil {
		return nil, err
	}
	if err := fsutil.WriteFile(filepath.Join(opt.OutDir, sid.TokenizerFile), tj); err != nil {
		return nil, err
	}
	mj, err := b.meta.Marshal()
	if err != nil {
		return nil, err
	}
	if err := fsutil.WriteFile(filepath.Join(opt.OutDir, sid.MetaFile), mj); err != nil {
		return nil, err
	}
	// The shards are encoded by the tokenizer.json just written, read back
	// as serving reads it (through sugarme/tokenizer), so training and
	// serving encode text with the same library.
	if b.tok, err = sid.LoadTokenizer(opt.OutDir); err != nil {
		return nil, fmt.Errorf("exporter: reading back %s: %w", sid.TokenizerFile, err)
	}

	man := &Manifest{InputHash: hash, Stages: map[string]StageStats{}, VocabSize: b.meta.VocabSize, MaxSeq: opt.MaxSeq}
	total := 0
	for _, s := range Stages {
		total += len(stages[s])
	}
	if opt.Progress != nil {
		bar = newBar(opt.Progress, total, "shards")
	}
	for _, s := range Stages {
		st, err := b.writeStage(ctx, s, stages[s], bar)
		if err != nil {
			return nil, err
		}
		man.Stages[s] = st
	}
	if bar != nil {
		_ = bar.Finish()
	}
	phase("shards")
	man.Report = rep
	mfj, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := fsutil.WriteFile(filepath.Join(opt.OutDir, "shards", "manifest.json"), append(mfj, '\n')); err != nil {
		return nil, err
	}
	return man, nil
}

func (o *Options) fill() error {
	if o.OutDir == "" {
		return errors.New("exporter: no output directory")
	}
	if o.VocabSize == 0 {
		o.VocabSize = DefaultVocabSize
	}
	if o.MaxSeq == 0 {
		o.MaxSeq = DefaultMaxSeq
	}
	if o.MaxHistory == 0 {
		o.MaxHistory = DefaultMaxHistory
	}
	switch {
	case o.VocabSize < MinVocabSize:
		return fmt.Errorf("exporter: vocabulary size %d is below the minimum %d (specials and the 256 byte tokens)", o.VocabSize, MinVocabSize)
	case o.MaxSeq < sid.MinMaxSeq:
		return fmt.Errorf("exporter: max sequence length %d is below the minimum %d", o.MaxSeq, sid.MinMaxSeq)
	case o.SynthQueries < 0 || math.IsNaN(o.SynthQueries) || o.SynthQueries > 100:
		return fmt.Errorf("exporter: synthesized queries per item %v, want 0 to 100", o.SynthQueries)
	case o.MaxHistory < 1:
		return fmt.Errorf("exporter: max history %d, want at least 1", o.MaxHistory)
	}
	return nil
}

func newBar(w io.Writer, max int, what string) *progressbar.ProgressBar {
	return progressbar.NewOptions(max,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("export: "+what),
		progressbar.OptionShowCount(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
}

// prepareItems validates the catalog and builds the SID vocabulary layout
// (types sorted; per level as many codes as the largest code used needs).
// The vocabulary's base is a placeholder until the BPE size is known.
func prepareItems(in []index.Item, minCodes []int) ([]*itemInfo, map[string]*itemInfo, *sid.Vocab, error) {
	if len(in) == 0 {
		return nil, nil, nil, errors.New("exporter: empty catalog: no items to export")
	}
	sorted := make([]*index.Item, len(in))
	for i := range in {
		sorted[i] = &in[i]
	}
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })

	var noSID []string
	items := make([]*itemInfo, 0, len(in))
	prices := make([]float64, 0, len(in))
	byID := make(map[string]*itemInfo, len(in))
	bySID := make(map[string]string, len(in))
	levels := -1
	var codeCount []int
	types := map[string]bool{}
	for _, x := range sorted {
		if x.ID == "" {
			return nil, nil, nil, errors.New("exporter: an item has an empty id")
		}
		if _, dup := byID[x.ID]; dup {
			return nil, nil, nil, fmt.Errorf("exporter: item id %q appears twice", x.ID)
		}
		if strings.TrimSpace(x.SID) == "" {
			noSID = append(noSID, x.ID)
			byID[x.ID] = nil
			continue
		}
		s, err := sid.Parse(strings.TrimSpace(x.SID))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("exporter: item %q: %w", x.ID, err)
		}
		if levels < 0 {
			levels = len(s.Codes)
			codeCount = make([]int, levels)
		}
		if len(s.Codes) != levels {
			return nil, nil, nil, fmt.Errorf("exporter: item %q has SID %s with %d codes, other items have %d", x.ID, s, len(s.Codes), levels)
		}
		if other, dup := bySID[s.Key()]; dup {
			return nil, nil, nil, fmt.Errorf("exporter: items %q and %q share SID %s; SIDs must be unique", other, x.ID, s)
		}
		bySID[s.Key()] = x.ID
		for l, c := range s.Codes {
			codeCount[l] = max(codeCount[l], c+1)
		}
		types[s.Type] = true
		it := &itemInfo{
			id: x.ID, sid: s, typ: s.Type,
			title: cleanText(x.Title, maxTitleRunes),
			desc:  cleanText(x.Description, maxDescRunes),
			brand: cleanText(x.Brand, maxShortRunes),
			attrs: map[string]string{},
		}
		if it.title == "" {
			it.title = it.id
		}
		for k, v := range x.Attributes {
			k = strings.ToLower(cleanText(k, maxShortRunes))
			v = cleanText(v, maxShortRunes)
			if k != "" && v != "" {
				it.attrs[k] = v
			}
		}
		for k := range it.attrs {
			it.attrKeys = append(it.attrKeys, k)
		}
		sort.Strings(it.attrKeys)
		items = append(items, it)
		prices = append(prices, x.Price)
		byID[x.ID] = it
	}
	if len(noSID) > 0 {
		ex := noSID
		if len(ex) > 3 {
			ex = ex[:3]
		}
		return nil, nil, nil, fmt.Errorf("exporter: %d of %d items have no SID (%s); assign SIDs first (neo sids)", len(noSID), len(in), strings.Join(ex, ", "))
	}
	if levels < 2 {
		return nil, nil, nil, fmt.Errorf("exporter: SIDs have %d codes, want at least 2 (semantic levels + collision level)", levels)
	}
	if len(minCodes) > 0 && len(minCodes) != levels {
		return nil, nil, nil, fmt.Errorf("exporter: %d minimum code counts for SIDs of %d levels", len(minCodes), levels)
	}
	for l, n := range minCodes {
		codeCount[l] = max(codeCount[l], n)
	}
	assignTiers(items, prices)
	typeList := make([]string, 0, len(types))
	for t := range types {
		typeList = append(typeList, t)
	}
	sort.Strings(typeList)
	v, err := sid.NewVocab(0, typeList, codeCount)
	if err != nil {
		return nil, nil, nil, err
	}
	return items, byID, v, nil
}

// inputHash is sha256 over the canonicalised inputs: each record as JSON
// (map keys sorted), records sorted, sections in a fixed order.
func inputHash(in Input) string {
	h := sha256.New()
	section := func(name string, recs []string) {
		sort.Strings(recs)
		fmt.Fprintf(h, "%s %d\n", name, len(recs))
		for _, r := range recs {
			io.WriteString(h, r)
			h.Write([]byte{'\n'})
		}
	}
	enc := func(v any) string {
		j, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprintf("%#v", v)
		}
		return string(j)
	}
	recs := make([]string, 0, len(in.Items))
	for _, x := range in.Items {
		recs = append(recs, enc(x))
	}
	section("items", recs)
	recs = recs[:0]
	for _, x := range in.Interactions {
		recs = append(recs, enc(x))
	}
	section("interactions", recs)
	recs = recs[:0]
	for _, x := range in.Queries {
		recs = append(recs, enc(x))
	}
	section("queries", recs)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
