package eval

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/neo-search/neo/index/folder"
	istats "github.com/neo-search/neo/internal/stats"
)

// Options tune Run.
type Options struct {
	// K is the headline cut-off (default 10). Metrics are reported at K and
	// at 30; methods are asked for max(K, 30) ids.
	K int
	// Split is the split measured: "test" (default; recommend history =
	// train+valid events) or "valid" (history = train events, for tuning).
	// Search runs on the split's queries; "valid" skips search when the
	// data has no valid queries.
	Split string
	// Limit caps the cases per task (0 = all), taken evenly spaced so a
	// quick run still covers the whole set.
	Limit int
	// Progress receives a progress bar (e.g. os.Stderr); nil = none.
	Progress io.Writer
	// New are the items of a cold-start run (HoldOut): search and
	// recommend are then also reported on the cases whose target is a new
	// item (a query with a new relevant item, a next item that is new) and
	// on the rest. nil: no such blocks.
	New map[string]bool
}

// Metrics is one method's block of the report. Keys: "hr@K", "ndcg@K" for
// each cut-off, "hr@K_se" (standard error of HR at the headline K), "n"
// (cases), "latency_ms_p50", "latency_ms_p99", and the method's own
// "invalid_sids", "type_violations", "format_violations", "short_lists",
// "errors" counts (see Report).
type Metrics map[string]float64

// Report is the result of Run; its JSON is the output of `neo eval --json`.
//
// The violation counts are summed over all methods and tasks:
//   - invalid_sids: returned ids that are not an available catalog item;
//   - type_violations: returned catalog items whose type differs from the
//     requested type;
//   - format_violations: answers with more ids than asked, a repeated id or
//     an empty id;
//   - short_lists: answers with fewer ids than asked while at least that
//     many candidates (available items of the type, not in the history)
//     exist.
//
// Latency is per method, inside its block (latency_ms_p50/p99 over the
// cases of the task, in milliseconds).
type Report struct {
	Dataset      string             `json:"dataset"`
	Split        string             `json:"split"`
	Search       map[string]Metrics `json:"search,omitempty"`
	SearchSeen   map[string]Metrics `json:"search_seen,omitempty"`
	SearchUnseen map[string]Metrics `json:"search_unseen,omitempty"`
	// SearchByKind is search on the queries of each kind (folder.Query.Kind:
	// literal, paraphrase), when the data labels them.
	SearchByKind map[string]map[string]Metrics `json:"search_by_kind,omitempty"`
	Recommend    map[string]Metrics            `json:"recommend,omitempty"`
	// Cold is the cold-start split of search and recommend (Options.New).
	Cold *ColdReport `json:"cold,omitempty"`
	// Mixed is what the text of mixed answers says about the items they
	// name (filled by the caller, neoeval.Mixed).
	Mixed *MixedReport `json:"mixed,omitempty"`
	// Asks is how well a free-text ask steers the items (neoeval.Asks).
	Asks *AskReport `json:"asks,omitempty"`

	InvalidSIDs      int `json:"invalid_sids"`
	TypeViolations   int `json:"type_violations"`
	FormatViolations int `json:"format_violations"`
	ShortLists       int `json:"short_lists"`
	Errors           int `json:"errors"`

	// InteractionSplit is how the interactions were split (explicit fields
	// or leave-last-out), with users and events per part.
	InteractionSplit *folder.SplitReport `json:"interaction_split,omitempty"`

	// Fusion is what the caller's fused entries used, per task (weights and
	// aggregation); Run leaves it to the caller.
	Fusion map[string]any `json:"fusion,omitempty"`

	// Skipped says what was not measured and why.
	Skipped []string `json:"skipped"`
	// ErrorMessages holds the first error of each failing method.
	ErrorMessages []string `json:"error_messages,omitempty"`
}

