package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/blevesearch/bleve/v2/search/searcher"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/internal/textutil"

	"github.com/neo-search/neo/plugin"
	"github.com/neo-search/neo/plugin/prior"
)

// QueryParser turns a Bleve JSON query into a query.Query. The server
// takes it as a function so that the engine's parser, which also knows
// {"generative": {...}} nodes, can be plugged in without this package
// depending on how it is built.
type QueryParser func(data []byte) (query.Query, error)

// Limits bound what one request may ask for. Zero fields take the defaults.
type Limits struct {
	MaxK         int   // items per answer (default 100)
	MaxTokens    int   // max_tokens of a generation (default 512)
	MaxHistory   int   // history items of a recommendation (default 200)
	MaxTextBytes int   // bytes of query, context or prompt text (default 8192)
	MaxTypes     int   // entity types in a type list (default 32)
	MaxBodyBytes int64 // request body, except _bulk (default 1 MiB)
	MaxBulkBytes int64 // _bulk body (default 64 MiB)
	MaxSize      int   // _search from+size (default 10000)
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxK, 100)
	def(&l.MaxTokens, 512)
	def(&l.MaxHistory, 200)
	def(&l.MaxTextBytes, 8192)
	def(&l.MaxTypes, 32)
	def(&l.MaxSize, 10000)
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = 1 << 20
	}
	if l.MaxBulkBytes <= 0 {
		l.MaxBulkBytes = 64 << 20
	}
	return l
}

// defaultK is the number of items an answer has when k is not given.
const defaultK = 10

// Types is an entity type list; JSON accepts one string or an array.
type Types = index.Types

// SearchRequest is the body of POST /v1/search.
type SearchRequest struct {
	Query   string          `json:"query"`
	Type    Types           `json:"type,omitempty"`
	Filter  json.RawMessage `json:"filter,omitempty"`
	K       *int            `json:"k,omitempty"`
	Format  string          `json:"format,omitempty"`
	Explain bool            `json:"explain,omitempty"`
	// Fusion overrides the model directory's fusion weights: an object of
	// expert names (bm25, itemknn, seqknn, cf, popularity, rrf) to λ ≥ 0, or
	// "none" for the model alone. Absent: the defaults.
	Fusion json.RawMessage `json:"fusion,omitempty"`
}

// RecommendRequest is the body of POST /v1/recommend.
type RecommendRequest struct {
	History        []string        `json:"history"`
	Context        string          `json:"context,omitempty"`
	Type           Types           `json:"type,omitempty"`
	Filter         json.RawMessage `json:"filter,omitempty"`
	K              *int            `json:"k,omitempty"`
	Format         string          `json:"format,omitempty"`
	IncludeHistory bool            `json:"include_history,omitempty"`
	Fusion         json.RawMessage `json:"fusion,omitempty"` // as SearchRequest.Fusion
}

// GenerateInputs fill the task template's placeholders.
type GenerateInputs struct {
	Query   string   `json:"query,omitempty"`
	History []string `json:"history,omitempty"`
	Context string   `json:"context,omitempty"`
	Type    Types    `json:"type,omitempty"`
}

// GenerateRequest is the body of POST /v1/generate.
type GenerateRequest struct {
	Task        string          `json:"task,omitempty"`
	Prompt      string          `json:"prompt,omitempty"`
	Inputs      *GenerateInputs `json:"inputs,omitempty"`
	Format      string          `json:"format"`
	MaxTokens   *int            `json:"max_tokens,omitempty"`
	Temperature *float64        `json:"temperature,omitempty"`
	TopP        *float64        `json:"top_p,omitempty"`
	Seed        uint64          `json:"seed,omitempty"`
	K           *int            `json:"k,omitempty"`
	Filter      json.RawMessage `json:"filter,omitempty"`
	Stream      bool            `json:"stream,omitempty"`
	Fusion      json.RawMessage `json:"fusion,omitempty"` // as SearchRequest.Fusion
}

// decoder turns request bodies into engine requests under the limits.
type decoder struct {
	lim   Limits
	parse QueryParser
}

// strictJSON decodes exactly one JSON value into v, refusing unknown
// fields and trailing data, with messages that name the offending field.
func strictJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest(CodeEmptyBody, "request body is empty; want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest(CodeBadJSON, "%s", jsonMessage(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest(CodeBadJSON, "unexpected data after the JSON object")
	}
	return nil
}

