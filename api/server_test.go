package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/neo-search/neo/plugin"
)

// checkAnswer asserts a /v1 answer and that every item carries sid, id,
// score and stored fields.
func checkAnswer(t *testing.T, b []byte, wantItems bool) Answer {
	t.Helper()
	var a Answer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("answer %s: %v", b, err)
	}
	if wantItems && len(a.Items) == 0 {
		t.Fatalf("no items in %s", b)
	}
	for _, it := range a.Items {
		if !strings.HasPrefix(it.SID, "[SID:") || it.ID == "" || it.Fields["title"] == nil || it.Fields["price"] == nil {
			t.Fatalf("item lacks sid/id/fields: %+v", it)
		}
	}
	return a
}

func TestGenerativeEndpoints(t *testing.T) {
	e := newEnv(t, nil)
	big := strings.Repeat("x", 9000)
	hist := make([]string, 300)
	for i := range hist {
		hist[i] = fmt.Sprintf("bag-%d", i)
	}
	histJSON, _ := json.Marshal(hist)
	tests := []struct {
		name, path, body string
		status           int
		code             string                       // error code, for errors
		check            func(t *testing.T, a Answer) // for 200s
	}{
		{name: "search", path: "/v1/search", body: `{"query":"gold evening"}`, status: 200, check: func(t *testing.T, a Answer) {
			if a.Task != "search" || a.Format != "ids" || a.Items[0].Fields["title"] == "" {
				t.Fatalf("%+v", a)
			}
		}},
		{name: "search k and type list", path: "/v1/search", body: `{"query":"gold","type":["shoe","scarf"],"k":2}`, status: 200, check: func(t *testing.T, a Answer) {
			if len(a.Items) != 2 {
				t.Fatalf("k=2 gave %d items", len(a.Items))
			}
			for _, it := range a.Items {
				if it.Fields["type"] == "handbag" {
					t.Fatalf("type filter ignored: %+v", it)
				}
			}
		}},
		{name: "search filter string", path: "/v1/search", body: `{"query":"gold","filter":"price:<100"}`, status: 200, check: func(t *testing.T, a Answer) {
			for _, it := range a.Items {
				if it.Fields["price"].(float64) >= 100 {
					t.Fatalf("filter ignored: %+v", it)
				}
			}
		}},
		{name: "search filter JSON", path: "/v1/search", body: `{"query":"gold","filter":{"term":"Aurora","field":"brand"}}`, status: 200, check: func(t *testing.T, a Answer) {
			if len(a.Items) == 0 {
				t.Fatal("no items")
			}
			for _, it := range a.Items {
				if it.Fields["brand"] != "Aurora" {
					t.Fatalf("filter ignored: %+v", it)
				}
			}
		}},
		{name: "search explain", path: "/v1/search", body: `{"query":"gold","explain":true,"filter":"brand:aurora"}`, status: 200, check: func(t *testing.T, a Answer) {
			if a.Explanation == nil || a.Explanation.K != 10 || string(a.Explanation.Filter) != `"brand:aurora"` || a.Explanation.Scoring == "" {
				t.Fatalf("explanation %+v", a.Explanation)
			}
		}},
		{name: "search mixed", path: "/v1/search", body: `{"query":"gold","format":"mixed"}`, status: 200, check: func(t *testing.T, a Answer) {
			if a.Text == "" || len(a.Segments) == 0 {
				t.Fatalf("mixed answer without text/segments: %+v", a)
			}
		}},
		{name: "search empty body", path: "/v1/search", body: ``, status: 400, code: CodeEmptyBody},
		{name: "search not JSON", path: "/v1/search", body: `{"query":`, status: 400, code: CodeBadJSON},
		{name: "search array", path: "/v1/search", body: `[1]`, status: 400, code: CodeBadJSON},
		{name: "search unknown field", path: "/v1/search", body: `{"query":"a","qurey":"b"}`, status: 400, code: CodeBadJSON},
		{name: "search wrong kind", path: "/v1/search", body: `{"query":5}`, status: 400, code: CodeBadJSON},
		{name: "search trailing data", path: "/v1/search", body: `{"query":"a"} {"query":"b"}`, status: 400, code: CodeBadJSON},
		{name: "search missing query", path: "/v1/search", body: `{"k":3}`, status: 400, code: CodeMissingField},
		{name: "search k zero", path: "/v1/search", body: `{"query":"a","k":0}`, status: 400, code: CodeKOutOfRange},
		{name: "search k too large", path: "/v1/search", body: `{"query":"a","k":101}`, status: 400, code: CodeKOutOfRange},
		{name: "search k fraction", path: "/v1/search", body: `{"query":"a","k":1.5}`, status: 400, code: CodeBadJSON},
		{name: "search bad format", path: "/v1/search", body: `{"query":"a","format":"xml"}`, status: 400, code: CodeInvalidArgument},
		{name: "search query too long", path: "/v1/search", body: `{"query":"` + big + `"}`, status: 400, code: CodeInvalidArgument},
		{name: "search empty type", path: "/v1/search", body: `{"query":"a","type":[""]}`, status: 400, code: CodeInvalidArgument},
		{name: "search bad type kind", path: "/v1/search", body: `{"query":"a","type":5}`, status: 400, code: CodeBadJSON},
		{name: "search filter syntax", path: "/v1/search", body: `{"query":"a","filter":"price:<<"}`, status: 400, code: CodeBadFilter},
		{name: "search filter bad JSON query", path: "/v1/search", body: `{"query":"a","filter":{"nope":1}}`, status: 400, code: CodeBadFilter},
		{name: "search filter number", path: "/v1/search", body: `{"query":"a","filter":5}`, status: 400, code: CodeBadFilter},
		// a pattern Bleve takes seconds on, past any timeout: refused before it runs
		{name: "search filter 300-wildcard pattern", path: "/v1/search", body: `{"query":"a","filter":{"wildcard":"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a","field":"title"}}`, status: 400, code: CodeBadFilter},
		// Bleve's parser panics on this shape; a JSON query inside a string must be a 400 too
		{name: "search filter panicking query in a string", path: "/v1/search", body: `{"query":"a","filter":"{\"geometry\":{\"shape\":{\"type\":\"point\",\"coordinates\":[]}},\"relation\":\"intersects\",\"field\":\"g\"}"}`, status: 400, code: CodeBadFilter},
		{name: "search filter panicking query", path: "/v1/search", body: `{"query":"a","filter":{"geometry":{"shape":{"type":"point","coordinates":[]}},"relation":"intersects","field":"g"}}`, status: 400, code: CodeBadFilter},
		{name: "search fusion none", path: "/v1/search", body: `{"query":"gold","fusion":"none"}`, status: 200},
		{name: "search fusion weights", path: "/v1/search", body: `{"query":"gold","fusion":{"bm25":0.6,"cf":1,"popularity":0.2}}`, status: 200},
		{name: "search fusion unknown expert", path: "/v1/search", body: `{"query":"a","fusion":{"bm52":1}}`, status: 400, code: CodeInvalidArgument},
		{name: "search fusion negative", path: "/v1/search", body: `{"query":"a","fusion":{"bm25":-1}}`, status: 400, code: CodeInvalidArgument},
		{name: "search fusion number", path: "/v1/search", body: `{"query":"a","fusion":3}`, status: 400, code: CodeInvalidArgument},
		{name: "search fusion other string", path: "/v1/search", body: `{"query":"a","fusion":"all"}`, status: 400, code: CodeInvalidArgument},
		{name: "recommend fusion", path: "/v1/recommend", body: `{"history":["bag-1"],"fusion":{"itemknn":1}}`, status: 200},
		{name: "recommend fusion bad", path: "/v1/recommend", body: `{"history":["bag-1"],"fusion":[1]}`, status: 400, code: CodeInvalidArgument},
		{name: "generate fusion bad", path: "/v1/generate", body: `{"task":"search","format":"ids","inputs":{"query":"a"},"fusion":{"x":1}}`, status: 400, code: CodeInvalidArgument},
		{name: "search bad timeout", path: "/v1/search?timeout=soon", body: `{"query":"a"}`, status: 400, code: CodeBadTimeout},
		{name: "search negative timeout", path: "/v1/search?timeout=-1s", body: `{"query":"a"}`, status: 400, code: CodeBadTimeout},
		{name: "search timeout ms", path: "/v1/search?timeout=5000", body: `{"query":"a"}`, status: 200},
		{name: "search timeout duration", path: "/v1/search?timeout=5s", body: `{"query":"gold"}`, status: 200},

		{name: "recommend", path: "/v1/recommend", body: `{"history":["bag-1"],"k":3}`, status: 200, check: func(t *testing.T, a Answer) {
			if a.Task != "recommend" || len(a.Items) == 0 || len(a.Items) > 3 {
				t.Fatalf("%+v", a)
			}
			for _, it := range a.Items {
				if it.ID == "bag-1" {
					t.Fatal("history item recommended")
				}
			}
		}},
		{name: "recommend context only", path: "/v1/recommend", body: `{"context":"likes hiking"}`, status: 200},
		{name: "recommend with filter and type", path: "/v1/recommend", body: `{"history":["bag-1"],"type":"shoe","filter":"in_stock:true"}`, status: 200},
		{name: "recommend no history", path: "/v1/recommend", body: `{"history":[]}`, status: 400, code: CodeMissingField},
		{name: "recommend history too long", path: "/v1/recommend", body: `{"history":` + string(histJSON) + `}`, status: 400, code: CodeHistoryTooLong},
		{name: "recommend empty history id", path: "/v1/recommend", body: `{"history":["bag-1",""]}`, status: 400, code: CodeInvalidArgument},
		{name: "recommend history not list", path: "/v1/recommend", body: `{"history":"bag-1"}`, status: 400, code: CodeBadJSON},
		{name: "recommend k too large", path: "/v1/recommend", body: `{"history":["bag-1"],"k":1000}`, status: 400, code: CodeKOutOfRange},
		{name: "recommend bad filter", path: "/v1/recommend", body: `{"history":["bag-1"],"filter":"price:<<"}`, status: 400, code: CodeBadFilter},
		{name: "recommend format text", path: "/v1/recommend", body: `{"history":["bag-1"],"format":"text"}`, status: 400, code: CodeInvalidArgument},

		{name: "generate mixed", path: "/v1/generate", body: `{"task":"mixed","inputs":{"history":["bag-1"],"query":"gold"},"format":"mixed","max_tokens":64,"temperature":0.7}`, status: 200, check: func(t *testing.T, a Answer) {
			if a.Format != "mixed" || a.Text == "" || len(a.Segments) == 0 || len(a.Items) == 0 {
				t.Fatalf("%+v", a)
			}
			for _, s := range a.Segments {
				if s.Item != nil && s.Item.Fields == nil {
					t.Fatalf("segment item without fields: %+v", s.Item)
				}
			}
		}},
		{name: "generate text with prompt", path: "/v1/generate", body: `{"prompt":"Describe gold bags","format":"text","top_p":0.9,"seed":7}`, status: 200, check: func(t *testing.T, a Answer) {
			if a.Text == "" || len(a.Items) != 0 {
				t.Fatalf("%+v", a)
			}
		}},
		{name: "generate ids with query only", path: "/v1/generate", body: `{"inputs":{"query":"boots","type":"shoe"},"format":"ids","k":2}`, status: 200},
		{name: "generate missing format", path: "/v1/generate", body: `{"task":"search","inputs":{"query":"a"}}`, status: 400, code: CodeMissingField},
		{name: "generate bad format", path: "/v1/generate", body: `{"task":"search","format":"html"}`, status: 400, code: CodeInvalidArgument},
		{name: "generate bad task", path: "/v1/generate", body: `{"task":"dance","format":"text"}`, status: 400, code: CodeInvalidArgument},
		{name: "generate nothing to do", path: "/v1/generate", body: `{"format":"text"}`, status: 400, code: CodeMissingField},
		{name: "generate max_tokens zero", path: "/v1/generate", body: `{"task":"explain","format":"text","max_tokens":0}`, status: 400, code: CodeMaxTokens},
		{name: "generate max_tokens too large", path: "/v1/generate", body: `{"task":"explain","format":"text","max_tokens":100000}`, status: 400, code: CodeMaxTokens},
		{name: "generate temperature", path: "/v1/generate", body: `{"task":"explain","format":"text","temperature":-1}`, status: 400, code: CodeInvalidArgument},
		{name: "generate top_p", path: "/v1/generate", body: `{"task":"explain","format":"text","top_p":0}`, status: 400, code: CodeInvalidArgument},
		{name: "generate history too long", path: "/v1/generate", body: `{"task":"recommend","format":"ids","inputs":{"history":` + string(histJSON) + `}}`, status: 400, code: CodeHistoryTooLong},
		{name: "generate prompt too long", path: "/v1/generate", body: `{"prompt":"` + big + `","format":"text"}`, status: 400, code: CodeInvalidArgument},
		{name: "generate unknown input", path: "/v1/generate", body: `{"task":"search","format":"ids","inputs":{"q":"a"}}`, status: 400, code: CodeBadJSON},
		{name: "generate k", path: "/v1/generate", body: `{"task":"search","format":"ids","inputs":{"query":"a"},"k":-3}`, status: 400, code: CodeKOutOfRange},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.do("POST", tc.path, tc.body, "Content-Type", "application/json")
			if tc.code != "" {
				checkError(t, resp, b, tc.status, tc.code)
				return
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			a := checkAnswer(t, b, false)
			if tc.check != nil {
				tc.check(t, a)
			}
		})
	}
}