// ColdReport splits the cases of a cold-start run by whether their target
// is a new item: search on queries with a new relevant item and on the
// rest, recommend on next items that are new and on the rest.
type ColdReport struct {
	NewItems      int                `json:"new_items"`
	SearchNew     map[string]Metrics `json:"search_new,omitempty"`
	SearchRest    map[string]Metrics `json:"search_rest,omitempty"`
	RecommendNew  map[string]Metrics `json:"recommend_new,omitempty"`
	RecommendRest map[string]Metrics `json:"recommend_rest,omitempty"`
}

// RunMethods builds the baselines of ds (NewKit), lets add put further
// methods in (and clean them up afterwards), keeps the methods named in
// only (comma-separated; all when empty) and runs the evaluation.
func RunMethods(ctx context.Context, ds *folder.Folder, only string, opt Options, add func(*Methods, *Kit) (func(), error)) (*Report, error) {
	kit, err := NewKit(ctx, ds)
	if err != nil {
		return nil, err
	}
	defer kit.Close()
	methods := kit.Baselines()
	if add != nil {
		cleanup, err := add(&methods, kit)
		if err != nil {
			return nil, err
		}
		if cleanup != nil {
			defer cleanup()
		}
	}
	if only != "" {
		methods.Keep(strings.Split(only, ","))
	}
	return Run(ctx, ds, methods, opt)
}

// MixedReport reads mixed answers (history → text with items) as a client
// shows them: every catalog value the text after an item names is a
// mention, and one that is not the item's own contradicts it
// (plugin.CheckAnswer). Guarded is neo as it serves, with the fact guard;
// Unguarded the same requests without it, for the rate it prevents.
type MixedReport struct {
	Guarded   MixedStats `json:"guarded"`
	Unguarded MixedStats `json:"unguarded"`
	MaxTokens int        `json:"max_tokens"`
}

// AskReport is the share of items named that match a brand or colour the
// ask names: as served (the ask in the prompt and in the fusion's bm25),
// with the ask in the prompt alone (no fusion), and without the ask (the
// same requests), as mixed answers and as top-5 recommendations.
type AskReport struct {
	MixedWithAsk        AskStats `json:"mixed_with_ask"`
	MixedPromptOnly     AskStats `json:"mixed_prompt_only"`
	MixedWithout        AskStats `json:"mixed_without_ask"`
	RecommendWithAsk    AskStats `json:"recommend_with_ask"`
	RecommendPromptOnly AskStats `json:"recommend_prompt_only"`
	RecommendWithout    AskStats `json:"recommend_without_ask"`
}

// AskStats sums asks.
type AskStats struct {
	Asks     int     `json:"asks"`
	Items    int     `json:"items"`
	Matching int     `json:"matching"`
	Share    float64 `json:"share"`
}

// MixedStats sums mixed answers.
type MixedStats struct {
	Answers        int     `json:"answers"`
	Mentions       int     `json:"mentions"`
	Contradictions int     `json:"contradictions"`
	Rate           float64 `json:"contradiction_rate"` // contradictions / mentions
	// Ended is the share of answers that reached <|eos|> within
	// max_tokens; MeanTokens their mean length.
	Ended         float64  `json:"ended_share"`
	MeanTokens    float64  `json:"mean_tokens"`
	Interventions int      `json:"guard_interventions"`
	Examples      []string `json:"examples,omitempty"` // first contradictions
}