// jsonMessage rewrites encoding/json errors for people.
func jsonMessage(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, se.Error())
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("field %q: want %s, got JSON %s", te.Field, te.Type.String(), te.Value)
		}
		return fmt.Sprintf("want a JSON object, got JSON %s", te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "truncated JSON"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// k checks an optional k against the limits.
func (d *decoder) k(k *int) (int, error) {
	if k == nil {
		return min(defaultK, d.lim.MaxK), nil
	}
	if *k < 1 || *k > d.lim.MaxK {
		return 0, badRequest(CodeKOutOfRange, "k must be between 1 and %d, got %d", d.lim.MaxK, *k)
	}
	return *k, nil
}

func (d *decoder) text(field, s string) error {
	if len(s) > d.lim.MaxTextBytes {
		return badRequest(CodeInvalidArgument, "%s is %d bytes, the limit is %d", field, len(s), d.lim.MaxTextBytes)
	}
	return nil
}

func (d *decoder) types(t Types) ([]string, error) {
	if len(t) > d.lim.MaxTypes {
		return nil, badRequest(CodeInvalidArgument, "type lists %d types, the limit is %d", len(t), d.lim.MaxTypes)
	}
	for _, s := range t {
		if strings.TrimSpace(s) == "" {
			return nil, badRequest(CodeInvalidArgument, "type: empty type name")
		}
		if len(s) > 128 {
			return nil, badRequest(CodeInvalidArgument, "type: name longer than 128 bytes")
		}
	}
	return []string(t), nil
}

func (d *decoder) history(h []string) error {
	if len(h) > d.lim.MaxHistory {
		return badRequest(CodeHistoryTooLong, "history has %d items, the limit is %d", len(h), d.lim.MaxHistory)
	}
	for i, id := range h {
		if strings.TrimSpace(id) == "" {
			return badRequest(CodeInvalidArgument, "history[%d] is empty", i)
		}
		if len(id) > 512 {
			return badRequest(CodeInvalidArgument, "history[%d] is longer than 512 bytes", i)
		}
	}
	return nil
}

func format(f string, allowed ...string) error {
	if f == "" {
		return nil
	}
	for _, a := range allowed {
		if f == a {
			return nil
		}
	}
	return badRequest(CodeInvalidArgument, "format %q is not one of %s", clip(f), strings.Join(allowed, ", "))
}

// filter turns a filter field into a query (index.ParseFilterJSON; an
// object goes through the injected parser, so it may hold generative
// nodes); null or "" is no filter.
func (d *decoder) filter(raw json.RawMessage) (query.Query, error) {
	q, err := index.ParseFilterJSON(raw, func(b []byte) (query.Query, error) { return d.jsonQuery(b, "filter", CodeBadFilter) })
	var ae *apiError
	switch {
	case err == nil:
		return q, nil
	case errors.As(err, &ae), errors.Is(err, plugin.ErrNotReady):
		return nil, err
	}
	return nil, badRequest(CodeBadFilter, "filter: %s", jsonMessage(err))
}

// queryString parses a Bleve query string now, so that its syntax errors
// are the caller's 400 and not a failure deep inside the search.
func queryString(s, field, code string) (query.Query, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	q := bleve.NewQueryStringQuery(s)
	if _, err := q.Parse(); err != nil {
		return nil, badRequest(code, "%s: query string does not parse: %v", field, err)
	}
	return q, nil
}

// jsonQuery parses and validates a Bleve JSON query with the injected
// parser. Bleve's parsers can panic on odd input; that is a 400 too.
func (d *decoder) jsonQuery(raw []byte, field, code string) (q query.Query, err error) {
	defer func() {
		if r := recover(); r != nil {
			q, err = nil, badRequest(code, "%s: invalid query: %v", field, r)
		}
	}()
	q, err = d.parse(raw)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			return nil, ae
		}
		if errors.Is(err, plugin.ErrNotReady) {
			return nil, err
		}
		return nil, badRequest(code, "%s: %v", field, err)
	}
	if q == nil {
		return nil, badRequest(code, "%s: empty query", field)
	}
	if v, ok := q.(query.ValidatableQuery); ok {
		if err := v.Validate(); err != nil {
			return nil, badRequest(code, "%s: %v", field, err)
		}
	}
	return q, nil
}

// searchOptions are the parts of a search request that shape the answer
// rather than the engine request.
type searchOptions struct {
	Explain bool
}

