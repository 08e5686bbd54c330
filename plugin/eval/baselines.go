package eval

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"

	"github.com/neo-search/neo/index/assign"
	"github.com/neo-search/neo/index/folder"
	"github.com/neo-search/neo/plugin/prior"
)

// Searcher answers a search query with ranked item ids (best first, at most
// k). It must honour q.Type when set.
type Searcher interface {
	Search(ctx context.Context, q folder.Query, k int) ([]string, error)
}

// Recommender answers a next-item request: history is the user's items,
// oldest first; typ the entity type asked for ("" = any; Run passes the
// target item's type). It returns ranked item ids (at most k) and should
// not repeat history items.
type Recommender interface {
	Recommend(ctx context.Context, history []string, typ string, k int) ([]string, error)
}

// Methods are the named methods Run measures.
type Methods struct {
	Search    map[string]Searcher
	Recommend map[string]Recommender
}

// Keep drops the methods whose names are not in names (spaces around a
// name are ignored).
func (m *Methods) Keep(names []string) {
	keep := make([]string, len(names))
	for i, n := range names {
		keep[i] = strings.TrimSpace(n)
	}
	for name := range m.Search {
		if !slices.Contains(keep, name) {
			delete(m.Search, name)
		}
	}
	for name := range m.Recommend {
		if !slices.Contains(keep, name) {
			delete(m.Recommend, name)
		}
	}
}

// PriorWeight is the weight of the popularity prior in bm25_prior:
// score = bm25/max_bm25 + PriorWeight * log(1+pop)/log(1+max_pop), over the
// BM25 hits of the query (both terms lie in [0,1]). Fixed a priori, not
// tuned on test data.
const PriorWeight = 0.3

// Baselines builds the standard baselines of ds from its train data only:
// search "bm25", "popularity", "bm25_prior" (when ds has queries) and
// recommend "popularity", "itemknn", "seqknn", "contentknn" (when ds has interactions),
// and the baseline-only fusions "rrf_bm25_popularity" (search) and
// "rrf_itemknn_seqknn_popularity" (recommend). close releases the
// baselines' in-memory Bleve index.
func Baselines(ctx context.Context, ds *folder.Folder) (m Methods, close func() error, err error) {
	kit, err := NewKit(ctx, ds)
	if err != nil {
		return Methods{}, nil, err
	}
	return kit.Baselines(), kit.Close, nil
}

// Kit holds the baselines' statistics and lexical index, so the baselines
// and the fusion experts given to neo (Experts) are the same numbers.
type Kit struct {
	st  *stats
	lex *lexical // nil without queries
}

// NewKit builds the statistics of ds's train data.
func NewKit(ctx context.Context, ds *folder.Folder) (*Kit, error) {
	k := &Kit{st: newStats(ds)}
	if ds.HasQueries {
		lex, err := newLexical(ctx, ds, k.st)
		if err != nil {
			return nil, err
		}
		k.lex = lex
	}
	return k, nil
}

// Close releases the lexical index.
func (k *Kit) Close() error {
	if k.lex != nil {
		return k.lex.idx.Close()
	}
	return nil
}

// Baselines are the methods Baselines describes.
func (k *Kit) Baselines() Methods {
	st := k.st
	m := Methods{Search: map[string]Searcher{}, Recommend: map[string]Recommender{}}
	if k.lex != nil {
		bm := &BM25{lex: k.lex}
		pop := &Popular{st: st, rank: st.searchRank}
		m.Search["bm25"] = bm
		m.Search["bm25_prior"] = &BM25{lex: k.lex, Prior: PriorWeight}
		m.Search["popularity"] = pop
		m.Search["rrf_bm25_popularity"] = RRFSearch{bm, pop}
	}
	if st.ds.HasInteractions {
		pop := &PopularRec{st: st}
		ik := &ItemKNN{st: st, cf: st.cf()}
		sk := &SeqKNN{st: st, cf: st.cf()}
		m.Recommend["popularity"] = pop
		m.Recommend["itemknn"] = ik
		m.Recommend["seqknn"] = sk
		m.Recommend["rrf_itemknn_seqknn_popularity"] = RRFRecommend{ik, sk, pop}
		m.Recommend["contentknn"] = k.ContentKNN()
	}
	return m
}

