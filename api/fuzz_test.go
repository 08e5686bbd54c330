package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/neo-search/neo/plugin/prior"

	"github.com/blevesearch/bleve/v2/search/query"
)

// The decoders take untrusted bytes: whatever comes in, they must not
// panic, must answer either a request within the limits or an *apiError
// with a 4xx status. Seeds live in testdata/fuzz/<FuzzName>/.

func fuzzDecoder() *decoder {
	return &decoder{lim: Limits{}.withDefaults(), parse: query.ParseQuery}
}

func checkDecodeErr(t *testing.T, err error) {
	t.Helper()
	var ae *apiError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an API error", err, err)
	}
	if ae.Status < 400 || ae.Status >= 500 || ae.Code == "" || ae.Message == "" {
		t.Fatalf("decode error %+v is not a 4xx with code and message", ae)
	}
}

func FuzzDecodeSearch(f *testing.F) {
	f.Add([]byte(`{"query":"gold bag","type":["handbag"],"filter":"price:<100","k":5,"format":"ids","explain":true}`))
	f.Add([]byte(`{"query":"x","filter":{"term":"a","field":"brand"}}`))
	f.Add([]byte(`{"query":"red scarf","fusion":{"bm25":0.6,"cf":1,"popularity":0.2}}`))
	f.Add([]byte(`{"query":"red scarf","fusion":"none"}`))
	d := fuzzDecoder()
	f.Fuzz(func(t *testing.T, b []byte) {
		req, _, err := d.search(b)
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		for name, w := range req.Fusion {
			if !slices.Contains(prior.Names, name) || !(w >= 0 && w <= prior.MaxWeight) {
				t.Fatalf("accepted fusion weight %s=%v", name, w)
			}
		}
		if req.Query == "" || req.K < 1 || req.K > d.lim.MaxK || len(req.Query) > d.lim.MaxTextBytes {
			t.Fatalf("accepted out-of-bounds request %+v", req)
		}
	})
}

func FuzzDecodeRecommend(f *testing.F) {
	f.Add([]byte(`{"history":["a","b"],"context":"gift","type":"shoe","k":3,"format":"mixed"}`))
	f.Add([]byte(`{"history":[],"context":"x","filter":"in_stock:true"}`))
	d := fuzzDecoder()
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := d.recommend(b)
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		if len(req.History) > d.lim.MaxHistory || req.K < 1 || req.K > d.lim.MaxK || (len(req.History) == 0 && req.Context == "") {
			t.Fatalf("accepted out-of-bounds request %+v", req)
		}
	})
}

func FuzzDecodeGenerate(f *testing.F) {
	f.Add([]byte(`{"task":"mixed","inputs":{"query":"q","history":["a"],"context":"c","type":["t"]},"format":"mixed","max_tokens":32,"temperature":0.5,"stream":true}`))
	f.Add([]byte(`{"prompt":"p","format":"text","top_p":0.9,"seed":3}`))
	d := fuzzDecoder()
	f.Fuzz(func(t *testing.T, b []byte) {
		req, _, err := d.generate(b)
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		if req.Format == "" || req.MaxTokens < 0 || req.MaxTokens > d.lim.MaxTokens || len(req.History) > d.lim.MaxHistory ||
			req.Temperature < 0 || req.Temperature > 5 || req.TopP < 0 || req.TopP > 1 || req.K < 1 || req.K > d.lim.MaxK {
			t.Fatalf("accepted out-of-bounds request %+v", req)
		}
	})
}

