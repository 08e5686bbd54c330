package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/neo-search/neo/index"
)

// routeCall is a valid call of a route of the router.
type routeCall struct {
	method, route, path, body string
	write, ops                bool
}

// everyRoute makes one valid call for every route the server registers,
// so the checks below cover new routes automatically.
func everyRoute(t *testing.T, s *Server) []routeCall {
	t.Helper()
	bodies := map[string]string{
		"POST /v1/search":                `{"query":"gold"}`,
		"POST /v1/recommend":             `{"history":["bag-1"]}`,
		"POST /v1/generate":              `{"task":"search","format":"ids","inputs":{"query":"gold"}}`,
		"POST /api/:index/_search":       `{"query":{"match_all":{}}}`,
		"POST /api/:index/_bulk":         `{"id":"bulk-1","type":"hat"}`,
		"PUT /api/:index/:docID":         `{"type":"hat","title":"Hat"}`,
		"DELETE /api/:index/:docID":      ``,
		"POST /api/_analyzerNames":       ``,
		"POST /api/_datetimeParserNames": `{}`,
	}
	var out []routeCall
	for _, r := range s.Echo().Routes() {
		if r.Method == http.MethodHead {
			continue // GET's twin without a body (TestHead)
		}
		key := r.Method + " " + r.Path
		body, known := bodies[key]
		if r.Method == http.MethodPost || r.Method == http.MethodPut {
			if !known {
				t.Fatalf("no test body for new route %s", key)
			}
		}
		path := strings.NewReplacer(":index", "catalog", ":docID", "bag-1").Replace(r.Path)
		out = append(out, routeCall{
			method: r.Method, route: r.Path, path: path, body: body,
			write: r.Method == http.MethodPut || r.Method == http.MethodDelete || strings.HasSuffix(r.Path, "/_bulk"),
			ops:   !strings.HasPrefix(r.Path, "/v1/") && !strings.HasPrefix(r.Path, "/api"),
		})
	}
	return out
}

// TestEveryRoute checks, for each route: a valid call succeeds; reads
// need the read key when one is set and writes the API key; routes with
// {index} answer 404 for other names; and with every slot taken and no
// queue, the route sheds with 429 + Retry-After (operations routes stay up).
func TestEveryRoute(t *testing.T) {
	auth := []string{"Authorization", "Bearer " + testKey}
	for _, rc := range everyRoute(t, newEnv(t, nil).srv) {
		t.Run(rc.method+" "+rc.route, func(t *testing.T) {
			t.Run("ok", func(t *testing.T) {
				e := newEnv(t, nil)
				resp, b := e.do(rc.method, rc.path, rc.body, auth...)
				if resp.StatusCode/100 != 2 {
					t.Fatalf("%d %s", resp.StatusCode, b)
				}
			})
			if rc.ops {
				return
			}
			t.Run("unauthorized", func(t *testing.T) {
				e := newEnv(t, func(c *Config) { c.ReadKey = "rk" })
				resp, b := e.do(rc.method, rc.path, rc.body)
				checkError(t, resp, b, http.StatusUnauthorized, CodeUnauthorized)
			})
			if rc.write {
				t.Run("writes_disabled", func(t *testing.T) {
					e := newEnv(t, func(c *Config) { c.APIKey = "" })
					resp, b := e.do(rc.method, rc.path, rc.body, auth...)
					checkError(t, resp, b, http.StatusForbidden, CodeWritesDisabled)
				})
			}
			if strings.Contains(rc.route, ":index") {
				t.Run("index_not_found", func(t *testing.T) {
					e := newEnv(t, nil)
					resp, b := e.do(rc.method, strings.Replace(rc.path, "/catalog", "/other", 1), rc.body, auth...)
					checkError(t, resp, b, http.StatusNotFound, CodeIndexNotFound)
				})
			}
			t.Run("overloaded", func(t *testing.T) {
				e := newEnv(t, func(c *Config) { c.MaxInflight, c.MaxQueue = 1, -1 })
				e.gen.delay = 300 * time.Millisecond
				e.gen.started = make(chan struct{}, 1)
				held := make(chan struct{})
				go func() {
					defer close(held)
					e.do("POST", "/v1/search", `{"query":"hold the slot"}`)
				}()
				<-e.gen.started
				resp, b := e.do(rc.method, rc.path, rc.body, auth...)
				checkError(t, resp, b, http.StatusTooManyRequests, CodeOverloaded)
				if resp.Header.Get("Retry-After") == "" {
					t.Fatal("no Retry-After")
				}
				if resp, _ := e.do("GET", "/healthz", ""); resp.StatusCode != 200 {
					t.Fatal("healthz shed under load")
				}
				<-held
			})
		})
	}
}

// TestCatalogFailure: when the index fails underneath (here: closed), the
// catalog routes answer JSON 5xx errors and the process keeps serving.
func TestCatalogFailure(t *testing.T) {
	e := newEnv(t, nil)
	broken, err := index.OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	broken.Bleve().Close() // not broken.Close(): that would close it again
	e.srv.cfg.Catalog = broken
	auth := []string{"Authorization", "Bearer " + testKey}
	for _, rc := range []routeCall{
		{method: "GET", path: "/api/catalog/_count"},
		{method: "GET", path: "/api/catalog/_fields"},
		{method: "GET", path: "/api/catalog/bag-1"},
		{method: "POST", path: "/api/catalog/_search", body: `{"query":{"match_all":{}}}`},
		{method: "PUT", path: "/api/catalog/bag-1", body: `{"type":"hat"}`},
		{method: "DELETE", path: "/api/catalog/bag-1"},
	} {
		t.Run(rc.method+" "+rc.path, func(t *testing.T) {
			resp, b := e.do(rc.method, rc.path, rc.body, auth...)
			code := errCode(b)
			if resp.StatusCode < 500 || (code != CodeInternal && code != CodeSearchFailed) {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
		})
	}
	t.Run("bulk reports lines", func(t *testing.T) {
		resp, b := e.do("POST", "/api/catalog/_bulk", `{"id":"x","type":"hat"}`, auth...)
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"status":"failed"`) {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	})
	t.Run("readyz", func(t *testing.T) {
		if resp, b := e.do("GET", "/readyz", ""); resp.StatusCode != 503 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	})
	t.Run("still serving", func(t *testing.T) {
		if resp, _ := e.do("GET", "/healthz", ""); resp.StatusCode != 200 {
			t.Fatal(resp.StatusCode)
		}
	})
}