// Experts are the fusion experts over the same statistics as the
// baselines: bm25 is the bm25 baseline's index and scores (top
// prior.TextHits of the query, or of a recommendation's context);
// popularity weighs log(1+count) of the search popularity for search and of
// the train interactions otherwise; itemknn and seqknn are the baselines'
// scores of the history.
func (k *Kit) Experts() map[string]prior.Expert {
	st := k.st
	ex := map[string]prior.Expert{}
	if k.lex != nil {
		// the baseline's index has no catalog fields to filter on, and the
		// evaluation sends no filters
		ex[prior.BM25] = prior.TextExpert(k.lex.idx, "type", lexFields...)
	}
	ex[prior.Popularity] = prior.StaticExpert{
		"search": prior.PopularityHits(st.ids, st.searchPop),
		"":       prior.PopularityHits(st.ids, st.trainCount),
	}
	if st.ds.HasInteractions {
		cf := st.cf()
		ex[prior.ItemKNN] = cf.ItemKNNExpert()
		ex[prior.SeqKNN] = cf.SeqKNNExpert()
		ex[prior.Content] = st.content().Expert()
	}
	return ex
}

// rrf fuses ranked lists by reciprocal rank (prior.ReciprocalRank, the
// rrf expert's), the best k ids.
func rrf(lists [][]string, k int) []string {
	hits := prior.ReciprocalRank(lists)
	out := make([]string, 0, min(k, len(hits)))
	for _, h := range hits[:min(k, len(hits))] {
		out = append(out, h.ID)
	}
	return out
}

// RRFSearch fuses searchers' lists by reciprocal rank (fusion after
// retrieval, as hybrid search engines do).
type RRFSearch []Searcher

// Search implements Searcher.
func (f RRFSearch) Search(ctx context.Context, q folder.Query, k int) ([]string, error) {
	lists := make([][]string, len(f))
	for i, s := range f {
		l, err := s.Search(ctx, q, max(k, prior.RRFDepth))
		if err != nil {
			return nil, err
		}
		lists[i] = l
	}
	return rrf(lists, k), nil
}

// RRFRecommend fuses recommenders' lists by reciprocal rank.
type RRFRecommend []Recommender

// Recommend implements Recommender.
func (f RRFRecommend) Recommend(ctx context.Context, history []string, typ string, k int) ([]string, error) {
	lists := make([][]string, len(f))
	for i, r := range f {
		l, err := r.Recommend(ctx, history, typ, max(k, prior.RRFDepth))
		if err != nil {
			return nil, err
		}
		lists[i] = l
	}
	return rrf(lists, k), nil
}

// stats holds the catalog in dense form and the train popularity counts.
type stats struct {
	ds    *folder.Folder
	ids   []string
	types []string
	avail []bool
	ord   map[string]int32
	// trainCount: train interactions per item. searchPop: train query labels
	// per item ("most tagged"), interactions as a fractional tie-break; pure
	// interactions when there are no train queries.
	trainCount []float64
	searchPop  []float64
	searchRank ranking
	recRank    ranking

	cfOnce  sync.Once
	cfStats *prior.CF

	contentOnce sync.Once
	contentIdx  *prior.ContentIndex
}

// content is the TF-IDF index of the items' text, shared by the
// contentknn baseline and the content expert.
func (st *stats) content() *prior.ContentIndex {
	st.contentOnce.Do(func() {
		texts := make([]string, len(st.ds.Items))
		for i, it := range st.ds.Items {
			texts[i] = assign.ItemText(it)
		}
		st.contentIdx = prior.NewContent(st.ids, texts)
	})
	return st.contentIdx
}

