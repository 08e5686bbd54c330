package serving

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/neo-search/neo/api"
	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/onnx"
	"github.com/neo-search/neo/sid"
)

var (
	demo  = filepath.Join("..", "..", "testdata", "demo")
	model = filepath.Join("..", "..", "testdata", "model")
	quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
)

// The first start builds the catalog from the demo folder; without a
// model the server is up but not ready, and a second start reuses the
// catalog.
func TestOpenWithoutModel(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "index")
	o := Options{IndexDir: dir, IndexName: "catalog", DemoDir: demo, API: api.Config{InsecureWrites: true}}
	st, err := Open(context.Background(), o, quiet)
	if err != nil {
		t.Fatal(err)
	}
	n, err := st.Catalog.Count()
	if err != nil || n == 0 {
		t.Fatalf("catalog of %d items: %v", n, err)
	}
	if st.Engine != nil || st.Server == nil || !strings.Contains(st.ModelState(), "no model directory") {
		t.Fatalf("engine %v, server %v, state %q", st.Engine, st.Server, st.ModelState())
	}
	st.Close()
	o.DemoDir = filepath.Join(t.TempDir(), "none") // would fail if imported again
	o.ModelDir = filepath.Join(t.TempDir(), "missing")
	st, err = Open(context.Background(), o, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if m, _ := st.Catalog.Count(); m != n {
		t.Fatalf("reopened catalog has %d items, first had %d", m, n)
	}
	if !strings.Contains(st.NotReady, "not found") {
		t.Fatalf("not ready %q, want the missing directory named", st.NotReady)
	}
}

// With the demo model the engine loads and the catalog names every item
// by the SID the model was trained on.
func TestOpenDemo(t *testing.T) {
	if _, err := onnx.FindLibrary(""); err != nil {
		t.Skip("onnxruntime library not found: ", err)
	}
	o := Options{IndexDir: filepath.Join(t.TempDir(), "index"), IndexName: "catalog", DemoDir: demo, ModelDir: model,
		Interactions: filepath.Join(demo, "interactions.ndjson")}
	st, err := Open(context.Background(), o, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Engine == nil {
		t.Fatalf("no engine: %s", st.NotReady)
	}
	want, err := sid.ReadAssignments(filepath.Join(model, sid.AssignmentsFile))
	if err != nil {
		t.Fatal(err)
	}
	items, err := st.Catalog.Items()
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if w, ok := want[it.ID]; ok && w != it.SID {
			t.Fatalf("item %s: SID %s, the model's %s", it.ID, it.SID, w)
		}
	}
}

