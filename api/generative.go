package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/labstack/echo/v4"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/plugin"
)

// Answer is the body of a /v1 answer (and of the final SSE "done" event).
type Answer struct {
	Task        string           `json:"task"`
	Format      string           `json:"format"`
	Items       []plugin.Item    `json:"items"`
	Text        string           `json:"text,omitempty"`
	Segments    []plugin.Segment `json:"segments,omitempty"`
	Tokens      int              `json:"tokens"`
	TookMS      float64          `json:"took_ms"`
	Explanation *Explanation     `json:"explanation,omitempty"`
}

// Explanation tells how a search was run (explain: true).
type Explanation struct {
	Task    string          `json:"task"`
	Format  string          `json:"format"`
	K       int             `json:"k"`
	Types   []string        `json:"types,omitempty"`
	Filter  json.RawMessage `json:"filter,omitempty"`
	Scoring string          `json:"scoring"`
}

func (s *Server) search(c echo.Context) error {
	body, err := s.body(c, s.cfg.Limits.MaxBodyBytes)
	if err != nil {
		return err
	}
	req, opts, err := s.dec.search(body)
	if err != nil {
		return err
	}
	ans, err := s.run(c, req, false)
	if err != nil {
		return err
	}
	if opts.Explain {
		ans.Explanation = explain(req, ans)
	}
	return c.JSON(http.StatusOK, ans)
}

func (s *Server) recommend(c echo.Context) error {
	body, err := s.body(c, s.cfg.Limits.MaxBodyBytes)
	if err != nil {
		return err
	}
	req, err := s.dec.recommend(body)
	if err != nil {
		return err
	}
	ans, err := s.run(c, req, false)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ans)
}

func (s *Server) generate(c echo.Context) error {
	body, err := s.body(c, s.cfg.Limits.MaxBodyBytes)
	if err != nil {
		return err
	}
	req, stream, err := s.dec.generate(body)
	if err != nil {
		return err
	}
	if stream {
		return s.stream(c, req)
	}
	ans, err := s.run(c, req, true)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ans)
}

func (s *Server) notReady() error {
	return &apiError{Status: http.StatusServiceUnavailable, Code: CodeNotReady, Message: s.notReadyMessage(), RetryAfter: 5}
}

// run executes a request to completion.
func (s *Server) run(c echo.Context, req plugin.Request, segments bool) (*Answer, error) {
	if s.cfg.Generator == nil {
		return nil, s.notReady()
	}
	start := time.Now()
	resp, err := s.cfg.Generator.Stream(c.Request().Context(), req, nil)
	if err != nil {
		return nil, err
	}
	if resp == nil {
		return nil, fmt.Errorf("engine returned no response")
	}
	took := time.Since(start)
	s.m.ObserveResponse(resp, took)
	return s.answer(resp, took, segments || resp.Format != plugin.FormatIDs), nil
}

// answer converts an engine response, filling in stored fields the engine
// left out so every item carries sid, id, score and fields.
func (s *Server) answer(resp *plugin.Response, took time.Duration, segments bool) *Answer {
	a := &Answer{Task: resp.Task, Format: resp.Format, Text: resp.Text, Tokens: resp.Tokens,
		TookMS: float64(took.Microseconds()) / 1000, Items: make([]plugin.Item, len(resp.Items))}
	for i := range resp.Items {
		a.Items[i] = resp.Items[i]
		s.fill(&a.Items[i])
	}
	if segments {
		a.Segments = make([]plugin.Segment, len(resp.Segments))
		for i, seg := range resp.Segments {
			if seg.Item != nil {
				it := *seg.Item
				s.fill(&it)
				seg.Item = &it
			}
			a.Segments[i] = seg
		}
	}
	return a
}

func (s *Server) fill(it *plugin.Item) {
	if it.Fields != nil || it.ID == "" {
		return
	}
	if item, ok, err := s.cfg.Catalog.Get(it.ID); err == nil && ok {
		it.Fields = itemFields(item)
	}
}

// itemFields is an item's stored fields as the answers show them.
func itemFields(it index.Item) map[string]any {
	f := map[string]any{
		"type": it.Type, "title": it.Title, "brand": it.Brand,
		"price": it.Price, "in_stock": it.InStock,
	}
	if it.Description != "" {
		f["description"] = it.Description
	}
	if len(it.Attributes) > 0 {
		f["attributes"] = it.Attributes
	}
	return f
}

func explain(req plugin.Request, ans *Answer) *Explanation {
	e := &Explanation{Task: ans.Task, Format: ans.Format, K: req.K, Types: req.Types,
		Scoring: "score = sum of the model's log-probabilities of the item's SID tokens, decoded by constrained beam search over SIDs of available, filter-passing items"}
	if ans.Format != plugin.FormatIDs {
		e.Scoring = "score = sum of the model's log-probabilities of the item's SID tokens as they were decoded inside the text"
	}
	if req.Filter != nil {
		if qs, ok := req.Filter.(*query.QueryStringQuery); ok {
			e.Filter, _ = json.Marshal(qs.Query)
		} else if b, err := json.Marshal(req.Filter); err == nil {
			e.Filter = b
		}
	}
	return e
}

// stream answers as Server-Sent Events: an "item" or "text" event per
// segment as it is decoded, then "done" with the whole answer (segments
// left out: they were the events). Headers are sent with the first event,
// so failures before it (bad request, overload, no model) still get their
// proper status and JSON error; a failure after it becomes an "error" event.
func (s *Server) stream(c echo.Context, req plugin.Request) error {
	if s.cfg.Generator == nil {
		return s.notReady()
	}
	w := c.Response()
	started := false
	begin := func() {
		if started {
			return
		}
		started = true
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
	}
	send := func(event string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return err
		}
		w.Flush()
		s.m.sseEvents.Inc()
		return nil
	}
	ctx := c.Request().Context()
	start := time.Now()
	resp, err := s.cfg.Generator.Stream(ctx, req, func(seg plugin.Segment) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		begin()
		if seg.Item != nil {
			it := *seg.Item
			s.fill(&it)
			return send("item", it)
		}
		return send("text", map[string]string{"text": seg.Text})
	})
	if err == nil && resp == nil {
		err = fmt.Errorf("engine returned no response")
	}
	if err != nil {
		if !started {
			return err
		}
		ae := toAPIError(err)
		_ = send("error", errorBody{Error: errorDetail{Code: ae.Code, Message: ae.Message}})
		return nil
	}
	took := time.Since(start)
	s.m.ObserveResponse(resp, took)
	begin()
	return send("done", s.answer(resp, took, false))
}