func FuzzDecodeBulkLine(f *testing.F) {
	f.Add([]byte(`{"id":"a","type":"hat","title":"t","price":3,"attributes":{"c":"d"},"in_stock":false}`))
	f.Add([]byte(`{"delete":"a"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		op, err := decodeBulkLine(b)
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		if op.Delete == "" && (op.Item.ID == "" || op.Item.Type == "") {
			t.Fatalf("accepted an item without id or type: %+v", op)
		}
	})
}

func FuzzDecodeSearchRequest(f *testing.F) {
	f.Add([]byte(`{"query":{"match":"gold"},"size":3,"from":1,"fields":["*"],"facets":{"b":{"field":"brand","size":3}},"sort":["-price"]}`))
	f.Add([]byte(`{"query":{"conjuncts":[{"query":"+a"},{"min":1,"max":5,"field":"price"}]},"explain":true}`))
	d := fuzzDecoder()
	f.Fuzz(func(t *testing.T, b []byte) {
		sr, err := d.searchRequest(b)
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		if sr.Query == nil || sr.Size < 0 || sr.From < 0 || sr.Size+sr.From > d.lim.MaxSize {
			t.Fatalf("accepted out-of-bounds request %+v", sr)
		}
	})
}

// FuzzBearer: any Authorization header gives a key only when it is
// "Bearer <key>" (any case), and then the trimmed, non-empty key.
func FuzzBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  abc ", "BEARER", "Basic dXNlcg==", "Bearer ", "Bearerabc", "Bearer \x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Authorization"] = []string{h}
		k, ok := bearer(r)
		if !ok {
			if k != "" {
				t.Fatalf("no key but %q", k)
			}
			return
		}
		if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") || k == "" || k != strings.TrimSpace(h[7:]) {
			t.Fatalf("header %q gave key %q", h, k)
		}
	})
}

// FuzzParseTimeout: ?timeout= is a positive duration or a 400 bad_timeout.
func FuzzParseTimeout(f *testing.F) {
	for _, s := range []string{"500ms", "2s", "1500", "0", "-1s", "1e3", "9223372036854775807", "1h2m3.5s", "soon", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, err := parseTimeout(v)
		if err != nil {
			checkDecodeErr(t, err)
			var ae *apiError
			if errors.As(err, &ae); ae.Code != CodeBadTimeout {
				t.Fatalf("code %q, want %s", ae.Code, CodeBadTimeout)
			}
			return
		}
		if d <= 0 {
			t.Fatalf("timeout %q gave %v", v, d)
		}
	})
}

// fuzzServer is a server over the test catalog with the fake engine, for
// the handler-level fuzzers (answers come from a recorder: no sockets).
func fuzzServer(f *testing.F) *Server {
	cat := testCatalog(f)
	srv, err := New(Config{Catalog: cat, Generator: &fakeGen{cat: cat}, APIKey: testKey, Logger: quietLogger(), Metrics: NewMetricSet()})
	if err != nil {
		f.Fatal(err)
	}
	return srv
}

func serveFuzz(srv *Server, method, target, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/", strings.NewReader(body))
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil
	}
	r.URL, r.RequestURI = u, target
	r.Header.Set("Authorization", "Bearer "+testKey)
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, r)
	return w
}

// FuzzDocID: any valid UTF-8 id round-trips through its escaped URL form:
// a PUT at /api/catalog/<escaped id> is read back by a GET of the same URL
// with the same id, or refused with a 4xx; never a 500.
func FuzzDocID(f *testing.F) {
	for _, s := range []string{"q/r", "café", "p%41", "a b", "..", "x?y#z", "日本", "%", "+"} {
		f.Add(s)
	}
	srv := fuzzServer(f)
	f.Fuzz(func(t *testing.T, id string) {
		if !utf8.ValidString(id) || strings.TrimSpace(id) == "" || len(id) > 512 {
			return
		}
		path := "/api/catalog/" + url.PathEscape(id)
		w := serveFuzz(srv, "PUT", path, `{"type":"hat","title":"Fuzz hat"}`)
		if w == nil {
			t.Fatalf("escaped path %q does not parse", path)
		}
		if w.Code != 200 {
			if w.Code < 400 || w.Code >= 500 || errCode(w.Body.Bytes()) == "" {
				t.Fatalf("PUT %q: %d %s", path, w.Code, w.Body)
			}
			return
		}
		g := serveFuzz(srv, "GET", path, "")
		var doc struct {
			ID string `json:"id"`
		}
		if g.Code != 200 || json.Unmarshal(g.Body.Bytes(), &doc) != nil || doc.ID != id {
			t.Fatalf("GET %q after PUT: %d %s, want id %q", path, g.Code, g.Body, id)
		}
	})
}

// FuzzHandler drives the whole server with any method, path and body: it
// never panics (the recover middleware would answer 500), never answers
// 500, and every error is a JSON {"error":{"code","message"}}.
func FuzzHandler(f *testing.F) {
	seeds := []struct {
		m    uint8
		path string
		body string
	}{
		{1, "/v1/search", `{"query":"gold","k":3}`},
		{1, "/v1/recommend", `{"history":["bag-1"],"format":"mixed"}`},
		{1, "/v1/generate", `{"prompt":"gold","format":"text"}`},
		{1, "/api/catalog/_search?timeout=1s", `{"query":{"query":"gold"},"facets":{"b":{"field":"brand","size":-5}}}`},
		{1, "/api/catalog/_bulk", `{"id":"hat-1","type":"hat"}` + "\n" + `{"delete":"bag-1"}`},
		{2, "/api/catalog/hat-2", `{"type":"hat","attributes":{"color":"red"}}`},
		{3, "/api/catalog/bag-2", ""},
		{0, "/api/catalog/_count", ""},
		{0, "/api/catalog/q%2Fr", ""},
		{4, "/v1/search", ""},
		{1, "/v1/search?timeout=-1", `{"query":"x","filter":{"wildcard":"*a*a*a","field":"title"}}`},
	}
	for _, s := range seeds {
		f.Add(s.m, s.path, []byte(s.body))
	}
	methods := []string{"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS", "M1"}
	srv := fuzzServer(f)
	f.Fuzz(func(t *testing.T, m uint8, path string, body []byte) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		method := methods[int(m)%len(methods)]
		w := serveFuzz(srv, method, path, string(body))
		if w == nil {
			return // not a request line net/http would pass on
		}
		if w.Code >= 500 && w.Code != http.StatusServiceUnavailable && w.Code != http.StatusGatewayTimeout {
			t.Fatalf("%s %q %q: %d %s", method, path, body, w.Code, w.Body)
		}
		if w.Code >= 400 && method != "HEAD" && errCode(w.Body.Bytes()) == "" {
			t.Fatalf("%s %q: %d without a JSON error: %q", method, path, w.Code, w.Body)
		}
	})
}
