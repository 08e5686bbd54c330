package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/blevesearch/bleve/v2/search/searcher"
	bindex "github.com/blevesearch/bleve_index_api"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/plugin/prior"
)

// GenerativeQuery is a Bleve query whose hits are the items the model
// generates for a request. Its optional Filter (any Bleve query) constrains
// decoding itself, so k good items come back however selective it is. As a
// query.Query it composes with Bleve's own queries (conjunctions,
// disjunctions, boolean), facets, sorting and paging.
//
// JSON form (as a node of a Bleve query):
//
//	{"generative": {"task": "search", "query": "...", "type": "ring", "k": 10, "filter": {...}}}
type GenerativeQuery struct {
	// Request is what the query decodes (always in the ids format); its
	// JSON node carries task, query, history, context, types, k, filter
	// and fusion, so other fields (BeamWidth, IncludeHistory, ...) apply
	// in process but do not survive MarshalJSON.
	Request
	BoostV *query.Boost

	engine *Engine
}

// NewGenerativeQuery makes a generative query served by e.
func NewGenerativeQuery(e *Engine, req Request) *GenerativeQuery {
	return &GenerativeQuery{Request: req, engine: e}
}

// SetBoost implements query.BoostableQuery.
func (q *GenerativeQuery) SetBoost(b float64) {
	boost := query.Boost(b)
	q.BoostV = &boost
}

// Boost implements query.BoostableQuery.
func (q *GenerativeQuery) Boost() float64 { return q.BoostV.Value() }

// engineRequest is the engine request the query runs (ids format).
func (q *GenerativeQuery) engineRequest() Request {
	r := q.Request
	r.Format = FormatIDs
	return r
}

// MarshalJSON writes the {"generative": {...}} node.
func (q *GenerativeQuery) MarshalJSON() ([]byte, error) {
	r := &q.Request
	inner := struct {
		Task    string       `json:"task,omitempty"`
		Query   string       `json:"query,omitempty"`
		History []string     `json:"history,omitempty"`
		Context string       `json:"context,omitempty"`
		Types   []string     `json:"types,omitempty"`
		K       int          `json:"k,omitempty"`
		Filter  query.Query  `json:"filter,omitempty"`
		Fusion  any          `json:"fusion,omitempty"`
		Boost   *query.Boost `json:"boost,omitempty"`
	}{r.Task, r.Query, r.History, r.Context, r.Types, r.K, r.Filter, nil, q.BoostV}
	switch {
	case q.Fusion == nil:
	case len(q.Fusion) == 0:
		inner.Fusion = "none"
	default:
		inner.Fusion = map[string]float64(q.Fusion)
	}
	return json.Marshal(map[string]any{"generative": inner})
}

// Searcher runs the model and returns a searcher over the generated items,
// scored by their probability under the model (times the boost).
func (q *GenerativeQuery) Searcher(ctx context.Context, r bindex.IndexReader, m mapping.IndexMapping, options search.SearcherOptions) (search.Searcher, error) {
	if q.engine == nil {
		return nil, fmt.Errorf("%w: generative query has no engine", ErrNotReady)
	}
	resp, err := q.engine.Generate(ctx, q.engineRequest())
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(resp.Items))
	scores := make(map[string]float64, len(resp.Items))
	for i, it := range resp.Items {
		ids[i] = it.ID
		scores[it.ID] = math.Exp(it.Score) * q.BoostV.Value()
	}
	inner, err := searcher.NewDocIDSearcher(ctx, r, ids, q.BoostV.Value(), options)
	if err != nil {
		return nil, err
	}
	return &scoredSearcher{Searcher: inner, r: r, scores: scores, explain: options.Explain}, nil
}

// scoredSearcher gives each hit of a DocIDSearcher its generation score.
type scoredSearcher struct {
	search.Searcher
	r       bindex.IndexReader
	scores  map[string]float64
	explain bool
}

func (s *scoredSearcher) rescore(dm *search.DocumentMatch, err error) (*search.DocumentMatch, error) {
	if dm == nil || err != nil {
		return dm, err
	}
	id, err := s.r.ExternalID(dm.IndexInternalID)
	if err != nil {
		return nil, err
	}
	dm.Score = s.scores[id]
	if s.explain {
		dm.Expl = &search.Explanation{Value: dm.Score, Message: "generative: model probability of the item's SID"}
	}
	return dm, nil
}