// cf is the collaborative statistics of the train sequences, shared by
// the itemknn and seqknn baselines and the fusion priors.
func (st *stats) cf() *prior.CF {
	st.cfOnce.Do(func() { st.cfStats = prior.NewCF(st.ids, trainSequences(st.ds, st)) })
	return st.cfStats
}

// ranking is a precomputed popularity order of the available items, overall
// and per type.
type ranking struct {
	all    []int32
	byType map[string][]int32
}

func (r ranking) of(typ string) []int32 {
	if typ == "" {
		return r.all
	}
	return r.byType[typ]
}

func newStats(ds *folder.Folder) *stats {
	n := len(ds.Items)
	st := &stats{ds: ds, ids: make([]string, n), types: make([]string, n), avail: make([]bool, n),
		ord: make(map[string]int32, n), trainCount: make([]float64, n), searchPop: make([]float64, n)}
	for i, it := range ds.Items {
		st.ids[i], st.types[i], st.avail[i] = it.ID, it.Type, it.InStock
		st.ord[it.ID] = int32(i)
	}
	for _, x := range ds.Interactions {
		if i, ok := st.ord[x.Item]; ok && x.Split == "train" {
			st.trainCount[i]++
		}
	}
	maxTrain := 0.0
	for _, c := range st.trainCount {
		maxTrain = max(maxTrain, c)
	}
	for i, c := range st.trainCount {
		st.searchPop[i] = c / (1 + maxTrain)
	}
	for _, q := range ds.Queries {
		if q.Split != "train" {
			continue
		}
		for _, r := range q.Relevant {
			if i, ok := st.ord[r.Item]; ok && r.Grade > 0 {
				st.searchPop[i]++
			}
		}
	}
	st.searchRank = st.rank(st.searchPop)
	st.recRank = st.rank(st.trainCount)
	return st
}

// rank orders the available items by score (desc), ties by catalog order.
func (st *stats) rank(score []float64) ranking {
	var all []int32
	for i := range score {
		if st.avail[i] {
			all = append(all, int32(i))
		}
	}
	slices.SortStableFunc(all, func(a, b int32) int { return cmp.Compare(score[b], score[a]) })
	r := ranking{all: all, byType: map[string][]int32{}}
	for _, i := range all {
		r.byType[st.types[i]] = append(r.byType[st.types[i]], i)
	}
	return r
}

// fill appends items of rank to out, skipping excluded and listed ones,
// until out holds k ids.
func (st *stats) fill(out []string, listed map[int32]bool, rank []int32, k int) []string {
	for _, i := range rank {
		if len(out) >= k {
			break
		}
		if !listed[i] {
			listed[i] = true
			out = append(out, st.ids[i])
		}
	}
	return out
}

// ok reports whether item i may be returned for type typ.
func (st *stats) ok(i int32, typ string) bool {
	return st.avail[i] && (typ == "" || st.types[i] == typ)
}

// Popular is the search popularity baseline: the same most-popular list
// (most tagged, i.e. most train query labels; most interacted as
// tie-break) for every query, filtered by type.
type Popular struct {
	st   *stats
	rank ranking
}

// Search implements Searcher.
func (p *Popular) Search(_ context.Context, q folder.Query, k int) ([]string, error) {
	return p.st.fill(nil, map[int32]bool{}, p.rank.of(q.Type), k), nil
}

// lexical is the baselines' own in-memory Bleve index (scorch, BM25
// scoring), independent of the catalog mapping of package index so the
// baseline stays fixed. Fields: title, description, brand, attrs (attribute
// values except "true"/"false" flags), tags (the text of every train query
// that labels the item relevant — for MovieLens the item's training-split
// tags), all with the English analyzer; type as a keyword. Only available
// items are indexed.
type lexical struct {
	idx bleve.Index
	st  *stats
}

var lexFields = []string{"title", "description", "brand", "attrs", "tags"}