func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Limits.MaxBodyBytes = 256; c.Limits.MaxBulkBytes = 512 })
	big := `{"query":"` + strings.Repeat("a", 400) + `"}`
	for _, path := range []string{"/v1/search", "/v1/recommend", "/v1/generate", "/api/catalog/_search"} {
		t.Run(path, func(t *testing.T) {
			resp, b := e.do("POST", path, big)
			checkError(t, resp, b, http.StatusRequestEntityTooLarge, CodeBodyTooLarge)
		})
	}
	t.Run("put", func(t *testing.T) {
		resp, b := e.do("PUT", "/api/catalog/x", big, "Authorization", "Bearer "+testKey)
		checkError(t, resp, b, http.StatusRequestEntityTooLarge, CodeBodyTooLarge)
	})
	t.Run("bulk", func(t *testing.T) {
		resp, b := e.do("POST", "/api/catalog/_bulk", strings.Repeat(big+"\n", 3), "Authorization", "Bearer "+testKey)
		checkError(t, resp, b, http.StatusRequestEntityTooLarge, CodeBodyTooLarge)
	})
	t.Run("chunked body without length", func(t *testing.T) {
		req, _ := http.NewRequest("POST", e.ts.URL+"/v1/search", struct{ *strings.Reader }{strings.NewReader(big)})
		req.ContentLength = -1
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		checkError(t, resp, buf.Bytes(), http.StatusRequestEntityTooLarge, CodeBodyTooLarge)
	})
}