// A new item PUT without an SID gets one at once, from the catalog's
// quantizer, that the model can write: it is usable as history right away
// and keeps its SID when the catalog is reopened.
func TestNewItemGetsSID(t *testing.T) {
	if _, err := onnx.FindLibrary(""); err != nil {
		t.Skip("onnxruntime library not found: ", err)
	}
	dir := filepath.Join(t.TempDir(), "index")
	o := Options{IndexDir: dir, IndexName: "catalog", DemoDir: demo, ModelDir: model, API: api.Config{InsecureWrites: true}}
	st, err := Open(context.Background(), o, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(st.Server.Handler())
	do := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	drift := func() map[string]float64 {
		t.Helper()
		code, b := do("GET", "/readyz", "")
		var r struct{ Drift map[string]any }
		if code != 200 || json.Unmarshal([]byte(b), &r) != nil || r.Drift == nil {
			t.Fatalf("/readyz %d %s", code, b)
		}
		out := map[string]float64{}
		for k, v := range r.Drift {
			if f, ok := v.(float64); ok {
				out[k] = f
			}
		}
		return out
	}
	if d := drift(); d["unseen_items"] != 0 || d["catalog_items"] == 0 {
		t.Fatalf("drift before any write: %v", d)
	}
	if code, b := do("PUT", "/api/catalog/zz-new-1", `{"type":"scarf","title":"Ruby Red Cashmere Winter Scarf","brand":"Verdance","attributes":{"color":"ruby red","material":"cashmere"},"in_stock":true}`); code != 200 {
		t.Fatalf("PUT %d %s", code, b)
	}
	if d := drift(); d["unseen_items"] != 1 {
		t.Fatalf("drift after one new item: %v", d)
	}
	if code, b := do("POST", "/v1/search", `{"query":"ruby red cashmere winter scarf","k":10}`); code != 200 || !strings.Contains(b, "zz-new-1") {
		t.Fatalf("search for the new item: %d %s", code, b)
	}
	if d := drift(); d["generated_unseen"] != 1 || d["generated"] != 10 || d["generated_unseen_share"] != 0.1 {
		t.Fatalf("drift after a search naming it: %v", d)
	}
	if code, b := do("GET", "/metrics", ""); code != 200 || !strings.Contains(b, "neo_model_unseen_items 1\n") || !strings.Contains(b, "neo_generated_unseen_items 1\n") {
		t.Fatalf("/metrics lacks the drift gauges: %d", code)
	}
	it, ok, err := st.Catalog.Get("zz-new-1")
	if err != nil || !ok || it.SID == "" {
		t.Fatalf("new item %+v ok %v err %v: no SID", it, ok, err)
	}
	s, err := sid.Parse(sid.TextPrefix + it.SID + sid.TextSuffix)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Engine.Meta().SID.Tokens(s); err != nil {
		t.Fatalf("the model cannot write the new SID %s: %v", it.SID, err)
	}
	if code, b := do("POST", "/v1/recommend", `{"history":["zz-new-1"],"k":5}`); code != 200 {
		t.Fatalf("recommend from the new item: %d %s", code, b)
	}
	// a second new item of the same text gets a different SID
	if code, b := do("PUT", "/api/catalog/zz-new-2", `{"type":"scarf","title":"Ruby Red Cashmere Winter Scarf","brand":"Verdance","in_stock":true}`); code != 200 {
		t.Fatalf("PUT %d %s", code, b)
	}
	it2, _, _ := st.Catalog.Get("zz-new-2")
	if it2.SID == "" || it2.SID == it.SID {
		t.Fatalf("second item SID %q, first %q", it2.SID, it.SID)
	}
	ts.Close()
	st.Close()
	o.DemoDir = ""
	st, err = Open(context.Background(), o, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if again, _, _ := st.Catalog.Get("zz-new-1"); again.SID != it.SID {
		t.Fatalf("after reopening: SID %q, was %q", again.SID, it.SID)
	}
}

// TestDemoShopperQueries: the demo as make demo serves it (the model
// directory's fusion defaults, no type in the request) answers queries in
// the catalog's own words with items of the type and attribute named:
// "red scarf" gives scarves.
func TestDemoShopperQueries(t *testing.T) {
	if _, err := onnx.FindLibrary(""); err != nil {
		t.Skip("onnxruntime library not found: ", err)
	}
	o := Options{IndexDir: filepath.Join(t.TempDir(), "index"), IndexName: "catalog", DemoDir: demo, ModelDir: model,
		Interactions: filepath.Join(demo, "interactions.ndjson")}
	st, err := Open(context.Background(), o, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ts := httptest.NewServer(st.Server.Handler())
	defer ts.Close()
	for _, q := range []struct{ query, typ, word string }{
		{"red scarf", "scarf", "red"},
		{"leather wallet", "wallet", "leather"},
		{"gold ring", "ring", "gold"},
	} {
		resp, err := http.Post(ts.URL+"/v1/search", "application/json", strings.NewReader(`{"query":"`+q.query+`","k":5}`))
		if err != nil {
			t.Fatal(err)
		}
		var ans struct {
			Items []struct {
				ID     string         `json:"id"`
				Fields map[string]any `json:"fields"`
			} `json:"items"`
		}
		err = json.NewDecoder(resp.Body).Decode(&ans)
		resp.Body.Close()
		if err != nil || len(ans.Items) != 5 {
			t.Fatalf("%q: %v, %d items", q.query, err, len(ans.Items))
		}
		for _, it := range ans.Items {
			b, _ := json.Marshal(it.Fields)
			if it.Fields["type"] != q.typ || !strings.Contains(strings.ToLower(string(b)), q.word) {
				t.Errorf("%q: %s is %s", q.query, it.ID, b)
			}
		}
	}
}

// TestUnwritableSIDRefused: a write naming an SID the loaded model cannot
// write (a type it was not trained on, a code past its codebook, a
// collision code past those it has) is a 400 on PUT and a failed line in
// _bulk, and the item is not written; afterwards recommend, generate and
// mixed answers still work. Before, such a PUT was accepted and every
// request naming the item answered 500.
func TestUnwritableSIDRefused(t *testing.T) {
	if _, err := onnx.FindLibrary(""); err != nil {
		t.Skip("onnxruntime library not found: ", err)
	}
	o := Options{IndexDir: filepath.Join(t.TempDir(), "index"), IndexName: "catalog", DemoDir: demo, ModelDir: model, API: api.Config{InsecureWrites: true}}
	st, err := Open(context.Background(), o, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ts := httptest.NewServer(st.Server.Handler())
	defer ts.Close()
	do := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	v := st.Engine.Meta().SID
	levels := len(v.CodeBase)
	codes := func(first, last int) string {
		parts := []string{"belt"}
		for l := 0; l < levels; l++ {
			c := 0
			if l == 0 {
				c = first
			}
			if l == levels-1 {
				c = last
			}
			parts = append(parts, strconv.Itoa(c))
		}
		return strings.Join(parts, "-")
	}
	for _, tc := range []struct{ name, typ, sid string }{
		{"collision code past the model's", "belt", codes(1, v.CodeCount[levels-1])},
		{"code past the codebook", "belt", codes(4000, 0)},
		{"type the model does not know", "spaceship", strings.Replace(codes(1, 0), "belt", "spaceship", 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"type":"` + tc.typ + `","title":"Odd item","sid":"[SID:` + tc.sid + `]"}`
			code, b := do("PUT", "/api/catalog/odd-1", body)
			if code != 400 || !strings.Contains(b, `"invalid_item"`) {
				t.Fatalf("PUT %s: %d %s, want 400 invalid_item", tc.sid, code, b)
			}
			if _, ok, _ := st.Catalog.Get("odd-1"); ok {
				t.Fatal("the refused item was written")
			}
			code, b = do("POST", "/api/catalog/_bulk", `{"id":"odd-2","type":"`+tc.typ+`","title":"Odd","sid":"[SID:`+tc.sid+`]"}`+"\n"+`{"id":"odd-3","type":"belt","title":"Plain belt"}`)
			var ans api.BulkAnswer
			if code != 200 || json.Unmarshal([]byte(b), &ans) != nil || ans.Failed != 1 || ans.OK != 1 {
				t.Fatalf("_bulk: %d %s, want one failed line and one ok", code, b)
			}
			if _, ok, _ := st.Catalog.Get("odd-2"); ok {
				t.Fatal("the refused _bulk line was written")
			}
		})
	}
	// The GET → PUT of an item with the SID it has is still accepted.
	it, ok, err := st.Catalog.Get("sku-00001")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if code, b := do("PUT", "/api/catalog/sku-00001", `{"type":"`+it.Type+`","title":"Renamed","sid":"[SID:`+it.SID+`]"}`); code != 200 {
		t.Fatalf("PUT with its own SID: %d %s", code, b)
	}
	// An item holding an SID the model cannot write (neo import checks no
	// model) loses it on a PUT without "sid": the coder gives it one the
	// model can write (found by review: the bad SID was kept and echoed).
	bad := codes(1, v.CodeCount[levels-1])
	if err := st.Catalog.Put(index.Item{ID: "odd-imp", Type: "belt", Title: "Imported belt", SID: bad, InStock: true}); err != nil {
		t.Fatal(err)
	}
	unwritable := func() float64 {
		_, b := do("GET", "/readyz", "")
		var r struct {
			Drift struct {
				Unwritable float64 `json:"unwritable_items"`
			}
		}
		if err := json.Unmarshal([]byte(b), &r); err != nil {
			t.Fatalf("/readyz: %v: %s", err, b)
		}
		return r.Drift.Unwritable
	}
	if n := unwritable(); n != 1 {
		t.Fatalf("/readyz counts %v unwritable items, want 1 (odd-imp)", n)
	}
	if _, b := do("GET", "/metrics", ""); !strings.Contains(b, "neo_catalog_unwritable_items 1\n") {
		t.Fatal("/metrics lacks neo_catalog_unwritable_items 1")
	}
	code, b := do("PUT", "/api/catalog/odd-imp", `{"type":"belt","title":"Imported belt, renamed"}`)
	var put struct{ SID string }
	if code != 200 || json.Unmarshal([]byte(b), &put) != nil {
		t.Fatalf("PUT without sid over an unwritable one: %d %s", code, b)
	}
	if put.SID == bad || (put.SID != "" && st.Engine.CheckSID(put.SID) != nil) {
		t.Fatalf("PUT without sid kept or gave an SID the model cannot write: %s", b)
	}
	if got, _, _ := st.Catalog.Get("odd-imp"); got.SID != put.SID {
		t.Fatalf("catalog has %q, the answer said %q", got.SID, put.SID)
	}
	if n := unwritable(); n != 0 {
		t.Fatalf("/readyz counts %v unwritable items after the PUT, want 0", n)
	}
	for _, req := range []struct{ path, body string }{
		{"/v1/recommend", `{"history":["sku-00001","odd-3"],"k":3}`},
		{"/v1/recommend", `{"history":["sku-00001"],"format":"mixed"}`},
		{"/v1/generate", `{"prompt":"gold","format":"mixed","max_tokens":40}`},
	} {
		if code, b := do("POST", req.path, req.body); code != 200 {
			t.Fatalf("%s %s: %d %s", req.path, req.body, code, b)
		}
	}
}

// TestEngineMetrics: with the demo engine behind it, /metrics reports the
// model (neo_model_info), the engine's queue, and per task the prefill,
// decode and first-token times and tokens of the answers served.
func TestEngineMetrics(t *testing.T) {
	if _, err := onnx.FindLibrary(""); err != nil {
		t.Skip("onnxruntime library not found: ", err)
	}
	metrics := api.NewMetricSet()
	o := Options{IndexDir: filepath.Join(t.TempDir(), "index"), IndexName: "catalog", DemoDir: demo, ModelDir: model, API: api.Config{Metrics: metrics}}
	st, err := Open(context.Background(), o, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ts := httptest.NewServer(st.Server.Handler())
	defer ts.Close()
	for _, r := range []struct{ path, body string }{
		{"/v1/search", `{"query":"gold ring","k":3}`},
		{"/v1/recommend", `{"history":["sku-00001"],"format":"mixed"}`},
	} {
		resp, err := http.Post(ts.URL+r.path, "application/json", strings.NewReader(r.body))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", r.path, resp, err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	meta := st.Engine.Meta()
	for _, want := range []string{
		`neo_model_info{format_version="` + strconv.Itoa(meta.FormatVersion) + `",max_seq="` + strconv.Itoa(meta.MaxSeq) + `"`,
		"neo_engine_queue_depth 0",
		`neo_prefill_duration_seconds_count{task="search"} 1`,
		`neo_decode_duration_seconds_count{task="recommend"} 1`,
		`neo_time_to_first_token_seconds_count{task="recommend"} 1`,
		`neo_decode_tokens_total{task="search"}`,
		`neo_decode_tokens_total{task="recommend"}`,
		`neo_build_info{`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