func (d *decoder) search(body []byte) (plugin.Request, searchOptions, error) {
	var in SearchRequest
	if err := strictJSON(body, &in); err != nil {
		return plugin.Request{}, searchOptions{}, err
	}
	req := plugin.Request{Task: plugin.TaskSearch, Query: in.Query, Format: in.Format}
	if strings.TrimSpace(in.Query) == "" {
		return req, searchOptions{}, badRequest(CodeMissingField, "query is required")
	}
	var err error
	if err = d.text("query", in.Query); err != nil {
		return req, searchOptions{}, err
	}
	if req.Types, err = d.types(in.Type); err != nil {
		return req, searchOptions{}, err
	}
	if req.K, err = d.k(in.K); err != nil {
		return req, searchOptions{}, err
	}
	if err = format(in.Format, plugin.FormatIDs, plugin.FormatMixed); err != nil {
		return req, searchOptions{}, err
	}
	if req.Filter, err = d.filter(in.Filter); err != nil {
		return req, searchOptions{}, err
	}
	if req.Fusion, err = fusion(in.Fusion); err != nil {
		return req, searchOptions{}, err
	}
	req.Explain = in.Explain
	return req, searchOptions{Explain: in.Explain}, nil
}

func (d *decoder) recommend(body []byte) (plugin.Request, error) {
	var in RecommendRequest
	if err := strictJSON(body, &in); err != nil {
		return plugin.Request{}, err
	}
	req := plugin.Request{Task: plugin.TaskRecommend, History: in.History, Context: in.Context,
		Format: in.Format, IncludeHistory: in.IncludeHistory}
	if len(in.History) == 0 && strings.TrimSpace(in.Context) == "" {
		return req, badRequest(CodeMissingField, "history is required (a list of item ids, oldest first), or at least a context")
	}
	var err error
	if err = d.history(in.History); err != nil {
		return req, err
	}
	if err = d.text("context", in.Context); err != nil {
		return req, err
	}
	if req.Types, err = d.types(in.Type); err != nil {
		return req, err
	}
	if req.K, err = d.k(in.K); err != nil {
		return req, err
	}
	if err = format(in.Format, plugin.FormatIDs, plugin.FormatMixed); err != nil {
		return req, err
	}
	if req.Filter, err = d.filter(in.Filter); err != nil {
		return req, err
	}
	if req.Fusion, err = fusion(in.Fusion); err != nil {
		return req, err
	}
	return req, nil
}

// fusion reads a request's "fusion" field (see SearchRequest.Fusion); nil
// when absent.
func fusion(raw json.RawMessage) (prior.Weights, error) {
	if len(raw) == 0 || isJSONNull(raw) {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, badRequest(CodeInvalidArgument, "fusion: want an object of expert weights or \"none\"")
	}
	w, err := prior.Parse(v)
	if err != nil {
		return nil, badRequest(CodeInvalidArgument, "fusion: %v", err)
	}
	return w, nil
}

func isJSONNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

func (d *decoder) generate(body []byte) (plugin.Request, bool, error) {
	var in GenerateRequest
	if err := strictJSON(body, &in); err != nil {
		return plugin.Request{}, false, err
	}
	req := plugin.Request{Task: in.Task, Prompt: in.Prompt, Format: in.Format, Seed: in.Seed}
	if in.Format == "" {
		return req, false, badRequest(CodeMissingField, "format is required: ids, text or mixed")
	}
	if err := format(in.Format, plugin.FormatIDs, plugin.FormatText, plugin.FormatMixed); err != nil {
		return req, false, err
	}
	switch in.Task {
	case "", plugin.TaskSearch, plugin.TaskRecommend, plugin.TaskExplain, plugin.TaskMixed:
	default:
		return req, false, badRequest(CodeInvalidArgument, "task %q is not one of search, recommend, explain, mixed", clip(in.Task))
	}
	var err error
	if err = d.text("prompt", in.Prompt); err != nil {
		return req, false, err
	}
	if in.Inputs != nil {
		req.Query, req.History, req.Context = in.Inputs.Query, in.Inputs.History, in.Inputs.Context
		if err = d.text("inputs.query", req.Query); err != nil {
			return req, false, err
		}
		if err = d.text("inputs.context", req.Context); err != nil {
			return req, false, err
		}
		if err = d.history(req.History); err != nil {
			return req, false, err
		}
		if req.Types, err = d.types(in.Inputs.Type); err != nil {
			return req, false, err
		}
	}
	if in.Task == "" && strings.TrimSpace(in.Prompt) == "" && strings.TrimSpace(req.Query) == "" {
		return req, false, badRequest(CodeMissingField, "give a task, a prompt or inputs.query")
	}
	if in.MaxTokens != nil {
		if *in.MaxTokens < 1 || *in.MaxTokens > d.lim.MaxTokens {
			return req, false, badRequest(CodeMaxTokens, "max_tokens must be between 1 and %d, got %d", d.lim.MaxTokens, *in.MaxTokens)
		}
		req.MaxTokens = *in.MaxTokens
	}
	if in.Temperature != nil {
		t := *in.Temperature
		if math.IsNaN(t) || t < 0 || t > 5 {
			return req, false, badRequest(CodeInvalidArgument, "temperature must be between 0 and 5, got %v", t)
		}
		req.Temperature = t
	}
	if in.TopP != nil {
		p := *in.TopP
		if math.IsNaN(p) || p <= 0 || p > 1 {
			return req, false, badRequest(CodeInvalidArgument, "top_p must be in (0, 1], got %v", p)
		}
		req.TopP = p
	}
	if req.K, err = d.k(in.K); err != nil {
		return req, false, err
	}
	if req.Filter, err = d.filter(in.Filter); err != nil {
		return req, false, err
	}
	if req.Fusion, err = fusion(in.Fusion); err != nil {
		return req, false, err
	}
	return req, in.Stream, nil
}