// TestEngineErrors maps the engine's errors and panics to answers.
func TestEngineErrors(t *testing.T) {
	tests := []struct {
		name   string
		gen    func(*fakeGen)
		path   string
		status int
		code   string
		retry  bool
	}{
		{"overloaded", func(g *fakeGen) { g.err = fmt.Errorf("queue: %w", plugin.ErrOverloaded) }, "/v1/search?x=1", 429, CodeOverloaded, true},
		{"bad request", func(g *fakeGen) { g.err = fmt.Errorf("%w: unknown type \"boat\"", plugin.ErrBadRequest) }, "/v1/search", 400, CodeInvalidArgument, false},
		{"not ready", func(g *fakeGen) { g.err = plugin.ErrNotReady }, "/v1/search", 503, CodeNotReady, true},
		{"internal", func(g *fakeGen) { g.err = errors.New("onnxruntime: device lost") }, "/v1/search", 500, CodeInternal, false},
		{"panic", func(g *fakeGen) { g.panics = true }, "/v1/search", 500, CodeInternal, false},
		{"timeout", func(g *fakeGen) { g.delay = 5e9 }, "/v1/search?timeout=50ms", 504, CodeTimeout, false},
		{"stream error before first event", func(g *fakeGen) { g.err = plugin.ErrOverloaded }, "/v1/generate", 429, CodeOverloaded, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			tc.gen(e.gen)
			body := `{"query":"gold"}`
			if strings.HasPrefix(tc.path, "/v1/generate") {
				body = `{"task":"search","inputs":{"query":"gold"},"format":"mixed","stream":true}`
			}
			resp, b := e.do("POST", tc.path, body)
			checkError(t, resp, b, tc.status, tc.code)
			if got := resp.Header.Get("Retry-After"); tc.retry != (got != "") {
				t.Fatalf("Retry-After %q, want set=%v", got, tc.retry)
			}
			if tc.name == "internal" && strings.Contains(string(b), "device lost") {
				t.Fatal("internal error details leaked to the client")
			}
			// The server keeps serving after any of these.
			e.gen.err, e.gen.panics, e.gen.delay = nil, false, 0
			if resp, b := e.do("POST", "/v1/search", `{"query":"gold"}`); resp.StatusCode != 200 {
				t.Fatalf("after %s: %d %s", tc.name, resp.StatusCode, b)
			}
		})
	}
}

