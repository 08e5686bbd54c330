package prior

import (
	"context"
	"math"
	"strings"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
)

// TextHits caps the hits of a text expert. A Bleve search costs about as
// much per hit it returns as per document it scores, and past the first
// couple of hundred BM25 hits the scores are flat enough that the
// smoothing share says the same.
const TextHits = 200

// TextExpert is the bm25 expert over a Bleve index: a match query of the
// request's text on each of fields (the catalog's title and description),
// restricted to the request's types (typeField) and filter, so that the
// hits it returns are ones the request may emit. It has nothing to say
// without text. Bleve scores with the index mapping's scoring model (BM25
// for catalogs made by index.NewMapping). A hit's weight is exp(score −
// best score), so the expert's log P is the BM25 score itself (up to a
// constant) and λ scales score differences: two hits a BM25 point apart
// differ by λ nats in the beam. (Weights proportional to the raw score
// would make a full match only log 2 better than a half match, whatever
// the query.)
func TextExpert(idx bleve.Index, typeField string, fields ...string) Expert {
	return ExpertFunc(func(ctx context.Context, q Query) ([]Hit, error) {
		bq := TextQuery(q.Text, typeField, q.Types, q.Filter, fields...)
		if bq == nil {
			return nil, nil
		}
		req := bleve.NewSearchRequestOptions(bq, TextHits, 0, false)
		// Bleve's default order (score, then index order) breaks ties stably
		// without loading every matching document's _id, as an "_id" sort would.
		res, err := idx.SearchInContext(ctx, req)
		if err != nil {
			return nil, err
		}
		return softmaxHits(res.Hits), nil
	})
}

// softmaxHits weighs Bleve hits by exp(score − max score); hits without a
// positive score are left out.
func softmaxHits(hs search.DocumentMatchCollection) []Hit {
	best := 0.0
	for _, h := range hs {
		best = max(best, h.Score)
	}
	out := make([]Hit, 0, len(hs))
	for _, h := range hs {
		if h.Score > 0 {
			out = append(out, Hit{ID: h.ID, Score: math.Exp(h.Score - best)})
		}
	}
	return out
}

// TextQuery is the query of a text expert (and of the bm25 baseline, which
// is the same ranking): a match of text on any of fields, and one of types
// on typeField when types are given, and filter when it is not nil. nil
// when there is no text to match.
func TextQuery(text, typeField string, types []string, filter query.Query, fields ...string) query.Query {
	text = strings.TrimSpace(text)
	if text == "" || len(fields) == 0 {
		return nil
	}
	var anyField []query.Query
	for _, f := range fields {
		m := bleve.NewMatchQuery(text)
		m.SetField(f)
		anyField = append(anyField, m)
	}
	all := []query.Query{bleve.NewDisjunctionQuery(anyField...)}
	if len(types) > 0 && typeField != "" {
		var ts []query.Query
		for _, t := range types {
			tq := bleve.NewTermQuery(t)
			tq.SetField(typeField)
			ts = append(ts, tq)
		}
		all = append(all, bleve.NewDisjunctionQuery(ts...))
	}
	if filter != nil {
		all = append(all, filter)
	}
	if len(all) == 1 {
		return all[0]
	}
	return bleve.NewConjunctionQuery(all...)
}