// Run measures methods on ds. A method error is counted (the answer counts
// as empty) and the run goes on; only a cancelled ctx stops it.
func Run(ctx context.Context, ds *folder.Folder, methods Methods, opt Options) (*Report, error) {
	if opt.K <= 0 {
		opt.K = 10
	}
	if opt.Split == "" {
		opt.Split = "test"
	}
	if opt.Split != "test" && opt.Split != "valid" {
		return nil, fmt.Errorf("eval: split %q is not test or valid", opt.Split)
	}
	cuts := []int{opt.K}
	if opt.K != 30 {
		cuts = append(cuts, 30)
	}
	slices.Sort(cuts)
	depth := cuts[len(cuts)-1]
	rep := &Report{Dataset: ds.Name, Split: opt.Split, Skipped: []string{}}
	if ds.HasInteractions {
		sr := ds.Split
		rep.InteractionSplit = &sr
	}
	r := &runner{ds: ds, rep: rep, opt: opt, cuts: cuts, depth: depth, avail: map[string]int{}}
	for _, it := range ds.Items {
		if it.InStock {
			r.avail[it.Type]++
			r.availAll++
		}
	}

	// Collect the cases first so the progress bar knows the total.
	var sCases []searchCase
	switch {
	case opt.Split != "test" && len(ds.QueriesOf(opt.Split)) == 0:
		rep.Skipped = append(rep.Skipped, "search: no queries of split "+opt.Split+"; search not measured")
	case !ds.HasQueries:
		rep.Skipped = append(rep.Skipped, "search: no "+folder.QueriesFile+" in "+ds.Dir+"; search not measured")
	case len(methods.Search) == 0:
		rep.Skipped = append(rep.Skipped, "search: no search methods")
	default:
		sCases = r.searchCases()
		if len(sCases) == 0 {
			rep.Skipped = append(rep.Skipped, "search: no test queries with a relevant catalog item")
		}
	}
	var rCases []folder.RecommendCase
	switch {
	case !ds.HasInteractions:
		rep.Skipped = append(rep.Skipped, "recommend: no "+folder.InteractionsFile+" in "+ds.Dir+"; recommendation not measured")
	case len(methods.Recommend) == 0:
		rep.Skipped = append(rep.Skipped, "recommend: no recommend methods")
	default:
		var dropped int
		rCases, dropped = ds.CasesOf(opt.Split)
		if dropped > 0 {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("recommend: %d %s interactions name items missing from the catalog; not measured", dropped, opt.Split))
		}
		if len(rCases) == 0 {
			rep.Skipped = append(rep.Skipped, "recommend: no users with a "+opt.Split+" interaction")
		}
	}
	sCases = Spaced(sCases, opt.Limit)
	rCases = Spaced(rCases, opt.Limit)

	total := len(sCases)*len(methods.Search) + len(rCases)*len(methods.Recommend)
	if opt.Progress != nil && total > 0 {
		r.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(opt.Progress),
			progressbar.OptionSetDescription("eval"), progressbar.OptionShowCount(),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
		defer r.bar.Finish()
	}

	if opt.New != nil {
		rep.Cold = &ColdReport{NewItems: len(opt.New), SearchNew: map[string]Metrics{}, SearchRest: map[string]Metrics{},
			RecommendNew: map[string]Metrics{}, RecommendRest: map[string]Metrics{}}
	}
	if len(sCases) > 0 {
		seen := map[string]bool{}
		for _, q := range ds.QueriesOf("train") {
			seen[folder.NormalizeQuery(q.Query)] = true
		}
		rep.Search = map[string]Metrics{}
		var kinds []string
		for _, c := range sCases {
			if c.q.Kind != "" && !slices.Contains(kinds, c.q.Kind) {
				kinds = append(kinds, c.q.Kind)
			}
		}
		slices.Sort(kinds)
		if len(seen) > 0 {
			rep.SearchSeen, rep.SearchUnseen = map[string]Metrics{}, map[string]Metrics{}
		}
		for _, name := range sortedNames(methods.Search) {
			m := methods.Search[name]
			res, err := r.runCases(ctx, name, len(sCases), func(i int) ([]string, string, map[string]int, int, error) {
				c := sCases[i]
				ids, err := m.Search(ctx, c.q, depth)
				return ids, c.q.Type, c.rel, r.candidates(c.q.Type, nil), err
			})
			if err != nil {
				return nil, err
			}
			rep.Search[name] = r.metrics(res, nil)
			if rep.Cold != nil {
				isNew := func(i int) bool {
					return slices.ContainsFunc(sCases[i].q.Relevant, func(x folder.Relevance) bool { return x.Grade > 0 && opt.New[x.Item] })
				}
				rep.Cold.SearchNew[name] = r.metrics(res, isNew)
				rep.Cold.SearchRest[name] = r.metrics(res, func(i int) bool { return !isNew(i) })
			}
			for _, kind := range kinds {
				if rep.SearchByKind == nil {
					rep.SearchByKind = map[string]map[string]Metrics{}
				}
				if rep.SearchByKind[kind] == nil {
					rep.SearchByKind[kind] = map[string]Metrics{}
				}
				rep.SearchByKind[kind][name] = r.metrics(res, func(i int) bool { return sCases[i].q.Kind == kind })
			}
			if rep.SearchSeen != nil {
				isSeen := func(i int) bool { return seen[folder.NormalizeQuery(sCases[i].q.Query)] }
				if mm := r.metrics(res, isSeen); mm["n"] > 0 {
					rep.SearchSeen[name] = mm
				}
				if mm := r.metrics(res, func(i int) bool { return !isSeen(i) }); mm["n"] > 0 {
					rep.SearchUnseen[name] = mm
				}
			}
		}
		if len(rep.SearchSeen) == 0 {
			rep.SearchSeen = nil
		}
		if len(rep.SearchUnseen) == 0 {
			rep.SearchUnseen = nil
		}
	}
	if len(rCases) > 0 {
		rep.Recommend = map[string]Metrics{}
		for _, name := range sortedNames(methods.Recommend) {
			m := methods.Recommend[name]
			res, err := r.runCases(ctx, name, len(rCases), func(i int) ([]string, string, map[string]int, int, error) {
				c := rCases[i]
				ids, err := m.Recommend(ctx, c.History, c.Type, depth)
				return ids, c.Type, map[string]int{c.Target: 1}, r.candidates(c.Type, c.History), err
			})
			if err != nil {
				return nil, err
			}
			rep.Recommend[name] = r.metrics(res, nil)
			if rep.Cold != nil {
				isNew := func(i int) bool { return opt.New[rCases[i].Target] }
				rep.Cold.RecommendNew[name] = r.metrics(res, isNew)
				rep.Cold.RecommendRest[name] = r.metrics(res, func(i int) bool { return !isNew(i) })
			}
		}
	}
	return rep, nil
}