func TestNoModel(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Generator = nil; c.NotReadyReason = "model directory testdata/model not found" })
	for _, tc := range []struct{ path, body string }{
		{"/v1/search", `{"query":"gold"}`},
		{"/v1/recommend", `{"history":["bag-1"]}`},
		{"/v1/generate", `{"task":"mixed","format":"mixed","inputs":{"query":"x"}}`},
		{"/v1/generate", `{"task":"mixed","format":"mixed","inputs":{"query":"x"},"stream":true}`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, b := e.do("POST", tc.path, tc.body)
			checkError(t, resp, b, 503, CodeNotReady)
			if !strings.Contains(string(b), "not found") || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("503 without reason or Retry-After: %s", b)
			}
		})
	}
	t.Run("readyz", func(t *testing.T) {
		resp, b := e.do("GET", "/readyz", "")
		if resp.StatusCode != 503 || errCode(b) != CodeNotReady {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	})
	t.Run("catalog API works", func(t *testing.T) {
		if resp, b := e.do("POST", "/api/catalog/_search", `{"query":{"match":"gold"}}`); resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		if resp, b := e.do("PUT", "/api/catalog/new-1", `{"type":"hat","title":"Straw hat"}`, "Authorization", "Bearer "+testKey); resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	})
}

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	Name string
	Data string
}

func readSSE(t *testing.T, b []byte) []sseEvent {
	t.Helper()
	var out []sseEvent
	sc := bufio.NewScanner(bytes.NewReader(b))
	var cur sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.Name != "" || cur.Data != "" {
				out = append(out, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "event: "):
			cur.Name = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.Data += line[6:]
		default:
			t.Fatalf("unexpected SSE line %q", line)
		}
	}
	return out
}

func TestGenerateStream(t *testing.T) {
	e := newEnv(t, nil)
	resp, b := e.do("POST", "/v1/generate", `{"task":"mixed","inputs":{"query":"gold"},"format":"mixed","k":3,"stream":true}`)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("%d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	evs := readSSE(t, b)
	if len(evs) < 3 || evs[len(evs)-1].Name != "done" {
		t.Fatalf("events %+v, want segments then done", evs)
	}
	items, texts := 0, 0
	for _, ev := range evs[:len(evs)-1] {
		switch ev.Name {
		case "item":
			var it plugin.Item
			if err := json.Unmarshal([]byte(ev.Data), &it); err != nil || it.SID == "" || it.ID == "" || it.Fields == nil {
				t.Fatalf("item event %q: %v", ev.Data, err)
			}
			items++
		case "text":
			var tx struct{ Text string }
			if err := json.Unmarshal([]byte(ev.Data), &tx); err != nil || tx.Text == "" {
				t.Fatalf("text event %q", ev.Data)
			}
			texts++
		default:
			t.Fatalf("unexpected event %q", ev.Name)
		}
	}
	var done Answer
	if err := json.Unmarshal([]byte(evs[len(evs)-1].Data), &done); err != nil {
		t.Fatal(err)
	}
	if items != 3 || texts == 0 || len(done.Items) != 3 || done.Segments != nil || done.Text == "" {
		t.Fatalf("items %d texts %d done %+v", items, texts, done)
	}
}

// TestGenerateStreamMidwayError: an error after the first event becomes an
// "error" event (the status line is already out).
func TestGenerateStreamMidwayError(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.cfg.Generator = midwayFail{}
	resp, b := e.do("POST", "/v1/generate", `{"task":"mixed","inputs":{"query":"gold"},"format":"mixed","stream":true}`)
	evs := readSSE(t, b)
	if resp.StatusCode != 200 || len(evs) != 2 || evs[0].Name != "text" || evs[1].Name != "error" || !strings.Contains(evs[1].Data, CodeTimeout) {
		t.Fatalf("%d %+v", resp.StatusCode, evs)
	}
}

type midwayFail struct{}

func (midwayFail) Stream(ctx context.Context, req plugin.Request, emit func(plugin.Segment) error) (*plugin.Response, error) {
	if err := emit(plugin.Segment{Text: "Let me think"}); err != nil {
		return nil, err
	}
	return nil, context.DeadlineExceeded
}

// generativeParser is a stand-in for plugin.ParseQuery: it turns every
// {"generative": {...}} node into a doc-id query of what the fake engine
// answers, and leaves the rest to Bleve, so a generative node composes
// with Bleve's own queries inside a SearchRequest.
func generativeParser(g *fakeGen) QueryParser {
	var rewrite func(v any) (any, error)
	rewrite = func(v any) (any, error) {
		switch x := v.(type) {
		case map[string]any:
			if gen, ok := x["generative"].(map[string]any); ok && len(x) == 1 {
				q, _ := gen["query"].(string)
				resp, err := g.Stream(context.Background(), plugin.Request{Task: plugin.TaskSearch, Query: q, K: 5}, nil)
				if err != nil {
					return nil, err
				}
				ids := []any{}
				for _, it := range resp.Items {
					ids = append(ids, it.ID)
				}
				return map[string]any{"ids": ids}, nil
			}
			for k, c := range x {
				n, err := rewrite(c)
				if err != nil {
					return nil, err
				}
				x[k] = n
			}
		case []any:
			for i, c := range x {
				n, err := rewrite(c)
				if err != nil {
					return nil, err
				}
				x[i] = n
			}
		}
		return v, nil
	}
	return func(data []byte) (query.Query, error) {
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, err
		}
		v, err := rewrite(v)
		if err != nil {
			return nil, err
		}
		b, _ := json.Marshal(v)
		return query.ParseQuery(b)
	}
}