func (s *scoredSearcher) Next(ctx *search.SearchContext) (*search.DocumentMatch, error) {
	return s.rescore(s.Searcher.Next(ctx))
}

func (s *scoredSearcher) Advance(ctx *search.SearchContext, id bindex.IndexInternalID) (*search.DocumentMatch, error) {
	return s.rescore(s.Searcher.Advance(ctx, id))
}

// ParseQuery parses a Bleve JSON query in which any node may be a
// {"generative": {...}} node, served by e. Conjunctions, disjunctions and
// boolean queries are parsed recursively so a generative clause composes
// with the rest; every other node goes to Bleve's own parser.
func ParseQuery(data []byte, e *Engine) (query.Query, error) {
	if !bytes.Contains(data, []byte(`"generative"`)) {
		return query.ParseQuery(data)
	}
	var node map[string]json.RawMessage
	if err := json.Unmarshal(data, &node); err != nil {
		return nil, fmt.Errorf("%w: query: %v", ErrBadRequest, err)
	}
	boost := func(q query.Query) (query.Query, error) {
		if raw, ok := node["boost"]; ok {
			var b float64
			if err := json.Unmarshal(raw, &b); err != nil {
				return nil, fmt.Errorf("%w: boost: %v", ErrBadRequest, err)
			}
			if bq, ok := q.(query.BoostableQuery); ok {
				bq.SetBoost(b)
			}
		}
		return q, nil
	}
	list := func(raw json.RawMessage) ([]query.Query, error) {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fmt.Errorf("%w: query: %v", ErrBadRequest, err)
		}
		out := make([]query.Query, len(items))
		for i, it := range items {
			q, err := ParseQuery(it, e)
			if err != nil {
				return nil, err
			}
			out[i] = q
		}
		return out, nil
	}
	switch {
	case node["generative"] != nil:
		return parseGenerative(node["generative"], e)
	case node["conjuncts"] != nil:
		qs, err := list(node["conjuncts"])
		if err != nil {
			return nil, err
		}
		return boost(query.NewConjunctionQuery(qs))
	case node["disjuncts"] != nil:
		qs, err := list(node["disjuncts"])
		if err != nil {
			return nil, err
		}
		d := query.NewDisjunctionQuery(qs)
		if raw, ok := node["min"]; ok {
			if err := json.Unmarshal(raw, &d.Min); err != nil {
				return nil, fmt.Errorf("%w: min: %v", ErrBadRequest, err)
			}
		}
		return boost(d)
	case node["must"] != nil || node["should"] != nil || node["must_not"] != nil:
		b := query.NewBooleanQuery(nil, nil, nil)
		for name, dst := range map[string]*query.Query{"must": &b.Must, "should": &b.Should, "must_not": &b.MustNot} {
			if raw, ok := node[name]; ok {
				q, err := ParseQuery(raw, e)
				if err != nil {
					return nil, err
				}
				*dst = q
			}
		}
		return boost(b)
	}
	return query.ParseQuery(data)
}

func parseGenerative(raw json.RawMessage, e *Engine) (query.Query, error) {
	var g struct {
		Task    string          `json:"task"`
		Query   string          `json:"query"`
		History []string        `json:"history"`
		Context string          `json:"context"`
		Type    index.Types     `json:"type"`
		Types   []string        `json:"types"`
		K       int             `json:"k"`
		Filter  json.RawMessage `json:"filter"`
		Fusion  any             `json:"fusion"`
		Boost   *float64        `json:"boost"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return nil, fmt.Errorf("%w: generative query: %v", ErrBadRequest, err)
	}
	q := NewGenerativeQuery(e, Request{Task: g.Task, Query: g.Query, History: g.History, Context: g.Context,
		Types: append(g.Types, g.Type...), K: g.K})
	f, err := index.ParseFilterJSON(g.Filter, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: generative query filter: %v", ErrBadRequest, err)
	}
	q.Filter = f
	if g.Fusion != nil {
		w, err := prior.Parse(g.Fusion)
		if err != nil {
			return nil, fmt.Errorf("%w: generative query: %v", ErrBadRequest, err)
		}
		q.Fusion = w
	}
	if g.Boost != nil {
		q.SetBoost(*g.Boost)
	}
	return q, nil
}