type runner struct {
	ds       *folder.Folder
	rep      *Report
	opt      Options
	cuts     []int
	depth    int
	avail    map[string]int
	availAll int
	bar      *progressbar.ProgressBar
}

type searchCase struct {
	q   folder.Query
	rel map[string]int
}

// searchCases are the queries of the split with at least one relevant
// catalog item.
func (r *runner) searchCases() []searchCase {
	var out []searchCase
	for _, q := range r.ds.QueriesOf(r.opt.Split) {
		rel := map[string]int{}
		for _, x := range q.Relevant {
			if _, ok := r.ds.Item(x.Item); ok && x.Grade > 0 {
				rel[x.Item] = max(rel[x.Item], x.Grade)
			}
		}
		if len(rel) > 0 {
			out = append(out, searchCase{q, rel})
		}
	}
	if n := len(r.ds.QueriesOf(r.opt.Split)) - len(out); n > 0 {
		r.rep.Skipped = append(r.rep.Skipped, fmt.Sprintf("search: %d %s queries without a relevant catalog item; not measured", n, r.opt.Split))
	}
	return out
}

// candidates is how many ids a method could return: available items of the
// type that are not in the history.
func (r *runner) candidates(typ string, history []string) int {
	n := r.availAll
	if typ != "" {
		n = r.avail[typ]
	}
	seen := map[string]bool{}
	for _, h := range history {
		if it, ok := r.ds.Item(h); ok && !seen[h] && it.InStock && (typ == "" || it.Type == typ) {
			seen[h] = true
			n--
		}
	}
	return n
}

// caseResult is one answer, judged.
type caseResult struct {
	hr, ndcg   []float64 // per cut-off
	p5         float64   // share of the first 5 places holding a relevant item
	latencyMS  float64
	invalid    int
	typeViol   int
	formatViol int
	short      int
	err        int
}

