// Package plugin is neo's engine: it turns a request (task, entity types,
// output format, inputs) into the prompt the model was trained on, decodes
// with the model through package onnx under a LogitsProcessor that only lets
// valid, available, filter-passing SIDs through, and resolves every emitted
// SID to its catalog document. GenerativeQuery plugs the engine into Bleve
// as a query type.
package plugin

import (
	"time"

	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/neo-search/neo/plugin/prior"
	"github.com/neo-search/neo/sid"
)

// Tasks a request can ask for (the model directory contract's, sid.Task*).
const (
	TaskSearch    = sid.TaskSearch
	TaskRecommend = sid.TaskRecommend
	TaskExplain   = sid.TaskExplain
	TaskMixed     = sid.TaskMixed // a recommendation with a reason in text
	TaskRaw       = sid.TaskRaw   // the request's own prompt text
)

// Output formats.
const (
	FormatIDs   = sid.FormatIDs   // SIDs only: a ranked list (constrained beam search)
	FormatText  = sid.FormatText  // text only: no SID may be emitted
	FormatMixed = sid.FormatMixed // free text with SIDs interleaved
)

// Request is one generation request. Zero values take the defaults noted.
type Request struct {
	Task    string   // search (default when Query is set), recommend, explain, mixed
	Query   string   // search text
	History []string // item ids or SIDs ("[SID:...]"), oldest first
	Context string   // optional free-text user context
	Types   []string // allowed entity types; empty = all
	// Filter, when set, constrains decoding itself: only items matching it
	// can be emitted.
	Filter query.Query
	K      int    // items wanted (default 10)
	Format string // ids, text or mixed (default: ids for search/recommend, text for explain, mixed for mixed)
	// IncludeHistory lets a recommendation return items of the history;
	// by default they are excluded.
	IncludeHistory bool
	BeamWidth      int     // beam search width for ids format (default max(K, 10))
	MaxTokens      int     // text/mixed: generation budget (default 96)
	Temperature    float64 // text/mixed: 0 = greedy
	TopP           float64 // text/mixed: nucleus sampling (default 1)
	Seed           uint64  // sampling seed (0 = derived from the request)
	Prompt         string  // raw prompt text; replaces the task template
	// Fusion weighs the catalog's experts in decoding (expert → λ, see
	// package prior). nil takes the model directory's defaults for the
	// task (fusion.json); an empty non-nil map decodes with the model alone.
	Fusion prior.Weights
	// Explain adds each expert's part of every item's score (Item.Parts).
	Explain bool
}

// Item is a catalog item the model emitted.
type Item struct {
	SID    string         `json:"sid"`
	ID     string         `json:"id"`
	Score  float64        `json:"score"`
	Fields map[string]any `json:"fields,omitempty"`
	// Parts splits Score into each fusion expert's λ·log P(item) and the
	// model's rest (Request.Explain with fusion only).
	Parts map[string]float64 `json:"parts,omitempty"`
}

// Segment is one piece of an answer: text or an item.
type Segment struct {
	Text string `json:"text,omitempty"`
	Item *Item  `json:"item,omitempty"`
}

// Response is a finished answer.
type Response struct {
	Task     string    `json:"task"`
	Format   string    `json:"format"`
	Segments []Segment `json:"segments"`
	Items    []Item    `json:"items"`
	// Text is the answer as one string, items written in SID text form
	// ("... I recommend [SID:bracelet-3-7-1-0], a ...").
	Text   string `json:"text,omitempty"`
	Tokens int    `json:"tokens"` // tokens generated
	// FactInterventions counts the steps at which the fact guard masked
	// the token the model preferred (text and mixed answers): how often
	// the catalog had to correct what the model was about to write.
	FactInterventions int `json:"fact_interventions,omitempty"`
	// Timing is where the request's time went (for metrics; not part of
	// the JSON answer).
	Timing Timing `json:"-"`
}

// Timing splits a request's engine time. Prefill is the time in prompt
// runs (a sampled answer that backs out of an SID runs one more);
// Decode is the rest, from the first prefill's end; FirstToken is from the
// request's start to its first generated token (zero if it generated none).
type Timing struct {
	Prefill, Decode, FirstToken time.Duration
	began                       time.Time
}

// firstToken notes the first generated token's time, once.
func (t *Timing) firstToken() {
	if t.FirstToken == 0 && !t.began.IsZero() {
		t.FirstToken = time.Since(t.began)
	}
}

// prefilled adds one prompt run that began at t0.
func (t *Timing) prefilled(t0 time.Time) { t.Prefill += time.Since(t0) }