func TestBleveAPI(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.dec.parse = generativeParser(e.gen)
	auth := []string{"Authorization", "Bearer " + testKey}
	type tc struct {
		name, method, path, body string
		status                   int
		code                     string
		check                    func(t *testing.T, b []byte)
	}
	searchResult := func(min int) func(t *testing.T, b []byte) {
		return func(t *testing.T, b []byte) {
			var sr bleve.SearchResult // an existing Bleve client decodes it
			if err := json.Unmarshal(b, &sr); err != nil {
				t.Fatal(err)
			}
			if len(sr.Hits) < min || int(sr.Total) < min {
				t.Fatalf("%d hits (total %d), want ≥ %d: %s", len(sr.Hits), sr.Total, min, b)
			}
			for _, h := range sr.Hits {
				if h.Index != "catalog" {
					t.Fatalf("hit index %q", h.Index)
				}
			}
		}
	}
	tests := []tc{
		{name: "list indexes", method: "GET", path: "/api", status: 200},
		{name: "index info", method: "GET", path: "/api/catalog", status: 200, check: func(t *testing.T, b []byte) {
			if !strings.Contains(string(b), `"mapping"`) {
				t.Fatal(string(b))
			}
		}},
		{name: "index info unknown", method: "GET", path: "/api/other", status: 404, code: CodeIndexNotFound},
		{name: "count", method: "GET", path: "/api/catalog/_count", status: 200, check: func(t *testing.T, b []byte) {
			if string(b) != `{"status":"ok","count":12}`+"\n" {
				t.Fatalf("%q", b)
			}
		}},
		{name: "count unknown index", method: "GET", path: "/api/nope/_count", status: 404, code: CodeIndexNotFound},
		{name: "fields", method: "GET", path: "/api/catalog/_fields", status: 200, check: func(t *testing.T, b []byte) {
			if !strings.Contains(string(b), `"title"`) {
				t.Fatal(string(b))
			}
		}},
		{name: "fields unknown index", method: "GET", path: "/api/nope/_fields", status: 404, code: CodeIndexNotFound},
		{name: "search match", method: "POST", path: "/api/catalog/_search", body: `{"query":{"match":"gold"},"size":3,"fields":["*"]}`, status: 200, check: searchResult(3)},
		{name: "search query string facets sort", method: "POST", path: "/api/catalog/_search",
			body: `{"query":{"query":"+gold price:<200"},"facets":{"brands":{"field":"brand","size":5}},"sort":["-price"]}`, status: 200, check: searchResult(1)},
		{name: "search generative node composes", method: "POST", path: "/api/catalog/_search",
			body: `{"query":{"conjuncts":[{"generative":{"task":"search","query":"gold"}},{"term":"Aurora","field":"brand"}]},"fields":["brand"]}`, status: 200,
			check: func(t *testing.T, b []byte) {
				searchResult(1)(t, b)
				var sr bleve.SearchResult
				json.Unmarshal(b, &sr)
				for _, h := range sr.Hits {
					if h.Fields["brand"] != "Aurora" {
						t.Fatalf("conjunction ignored: %+v", h.Fields)
					}
				}
			}},
		{name: "search unknown index", method: "POST", path: "/api/x/_search", body: `{"query":{"match_all":{}}}`, status: 404, code: CodeIndexNotFound},
		{name: "search empty body", method: "POST", path: "/api/catalog/_search", body: ``, status: 400, code: CodeEmptyBody},
		{name: "search bad JSON", method: "POST", path: "/api/catalog/_search", body: `{"query":`, status: 400, code: CodeBadJSON},
		// refused by Bleve only while executing (a 500 before): the client's mistake
		{name: "search facet size -5", method: "POST", path: "/api/catalog/_search", body: `{"query":{"match":"gold"},"facets":{"b":{"field":"brand","size":-5}}}`, status: 400, code: CodeInvalidArgument},
		{name: "search fuzziness 100", method: "POST", path: "/api/catalog/_search", body: `{"query":{"conjuncts":[{"match":"gold","fuzziness":100}]}}`, status: 400, code: CodeBadQuery},
		{name: "search unknown highlighter", method: "POST", path: "/api/catalog/_search", body: `{"query":{"match":"gold"},"highlight":{"style":"neon"}}`, status: 400, code: CodeInvalidArgument},
		{name: "search 300-wildcard pattern", method: "POST", path: "/api/catalog/_search", body: `{"query":{"wildcard":"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a","field":"title"}}`, status: 400, code: CodeBadQuery},
		{name: "search facet ok", method: "POST", path: "/api/catalog/_search", body: `{"query":{"match":"gold"},"facets":{"b":{"field":"brand","size":3}},"highlight":{"style":"html"}}`, status: 200},
		{name: "search no query", method: "POST", path: "/api/catalog/_search", body: `{"size":3}`, status: 400, code: CodeBadQuery},
		{name: "search unknown query type", method: "POST", path: "/api/catalog/_search", body: `{"query":{"fuzzyish":"x"}}`, status: 400, code: CodeBadQuery},
		{name: "search invalid query", method: "POST", path: "/api/catalog/_search", body: `{"query":{"disjuncts":[{"match":"a"}],"min":5}}`, status: 400, code: CodeBadQuery},
		{name: "search bad sort", method: "POST", path: "/api/catalog/_search", body: `{"query":{"match_all":{}},"sort":[5]}`, status: 400, code: CodeBadJSON},
		{name: "search size too large", method: "POST", path: "/api/catalog/_search", body: `{"query":{"match_all":{}},"size":20000}`, status: 400, code: CodeInvalidArgument},
		{name: "search bad timeout", method: "POST", path: "/api/catalog/_search?timeout=x", body: `{"query":{"match_all":{}}}`, status: 400, code: CodeBadTimeout},
		{name: "search timeout ms", method: "POST", path: "/api/catalog/_search?timeout=2000", body: `{"query":{"match_all":{}}}`, status: 200, check: searchResult(10)},

		{name: "get doc", method: "GET", path: "/api/catalog/bag-1", status: 200, check: func(t *testing.T, b []byte) {
			var d Doc
			if err := json.Unmarshal(b, &d); err != nil || d.ID != "bag-1" || d.Fields["title"] != "Gold evening clutch" || d.Item.Brand != "Aurora" {
				t.Fatalf("%s %v", b, err)
			}
			if _, ok := d.Fields["_source"]; ok {
				t.Fatal("internal _source field exposed")
			}
		}},
		{name: "get missing doc", method: "GET", path: "/api/catalog/nope", status: 404, code: CodeDocNotFound},
		{name: "get doc unknown index", method: "GET", path: "/api/x/bag-1", status: 404, code: CodeIndexNotFound},
		{name: "put doc", method: "PUT", path: "/api/catalog/hat-1", body: `{"type":"hat","title":"Gold straw hat","brand":"Sol","price":35,"attributes":{"color":"gold"}}`, status: 200},
		{name: "get put doc", method: "GET", path: "/api/catalog/hat-1", status: 200, check: func(t *testing.T, b []byte) {
			if !strings.Contains(string(b), "Gold straw hat") {
				t.Fatal(string(b))
			}
		}},
		{name: "put doc same id in body", method: "PUT", path: "/api/catalog/hat-2", body: `{"id":"hat-2","type":"hat","title":"Cap"}`, status: 200},
		{name: "put doc id mismatch", method: "PUT", path: "/api/catalog/hat-3", body: `{"id":"hat-4","type":"hat"}`, status: 400, code: CodeIDMismatch},
		{name: "put doc invalid item", method: "PUT", path: "/api/catalog/hat-3", body: `{"type":"hat","price":"cheap"}`, status: 400, code: CodeInvalidItem},
		{name: "put doc missing type", method: "PUT", path: "/api/catalog/hat-3", body: `{"title":"x"}`, status: 400, code: CodeInvalidItem},
		{name: "put doc unknown field", method: "PUT", path: "/api/catalog/hat-3", body: `{"type":"hat","colour":"red"}`, status: 400, code: CodeInvalidItem},
		{name: "put doc bad id kind", method: "PUT", path: "/api/catalog/hat-3", body: `{"id":5,"type":"hat"}`, status: 400, code: CodeInvalidItem},
		{name: "put doc not JSON", method: "PUT", path: "/api/catalog/hat-3", body: `type=hat`, status: 400, code: CodeBadJSON},
		{name: "put doc broken JSON", method: "PUT", path: "/api/catalog/hat-3", body: `{"type":`, status: 400, code: CodeBadJSON},
		{name: "put doc empty", method: "PUT", path: "/api/catalog/hat-3", body: ``, status: 400, code: CodeEmptyBody},
		{name: "put doc unknown index", method: "PUT", path: "/api/x/hat-3", body: `{"type":"hat"}`, status: 404, code: CodeIndexNotFound},
		{name: "delete doc", method: "DELETE", path: "/api/catalog/hat-2", status: 200},
		{name: "delete doc again", method: "DELETE", path: "/api/catalog/hat-2", status: 404, code: CodeDocNotFound},
		{name: "get deleted doc", method: "GET", path: "/api/catalog/hat-2", status: 404, code: CodeDocNotFound},

		{name: "bulk", method: "POST", path: "/api/catalog/_bulk", status: 200,
			body: "{\"id\":\"b-1\",\"type\":\"hat\",\"title\":\"Sun hat\"}\n\n{\"id\":\"b-2\",\"type\":\"hat\",\"price\":\"x\"}\nnot json\n{\"delete\":\"bag-5\"}\n{\"delete\":\"missing\"}\n{\"id\":\"b-3\",\"type\":\"hat\"}",
			check: func(t *testing.T, b []byte) {
				var a BulkAnswer
				if err := json.Unmarshal(b, &a); err != nil {
					t.Fatal(err)
				}
				want := []struct {
					line   int
					status string
					code   string
				}{{1, "ok", ""}, {3, "error", CodeInvalidItem}, {4, "error", CodeInvalidItem}, {5, "ok", ""}, {6, "error", CodeDocNotFound}, {7, "ok", ""}}
				if a.Status != "partial" || a.Lines != 6 || a.OK != 3 || a.Failed != 3 || len(a.Results) != len(want) {
					t.Fatalf("%s", b)
				}
				for i, w := range want {
					r := a.Results[i]
					if r.Line != w.line || r.Status != w.status || (w.code != "" && (r.Error == nil || r.Error.Code != w.code)) {
						t.Fatalf("result %d = %+v, want %+v", i, r, w)
					}
				}
			}},
		{name: "bulk wrote", method: "GET", path: "/api/catalog/b-3", status: 200},
		{name: "bulk deleted", method: "GET", path: "/api/catalog/bag-5", status: 404, code: CodeDocNotFound},
		{name: "bulk empty", method: "POST", path: "/api/catalog/_bulk", body: "\n\n", status: 400, code: CodeEmptyBody},
		{name: "bulk bad delete line", method: "POST", path: "/api/catalog/_bulk", body: `{"delete":5}`, status: 200, check: func(t *testing.T, b []byte) {
			if !strings.Contains(string(b), `"status":"failed"`) {
				t.Fatal(string(b))
			}
		}},
		{name: "bulk unknown index", method: "POST", path: "/api/x/_bulk", body: `{"id":"a","type":"hat"}`, status: 404, code: CodeIndexNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.method != "GET" {
				hdr = auth
			}
			resp, b := e.do(tc.method, tc.path, tc.body, hdr...)
			if tc.code != "" {
				checkError(t, resp, b, tc.status, tc.code)
				return
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if tc.check != nil {
				tc.check(t, b)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	put := func(key string) []string {
		if key == "" {
			return nil
		}
		return []string{"Authorization", "Bearer " + key}
	}
	tests := []struct {
		name   string
		cfg    func(*Config)
		method string
		path   string
		key    string
		status int
		code   string
	}{
		{"no key configured: writes refused", func(c *Config) { c.APIKey = "" }, "PUT", "/api/catalog/a", "", 403, CodeWritesDisabled},
		{"no key configured: even with a key sent", func(c *Config) { c.APIKey = "" }, "DELETE", "/api/catalog/bag-1", "anything", 403, CodeWritesDisabled},
		{"no key configured: bulk refused", func(c *Config) { c.APIKey = "" }, "POST", "/api/catalog/_bulk", "", 403, CodeWritesDisabled},
		{"insecure writes", func(c *Config) { c.APIKey = ""; c.InsecureWrites = true }, "PUT", "/api/catalog/a", "", 200, ""},
		{"key missing", nil, "PUT", "/api/catalog/a", "", 401, CodeUnauthorized},
		{"key wrong", nil, "PUT", "/api/catalog/a", "nope", 401, CodeUnauthorized},
		{"key right", nil, "PUT", "/api/catalog/a", testKey, 200, ""},
		{"key right delete", nil, "DELETE", "/api/catalog/bag-1", testKey, 200, ""},
		{"insecure flag does not bypass a key", func(c *Config) { c.InsecureWrites = true }, "PUT", "/api/catalog/a", "", 401, CodeUnauthorized},
		{"reads open", nil, "GET", "/api/catalog/bag-1", "", 200, ""},
		{"read key missing", func(c *Config) { c.ReadKey = "rk" }, "GET", "/api/catalog/bag-1", "", 401, CodeUnauthorized},
		{"read key missing search", func(c *Config) { c.ReadKey = "rk" }, "POST", "/v1/search", "", 401, CodeUnauthorized},
		{"read key wrong", func(c *Config) { c.ReadKey = "rk" }, "POST", "/api/catalog/_search", "nope", 401, CodeUnauthorized},
		{"read key right", func(c *Config) { c.ReadKey = "rk" }, "POST", "/v1/search", "rk", 200, ""},
		{"write key reads", func(c *Config) { c.ReadKey = "rk" }, "GET", "/api/catalog/_count", testKey, 200, ""},
		{"read key cannot write", func(c *Config) { c.ReadKey = "rk" }, "PUT", "/api/catalog/a", "rk", 401, CodeUnauthorized},
		{"ops stay open with a read key", func(c *Config) { c.ReadKey = "rk" }, "GET", "/healthz", "", 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.cfg)
			body := ""
			switch {
			case tc.method == "PUT":
				body = `{"type":"hat"}`
			case tc.path == "/api/catalog/_bulk":
				body = `{"id":"x","type":"hat"}`
			case tc.path == "/v1/search":
				body = `{"query":"gold"}`
			case tc.path == "/api/catalog/_search":
				body = `{"query":{"match_all":{}}}`
			}
			resp, b := e.do(tc.method, tc.path, body, put(tc.key)...)
			if tc.code != "" {
				checkError(t, resp, b, tc.status, tc.code)
				if tc.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
					t.Fatal("401 without WWW-Authenticate")
				}
				return
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
		})
	}
	t.Run("refused write changes nothing", func(t *testing.T) {
		e := newEnv(t, nil)
		e.do("PUT", "/api/catalog/zz", `{"type":"hat"}`, "Authorization", "Bearer wrong")
		if _, ok, _ := e.cat.Get("zz"); ok {
			t.Fatal("unauthorised PUT was written")
		}
	})
}

func TestOpsAndRouting(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name, method, path string
		status             int
		code               string
		contains           string
	}{
		{"page", "GET", "/", 200, "", "<title>neo"},
		{"openapi", "GET", "/openapi.json", 200, "", `"openapi"`},
		{"healthz", "GET", "/healthz", 200, "", `"ok"`},
		{"readyz", "GET", "/readyz", 200, "", `"ready"`},
		{"unknown route", "GET", "/v2/search", 404, CodeNotFound, ""},
		{"unknown nested route", "GET", "/v1/search/x", 404, CodeNotFound, ""},
		{"wrong method", "GET", "/v1/search", 405, CodeMethod, ""},
		{"wrong method bleve", "PATCH", "/api/catalog/bag-1", 405, CodeMethod, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.do(tc.method, tc.path, "")
			if tc.code != "" {
				checkError(t, resp, b, tc.status, tc.code)
				return
			}
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.contains) {
				t.Fatalf("%d %.200s", resp.StatusCode, b)
			}
		})
	}
	t.Run("metrics", func(t *testing.T) {
		e.do("POST", "/v1/search", `{"query":"gold"}`)
		e.do("POST", "/v1/search", `{"query":""}`)
		e.do("FOOBAR1", "/v1/search", "") // a made-up method must not become a label
		e.srv.cfg.Metrics.ObserveBatch(8)
		_, b := e.do("GET", "/metrics", "")
		for _, want := range []string{
			`neo_http_requests_total{code="200",method="POST",route="/v1/search"} 1`,
			`neo_http_requests_total{code="400",method="POST",route="/v1/search"} 1`,
			`neo_http_request_duration_seconds_bucket{method="POST",route="/v1/search"`,
			`neo_decode_tokens_total{task="search"} `, `neo_decode_batch_size_count 1`, `neo_http_queue_depth 0`,
			`neo_prefill_duration_seconds_bucket{task="search",le="0.0025"} 1`,
			`neo_decode_duration_seconds_bucket{task="search",le="0.005"} 1`,
			`neo_time_to_first_token_seconds_count{task="search"} 1`,
			`neo_build_info{go_version="go`,
			`neo_catalog_items 12`, `neo_model_ready 1`, `go_goroutines`, `method="other"`,
		} {
			if !strings.Contains(string(b), want) {
				t.Errorf("metrics lack %q", want)
			}
		}
		if strings.Contains(string(b), "FOOBAR1") {
			t.Error("a client's method became a metric label")
		}
	})
}

