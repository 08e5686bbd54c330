package api

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neo-search/neo/index"
)

// TestBulkBatches: _bulk writes runs of puts as batches, yet every line
// takes effect in order and gets its own result: a later line without
// "sid" keeps the SID an earlier line of the same request gave, a delete
// between puts deletes, and a bad line fails alone.
func TestBulkBatches(t *testing.T) {
	e := newEnv(t, nil)
	lines := []string{
		`{"id":"z1","type":"hat","title":"First","sid":"hat-1-2-3-0"}`,
		`{"id":"z1","type":"hat","title":"Second"}`,                    // keeps hat-1-2-3-0
		`{"id":"z2","type":"hat","title":"Other","sid":"hat-1-2-3-0"}`, // taken by z1
		`{"delete":"bag-1"}`,
		`{"id":"bag-1","type":"handbag","title":"Back again"}`,
		`{"id":"z3","type":"hat"`, // bad JSON
		`{"id":"z4","type":"hat","title":"Fourth"}`,
	}
	_, b := e.do("POST", "/api/catalog/_bulk", strings.Join(lines, "\n"), "Authorization", "Bearer "+testKey)
	var ans BulkAnswer
	if err := json.Unmarshal(b, &ans); err != nil {
		t.Fatal(err)
	}
	want := []string{"ok", "ok", "error", "ok", "ok", "error", "ok"}
	if len(ans.Results) != len(want) {
		t.Fatalf("%d results: %s", len(ans.Results), b)
	}
	for i, r := range ans.Results {
		if r.Status != want[i] || r.Line != i+1 {
			t.Errorf("line %d: %+v, want %s", i+1, r, want[i])
		}
	}
	if ans.Results[1].SID != "hat-1-2-3-0" {
		t.Errorf("line 2 kept SID %q, want hat-1-2-3-0", ans.Results[1].SID)
	}
	if it, _, _ := e.cat.Get("z1"); it.Title != "Second" || it.SID != "hat-1-2-3-0" {
		t.Errorf("z1 is %+v", it)
	}
	if it, ok, _ := e.cat.Get("bag-1"); !ok || it.Title != "Back again" {
		t.Errorf("bag-1 is %+v (%v)", it, ok)
	}
	if _, ok, _ := e.cat.Get("z2"); ok {
		t.Error("z2 was written with z1's SID")
	}
	if ans.OK != 5 || ans.Failed != 2 || ans.Status != "partial" {
		t.Errorf("answer %+v", ans)
	}
}

// BenchmarkBulk: a 3,000-line _bulk into an index on disk (every batch a
// durable write), reported as lines per second.
func BenchmarkBulk(b *testing.B) {
	var body strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&body, "{\"id\":\"bulk-%d\",\"type\":\"hat\",\"title\":\"Bulk hat %d\",\"brand\":\"Norde\",\"price\":%d}\n", i, i, 10+i%90)
	}
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		cat, err := index.Open(filepath.Join(b.TempDir(), fmt.Sprint("idx", n)))
		if err != nil {
			b.Fatal(err)
		}
		srv, err := New(Config{Catalog: cat, APIKey: testKey, Logger: quietLogger(), Metrics: NewMetricSet()})
		if err != nil {
			b.Fatal(err)
		}
		ts := httptest.NewServer(srv.Handler())
		e := &testEnv{t: b, srv: srv, ts: ts, cat: cat}
		b.StartTimer()
		t0 := time.Now()
		_, out := e.do("POST", "/api/catalog/_bulk", body.String(), "Authorization", "Bearer "+testKey)
		d := time.Since(t0)
		b.StopTimer()
		var ans BulkAnswer
		if err := json.Unmarshal(out, &ans); err != nil || ans.OK != 3000 {
			b.Fatalf("bulk: %v %.200s", err, out)
		}
		b.ReportMetric(3000/d.Seconds(), "lines/s")
		ts.Close()
		cat.Close()
		b.StartTimer()
	}
}

// TestExplorerNames: the two routes bleve-explorer's mapping editor calls
// answer in its shape, with the custom analyzers of a mapping in the body;
// a body that is not a mapping is a 400.
func TestExplorerNames(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		path, body, key, want string
		status                int
	}{
		{"/api/_analyzerNames", "", "analyzers", "standard", 200},
		{"/api/_analyzerNames", `{"analysis":{"analyzers":{"mine":{"type":"custom","tokenizer":"unicode"}}}}`, "analyzers", "mine", 200},
		{"/api/_datetimeParserNames", "", "datetime_parsers", "dateTimeOptional", 200},
		{"/api/_analyzerNames", `[1,2`, "", "", 400},
	}
	for _, tc := range tests {
		t.Run(tc.path+" "+tc.want, func(t *testing.T) {
			resp, b := e.do("POST", tc.path, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
			if tc.status != 200 {
				if errCode(b) != CodeBadJSON {
					t.Fatalf("error %s", b)
				}
				return
			}
			var ans map[string]any
			if err := json.Unmarshal(b, &ans); err != nil || ans["status"] != "ok" {
				t.Fatalf("%v %s", err, b)
			}
			list, _ := ans[tc.key].([]any)
			found := false
			for _, n := range list {
				found = found || n == tc.want
			}
			if !found {
				t.Fatalf("%s lacks %q: %s", tc.key, tc.want, b)
			}
		})
	}
}