func (r *runner) runCases(ctx context.Context, name string, n int,
	ask func(i int) (ids []string, typ string, rel map[string]int, cands int, err error)) ([]caseResult, error) {
	if r.bar != nil {
		r.bar.Describe(name)
	}
	out := make([]caseResult, n)
	var firstErr error
	for i := range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		start := time.Now()
		ids, typ, rel, cands, err := ask(i)
		res := caseResult{latencyMS: float64(time.Since(start).Microseconds()) / 1000}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			res.err = 1
			if firstErr == nil {
				firstErr = err
			}
			ids = nil
		}
		r.judge(&res, ids, typ, rel, cands)
		out[i] = res
		if r.bar != nil {
			r.bar.Add(1)
		}
	}
	if firstErr != nil {
		r.rep.ErrorMessages = append(r.rep.ErrorMessages, name+": "+firstErr.Error())
	}
	return out, nil
}

// judge checks an answer's format and scores it.
func (r *runner) judge(res *caseResult, ids []string, typ string, rel map[string]int, cands int) {
	if len(ids) > r.depth {
		res.formatViol = 1
		ids = ids[:r.depth]
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if id == "" || seen[id] {
			res.formatViol = 1
		}
		seen[id] = true
		it, ok := r.ds.Item(id)
		switch {
		case !ok || !it.InStock:
			res.invalid++
		case typ != "" && it.Type != typ:
			res.typeViol++
		}
	}
	if len(ids) < r.depth && cands >= r.depth {
		res.short = 1
	}
	for _, k := range r.cuts {
		res.hr = append(res.hr, HitRate(ids, rel, k))
		res.ndcg = append(res.ndcg, NDCG(ids, rel, k))
	}
	res.p5 = Precision(ids, rel, 5)
	r.rep.InvalidSIDs += res.invalid
	r.rep.TypeViolations += res.typeViol
	r.rep.FormatViolations += res.formatViol
	r.rep.ShortLists += res.short
	r.rep.Errors += res.err
}

// metrics aggregates the results selected by keep (nil = all).
func (r *runner) metrics(res []caseResult, keep func(i int) bool) Metrics {
	m := Metrics{}
	var lat, ndcgK []float64
	n := 0
	for i, c := range res {
		if keep != nil && !keep(i) {
			continue
		}
		n++
		m["p@5"] += c.p5
		for j, k := range r.cuts {
			if k == r.opt.K {
				ndcgK = append(ndcgK, c.ndcg[j])
			}
		}
		for j, k := range r.cuts {
			m["hr@"+strconv.Itoa(k)] += c.hr[j]
			m["ndcg@"+strconv.Itoa(k)] += c.ndcg[j]
		}
		lat = append(lat, c.latencyMS)
		m["invalid_sids"] += float64(c.invalid)
		m["type_violations"] += float64(c.typeViol)
		m["format_violations"] += float64(c.formatViol)
		m["short_lists"] += float64(c.short)
		m["errors"] += float64(c.err)
	}
	m["n"] = float64(n)
	if n == 0 {
		return m
	}
	for _, k := range r.cuts {
		m["hr@"+strconv.Itoa(k)] /= float64(n)
		m["ndcg@"+strconv.Itoa(k)] /= float64(n)
	}
	m["p@5"] /= float64(n)
	hk := "hr@" + strconv.Itoa(r.opt.K)
	m[hk+"_se"] = StdErr(m[hk], n)
	m["ndcg@"+strconv.Itoa(r.opt.K)+"_se"] = MeanStdErr(ndcgK)
	m["latency_ms_p50"] = istats.Percentile(lat, 0.50)
	m["latency_ms_p99"] = istats.Percentile(lat, 0.99)
	return m
}

func sortedNames[T any](m map[string]T) []string {
	ns := make([]string, 0, len(m))
	for n := range m {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns
}

// Spaced keeps at most limit elements of xs, evenly spaced (limit <= 0: all).
func Spaced[T any](xs []T, limit int) []T {
	if limit <= 0 || len(xs) <= limit {
		return xs
	}
	out := make([]T, limit)
	for i := range out {
		out[i] = xs[i*len(xs)/limit]
	}
	return out
}