// Document ids are decoded once: an escaped slash round-trips, an escaped
// UTF-8 id names the same item as its plain form, invalid UTF-8 is a 400.
func TestDocIDDecoding(t *testing.T) {
	e := newEnv(t, nil)
	auth := []string{"Authorization", "Bearer " + testKey}
	for _, tc := range []struct {
		name, put, get, want string
	}{
		{"escaped slash", "/api/catalog/q%2Fr", "/api/catalog/q%2Fr", "q/r"},
		{"escaped UTF-8 is the plain id", "/api/catalog/caf%C3%A9", "/api/catalog/café", "café"},
		{"a literal percent stays", "/api/catalog/p%2541", "/api/catalog/p%2541", "p%41"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if resp, b := e.do("PUT", tc.put, `{"type":"scarf","title":"Slash scarf"}`, auth...); resp.StatusCode != 200 {
				t.Fatalf("PUT %d %s", resp.StatusCode, b)
			}
			resp, b := e.do("GET", tc.get, "")
			var doc struct {
				ID string `json:"id"`
			}
			if resp.StatusCode != 200 || json.Unmarshal(b, &doc) != nil || doc.ID != tc.want {
				t.Fatalf("GET %d %s, want id %q", resp.StatusCode, b, tc.want)
			}
		})
	}
	if resp, b := e.do("PUT", "/api/catalog/bad%FF", `{"type":"scarf","title":"x"}`, auth...); resp.StatusCode != 400 {
		t.Fatalf("invalid UTF-8 id: %d %s, want 400", resp.StatusCode, b)
	}
}

