package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/plugin"
)

// fakeGen stands in for the engine: it answers with a BM25 search of the
// catalog under the request's types and filter, shaped like the engine's
// answers (SIDs, scores, segments per format), and can be slowed down,
// made to fail or to panic.
type fakeGen struct {
	cat     *index.Catalog
	delay   time.Duration
	err     error
	panics  bool
	calls   atomic.Int64
	started chan struct{} // if set, gets a value when a call starts
	last    atomic.Value  // last plugin.Request
}

func (f *fakeGen) Stream(ctx context.Context, req plugin.Request, emit func(plugin.Segment) error) (*plugin.Response, error) {
	f.calls.Add(1)
	f.last.Store(req)
	if f.started != nil {
		select {
		case f.started <- struct{}{}:
		default:
		}
	}
	if f.delay > 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(f.delay):
		}
	}
	if f.panics {
		panic("fake engine exploded")
	}
	if f.err != nil {
		return nil, f.err
	}
	items, err := f.items(ctx, req)
	if err != nil {
		return nil, err
	}
	resp := &plugin.Response{Task: req.Task, Format: req.Format, Items: items}
	if resp.Task == "" {
		resp.Task = plugin.TaskSearch
	}
	if resp.Format == "" {
		resp.Format = plugin.FormatIDs
	}
	var segs []plugin.Segment
	switch resp.Format {
	case plugin.FormatText:
		segs = []plugin.Segment{{Text: "These are "}, {Text: "good choices."}}
		resp.Items = nil
	case plugin.FormatMixed:
		segs = append(segs, plugin.Segment{Text: "You might like "})
		for i := range items {
			if i > 0 {
				segs = append(segs, plugin.Segment{Text: " and "})
			}
			segs = append(segs, plugin.Segment{Item: &items[i]})
		}
		if req.Context != "" { // what the page asked, so a test can see it arrived
			segs = append(segs, plugin.Segment{Text: fmt.Sprintf(" (asked: %s; history: %d)", req.Context, len(req.History))})
		}
		segs = append(segs, plugin.Segment{Text: "."})
	default:
		for i := range items {
			segs = append(segs, plugin.Segment{Item: &items[i]})
		}
	}
	for _, s := range segs {
		if s.Item == nil {
			resp.Text += s.Text
		}
		if emit != nil {
			if err := emit(s); err != nil {
				return nil, err
			}
		}
	}
	resp.Segments = segs
	resp.Tokens = 6*len(items) + len(strings.Fields(resp.Text))
	resp.Timing = plugin.Timing{Prefill: 2 * time.Millisecond, Decode: 5 * time.Millisecond, FirstToken: 3 * time.Millisecond}
	return resp, nil
}

func (f *fakeGen) items(ctx context.Context, req plugin.Request) ([]plugin.Item, error) {
	text := req.Query + " " + req.Context
	for _, id := range req.History {
		if it, ok, _ := f.cat.Get(id); ok {
			text += " " + it.Title
		}
	}
	if text == "" {
		text = req.Context
	}
	var must []query.Query
	if strings.TrimSpace(text) != "" {
		must = append(must, bleve.NewMatchQuery(text))
	} else {
		must = append(must, bleve.NewMatchAllQuery())
	}
	if len(req.Types) > 0 {
		var ts []query.Query
		for _, t := range req.Types {
			tq := bleve.NewTermQuery(t)
			tq.SetField("type")
			ts = append(ts, tq)
		}
		must = append(must, bleve.NewDisjunctionQuery(ts...))
	}
	if req.Filter != nil {
		must = append(must, req.Filter)
	}
	bq := bleve.NewBooleanQuery()
	bq.AddMust(must...)
	if len(req.History) > 0 && !req.IncludeHistory {
		bq.AddMustNot(bleve.NewDocIDQuery(req.History))
	}
	k := req.K
	if k == 0 {
		k = 10
	}
	res, err := f.cat.Bleve().SearchInContext(ctx, bleve.NewSearchRequestOptions(bq, k, 0, false))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", plugin.ErrBadRequest, err)
	}
	out := make([]plugin.Item, 0, len(res.Hits))
	for i, h := range res.Hits {
		typ := strings.SplitN(h.ID, "-", 2)[0]
		out = append(out, plugin.Item{SID: fmt.Sprintf("[SID:%s-%d-0-0-0]", typ, i), ID: h.ID, Score: -float64(i) - 0.5})
	}
	return out, nil
}

// testCatalog is an in-memory catalog holding api/testdata/items.ndjson.
func testCatalog(t testing.TB) *index.Catalog {
	t.Helper()
	cat, err := index.OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	f, err := os.Open("testdata/items.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := cat.Import(context.Background(), f, index.ImportOptions{})
	if err != nil || len(rep.Bad) > 0 {
		t.Fatalf("import: %v %+v", err, rep.Bad)
	}
	return cat
}

// testEnv is a server on a loopback httptest server with a fake engine.
type testEnv struct {
	t   testing.TB
	srv *Server
	ts  *httptest.Server
	gen *fakeGen
	cat *index.Catalog
	m   *MetricSet
}

const testKey = "write-key-123"

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newEnv starts a server; mod adjusts the config (the default has the
// fake engine and testKey as API key).
func newEnv(t testing.TB, mod func(*Config)) *testEnv {
	t.Helper()
	cat := testCatalog(t)
	gen := &fakeGen{cat: cat}
	m := NewMetricSet()
	cfg := Config{Catalog: cat, Generator: gen, APIKey: testKey, Logger: quietLogger(), Metrics: m}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &testEnv{t: t, srv: srv, ts: ts, gen: gen, cat: cat, m: m}
}

// do sends a request; hdr is pairs of header names and values.
func (e *testEnv) do(method, path, body string, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

// errCode returns the error code of an error answer ("" if none).
func errCode(b []byte) string {
	var eb errorBody
	if json.Unmarshal(b, &eb) != nil {
		return ""
	}
	return eb.Error.Code
}

// checkError asserts an error answer's status and code, and its shape.
func checkError(t *testing.T, resp *http.Response, b []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", resp.StatusCode, status, b)
	}
	var eb errorBody
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&eb); err != nil {
		t.Fatalf("error body %s is not {\"error\":{\"code\",\"message\"}}: %v", b, err)
	}
	if eb.Error.Code != code || eb.Error.Message == "" {
		t.Fatalf("error %+v, want code %q with a message", eb.Error, code)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type %q", ct)
	}
}