func newLexical(ctx context.Context, ds *folder.Folder, st *stats) (*lexical, error) {
	text := bleve.NewTextFieldMapping()
	text.Analyzer = en.AnalyzerName
	text.Store = false
	text.IncludeInAll = false
	text.IncludeTermVectors = false
	kw := bleve.NewKeywordFieldMapping()
	kw.Store = false
	kw.IncludeInAll = false
	kw.IncludeTermVectors = false
	dm := bleve.NewDocumentStaticMapping()
	for _, f := range lexFields {
		dm.AddFieldMappingsAt(f, text)
	}
	dm.AddFieldMappingsAt("type", kw)
	im := bleve.NewIndexMapping()
	im.DefaultMapping = dm
	im.ScoringModel = "bm25"
	// Scorch with an empty path is memory-only and, unlike upsidedown
	// (bleve.NewMemOnly), supports BM25 scoring.
	idx, err := bleve.NewUsing("", im, "scorch", "scorch", nil)
	if err != nil {
		return nil, fmt.Errorf("baseline index: %w", err)
	}
	tags := map[string][]string{}
	for _, q := range ds.Queries {
		if q.Split != "train" {
			continue
		}
		for _, r := range q.Relevant {
			if r.Grade > 0 {
				tags[r.Item] = append(tags[r.Item], q.Query)
			}
		}
	}
	b := idx.NewBatch()
	for _, it := range ds.Items {
		if err := ctx.Err(); err != nil {
			idx.Close()
			return nil, err
		}
		if !it.InStock {
			continue
		}
		var attrs []string
		for _, k := range sortedKeys(it.Attributes) {
			v := it.Attributes[k]
			if v != "" && v != "true" && v != "false" {
				attrs = append(attrs, v)
			}
		}
		doc := map[string]any{"title": it.Title, "description": it.Description, "brand": it.Brand,
			"attrs": strings.Join(attrs, " ; "), "tags": strings.Join(tags[it.ID], " ; "), "type": it.Type}
		if err := b.Index(it.ID, doc); err != nil {
			idx.Close()
			return nil, err
		}
		if b.Size() >= 1000 {
			if err := idx.Batch(b); err != nil {
				idx.Close()
				return nil, err
			}
			b.Reset()
		}
	}
	if err := idx.Batch(b); err != nil {
		idx.Close()
		return nil, err
	}
	return &lexical{idx: idx, st: st}, nil
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

type hit struct {
	i     int32
	score float64
}

// search runs the BM25 query (a disjunction of match queries, one per
// field, AND the type when set) and returns up to n hits.
func (l *lexical) search(ctx context.Context, q folder.Query, n int) ([]hit, error) {
	var types []string
	if q.Type != "" {
		types = []string{q.Type}
	}
	bq := prior.TextQuery(q.Query, "type", types, nil, lexFields...)
	if bq == nil {
		return nil, nil
	}
	req := bleve.NewSearchRequestOptions(bq, n, 0, false)
	req.SortBy([]string{"-_score", "_id"})
	res, err := l.idx.SearchInContext(ctx, req)
	if err != nil {
		return nil, err
	}
	hits := make([]hit, 0, len(res.Hits))
	for _, h := range res.Hits {
		if i, ok := l.st.ord[h.ID]; ok {
			hits = append(hits, hit{i, h.Score})
		}
	}
	return hits, nil
}

// BM25 is the lexical search baseline. With Prior > 0 it re-ranks the BM25
// hits with a log-popularity prior (see PriorWeight). Both fill a short
// list with the most popular remaining items of the type, so every method
// answers k ids.
type BM25 struct {
	lex   *lexical
	Prior float64
}

// Search implements Searcher.
func (b *BM25) Search(ctx context.Context, q folder.Query, k int) ([]string, error) {
	st := b.lex.st
	n := k
	if b.Prior > 0 {
		n = max(200, 4*k)
	}
	hits, err := b.lex.search(ctx, q, n)
	if err != nil {
		return nil, err
	}
	if b.Prior > 0 && len(hits) > 0 {
		maxS, maxP := 0.0, 0.0
		for _, h := range hits {
			maxS = max(maxS, h.score)
		}
		for _, p := range st.searchPop {
			maxP = max(maxP, p)
		}
		for j := range hits {
			s := hits[j].score
			if maxS > 0 {
				s /= maxS
			}
			if maxP > 0 {
				s += b.Prior * math.Log1p(st.searchPop[hits[j].i]) / math.Log1p(maxP)
			}
			hits[j].score = s
		}
		slices.SortStableFunc(hits, func(a, b hit) int { return cmp.Compare(b.score, a.score) })
	}
	out := make([]string, 0, k)
	listed := make(map[int32]bool, k)
	for _, h := range hits {
		if len(out) >= k {
			break
		}
		if st.ok(h.i, q.Type) && !listed[h.i] {
			listed[h.i] = true
			out = append(out, st.ids[h.i])
		}
	}
	return st.fill(out, listed, st.searchRank.of(q.Type), k), nil
}

// historySet maps the known history items to true, so they are excluded.
func (st *stats) historySet(history []string) map[int32]bool {
	m := make(map[int32]bool, len(history))
	for _, h := range history {
		if i, ok := st.ord[h]; ok {
			m[i] = true
		}
	}
	return m
}

// PopularRec recommends the most interacted (train) items of the type that
// are not in the history.
type PopularRec struct{ st *stats }

// Recommend implements Recommender.
func (p *PopularRec) Recommend(_ context.Context, history []string, typ string, k int) ([]string, error) {
	return p.st.fill(nil, p.st.historySet(history), p.st.recRank.of(typ), k), nil
}

// topScored returns the k best-scored candidates (score > 0, allowed for
// typ, not excluded), ties by catalog order, then fills with popularity.
func (st *stats) topScored(score []float64, touched []int32, exclude map[int32]bool, typ string, k int) []string {
	cand := touched[:0:0]
	for _, i := range touched {
		if score[i] > 0 && !exclude[i] && st.ok(i, typ) {
			cand = append(cand, i)
		}
	}
	slices.SortFunc(cand, func(a, b int32) int { return cmp.Or(cmp.Compare(score[b], score[a]), cmp.Compare(a, b)) })
	out := make([]string, 0, k)
	for _, i := range cand {
		if len(out) >= k {
			break
		}
		exclude[i] = true
		out = append(out, st.ids[i])
	}
	return st.fill(out, exclude, st.recRank.of(typ), k)
}

// trainSequences returns each user's train items in time order (ties by
// file order), as dense item ordinals; unknown items are dropped.
func trainSequences(ds *folder.Folder, st *stats) [][]int32 {
	return prior.Sequences(st.ord, ds.Interactions, func(x *folder.Interaction) bool { return x.Split == "train" })
}

// ItemKNN scores candidates by item-item cosine similarity of their user
// sets (train events, each user counted once per item), summed over the
// last cf.LastN distinct history items (prior.CF.ItemKNNScores).
type ItemKNN struct {
	st *stats
	cf *prior.CF
}

// Recommend implements Recommender.
func (m *ItemKNN) Recommend(ctx context.Context, history []string, typ string, k int) ([]string, error) {
	score := make([]float64, len(m.st.ids))
	touched, err := m.cf.ItemKNNScores(ctx, history, score)
	if err != nil {
		return nil, err
	}
	return m.st.topScored(score, touched, m.st.historySet(history), typ, k), nil
}

// SeqKNN scores candidates by ordered co-occurrence in the train sequences
// (prior.CF.SeqKNNScores: b following a within 3 positions counts once for
// a→b; the p-th most recent history item weighs 1/p).
type SeqKNN struct {
	st *stats
	cf *prior.CF
}

// Recommend implements Recommender.
func (m *SeqKNN) Recommend(ctx context.Context, history []string, typ string, k int) ([]string, error) {
	score := make([]float64, len(m.st.ids))
	touched, err := m.cf.SeqKNNScores(ctx, history, score)
	if err != nil {
		return nil, err
	}
	return m.st.topScored(score, touched, m.st.historySet(history), typ, k), nil
}