// PUT without "sid" keeps the item's SID (the GET → edit → PUT of a Bleve
// client), "sid": "" clears it, a new type does not inherit it.
func TestPutKeepsSID(t *testing.T) {
	e := newEnv(t, nil)
	auth := []string{"Authorization", "Bearer " + testKey}
	items, err := e.cat.Items()
	if err != nil {
		t.Fatal(err)
	}
	it := items[0]
	it.SID = it.Type + "-1-2-3-0"
	if resp, b := e.do("PUT", "/api/catalog/"+it.ID, `{"type":"`+it.Type+`","title":"First","sid":"`+it.SID+`"}`, auth...); resp.StatusCode != 200 {
		t.Fatalf("PUT with an SID: %d %s", resp.StatusCode, b)
	}
	sidOf := func() string {
		got, _, err := e.cat.Get(it.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.SID
	}
	put := func(body string) {
		t.Helper()
		if resp, b := e.do("PUT", "/api/catalog/"+it.ID, body, auth...); resp.StatusCode != 200 {
			t.Fatalf("PUT %d %s", resp.StatusCode, b)
		}
	}
	put(`{"type":"` + it.Type + `","title":"Renamed"}`)
	if got := sidOf(); got != it.SID {
		t.Fatalf("PUT without sid: SID %q, want %q kept", got, it.SID)
	}
	put(`{"type":"` + it.Type + `","title":"Renamed","sid":""}`)
	if got := sidOf(); got != "" {
		t.Fatalf(`PUT with "sid":"": SID %q, want none`, got)
	}
}

// HEAD answers every GET route as GET does, without a body.
func TestHead(t *testing.T) {
	e := newEnv(t, nil)
	for _, path := range []string{"/healthz", "/api/catalog/_count", "/openapi.json"} {
		t.Run(path, func(t *testing.T) {
			resp, b := e.do("HEAD", path, "")
			if resp.StatusCode != 200 || len(b) != 0 {
				t.Fatalf("HEAD %s: %d with %d bytes", path, resp.StatusCode, len(b))
			}
		})
	}
}