// searchRequest decodes a Bleve SearchRequest whose query may hold nodes
// only the injected parser knows (bleve's own UnmarshalJSON would reject
// them): the query is cut out, the rest decoded by Bleve, and the query
// parsed on its own and put back.
func (d *decoder) searchRequest(body []byte) (*bleve.SearchRequest, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badRequest(CodeEmptyBody, "request body is empty; want a Bleve SearchRequest")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, badRequest(CodeBadJSON, "%s", jsonMessage(err))
	}
	if top == nil {
		return nil, badRequest(CodeBadJSON, "want a JSON object")
	}
	rawQ, ok := top["query"]
	if !ok || len(bytes.TrimSpace(rawQ)) == 0 || string(bytes.TrimSpace(rawQ)) == "null" {
		return nil, badRequest(CodeBadQuery, "query is required (a Bleve JSON query)")
	}
	top["query"] = json.RawMessage(`{"match_all":{}}`)
	rest, err := json.Marshal(top)
	if err != nil {
		return nil, badRequest(CodeBadJSON, "%s", jsonMessage(err))
	}
	var sr bleve.SearchRequest
	if err := safeUnmarshal(rest, &sr); err != nil {
		return nil, badRequest(CodeBadJSON, "search request: %s", jsonMessage(err))
	}
	if sr.Query, err = d.jsonQuery(rawQ, "query", CodeBadQuery); err != nil {
		return nil, err
	}
	if sr.Size < 0 || sr.From < 0 || sr.Size > d.lim.MaxSize || sr.From > d.lim.MaxSize-sr.Size {
		return nil, badRequest(CodeInvalidArgument, "from+size must be at most %d", d.lim.MaxSize)
	}
	if err := sr.Validate(); err != nil {
		return nil, badRequest(CodeBadQuery, "%v", err)
	}
	// What Bleve would only refuse (or panic on) while executing is the
	// client's mistake: refuse it here, as a 400.
	for name, f := range sr.Facets {
		if f == nil || f.Size < 0 || f.Size > d.lim.MaxSize {
			return nil, badRequest(CodeInvalidArgument, "facet %q: size must be in [0, %d]", clip(name), d.lim.MaxSize)
		}
	}
	if h := sr.Highlight; h != nil && h.Style != nil && !slices.Contains(highlighters, *h.Style) {
		return nil, badRequest(CodeInvalidArgument, "highlight style %q: want one of %s", clip(*h.Style), strings.Join(highlighters, ", "))
	}
	if err := checkFuzziness(sr.Query); err != nil {
		return nil, badRequest(CodeBadQuery, "query: %v", err)
	}
	if err := index.CheckPatterns(sr.Query); err != nil {
		return nil, badRequest(CodeBadQuery, "query: %v", err)
	}
	return &sr, nil
}

// highlighters are the highlight styles Bleve registers.
var highlighters = []string{"ansi", "html"}

// checkFuzziness walks a query (index.WalkQuery) for a fuzziness Bleve
// refuses at execution (above searcher.MaxFuzziness, or negative).
func checkFuzziness(q query.Query) error {
	return index.WalkQuery(q, func(q query.Query) error {
		f := 0
		switch x := q.(type) {
		case *query.FuzzyQuery:
			f = x.Fuzziness
		case *query.MatchQuery:
			f = x.Fuzziness
		case *query.MatchPhraseQuery:
			f = x.Fuzziness
		case *query.PhraseQuery:
			f = x.Fuzziness
		case *query.MultiPhraseQuery:
			f = x.Fuzziness
		}
		if f < 0 || f > searcher.MaxFuzziness {
			return fmt.Errorf("fuzziness %d: want 0..%d", f, searcher.MaxFuzziness)
		}
		return nil
	})
}

// safeUnmarshal guards against panics inside third-party UnmarshalJSON.
func safeUnmarshal(b []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("invalid value: %v", r)
		}
	}()
	return json.Unmarshal(b, v)
}

// clip shortens user input echoed in an error message.
// clip quotes input briefly in error messages.
func clip(s string) string { return textutil.Clip(s, 64) }
