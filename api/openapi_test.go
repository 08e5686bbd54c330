package api

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	legacyrouter "github.com/getkin/kin-openapi/routers/legacy"
)

// TestOpenAPILiveResponses sends requests that reach every documented
// operation, with good and bad input, and validates each live answer
// (status, headers, body) against /openapi.json with kin-openapi: an
// undocumented status or a body off its schema fails.
func TestOpenAPILiveResponses(t *testing.T) {
	e := newEnv(t, nil)
	_, spec := e.do("GET", "/openapi.json", "")
	doc, err := openapi3.NewLoader().LoadFromData(spec)
	if err != nil {
		t.Fatal(err)
	}
	router, err := legacyrouter.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	auth := []string{"Authorization", "Bearer " + testKey}
	tests := []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
	}{
		{"healthz", "GET", "/healthz", "", nil, 200},
		{"readyz", "GET", "/readyz", "", nil, 200},
		{"search", "POST", "/v1/search", `{"query":"gold","k":3}`, nil, 200},
		{"search typed", "POST", "/v1/search", `{"query":"gold","type":["handbag","ring"],"filter":"brand:Aurora"}`, nil, 200},
		{"search bad k", "POST", "/v1/search", `{"query":"gold","k":0.5}`, nil, 400},
		{"search no query", "POST", "/v1/search", `{}`, nil, 400},
		{"search bad json", "POST", "/v1/search", `{`, nil, 400},
		{"search bad timeout", "POST", "/v1/search?timeout=soon", `{"query":"gold"}`, nil, 400},
		{"recommend", "POST", "/v1/recommend", `{"history":["bag-1"],"k":2}`, nil, 200},
		{"recommend mixed", "POST", "/v1/recommend", `{"history":["bag-1"],"format":"mixed"}`, nil, 200},
		{"generate text", "POST", "/v1/generate", `{"prompt":"gold","format":"text"}`, nil, 200},
		{"list indexes", "GET", "/api", "", nil, 200},
		{"analyzer names", "POST", "/api/_analyzerNames", `{}`, nil, 200},
		{"datetime parser names", "POST", "/api/_datetimeParserNames", `{}`, nil, 200},
		{"index info", "GET", "/api/catalog", "", nil, 200},
		{"unknown index", "GET", "/api/other", "", nil, 404},
		{"count", "GET", "/api/catalog/_count", "", nil, 200},
		{"fields", "GET", "/api/catalog/_fields", "", nil, 200},
		{"bleve search", "POST", "/api/catalog/_search", `{"query":{"query":"gold"},"size":2,"facets":{"b":{"field":"brand","size":3}}}`, nil, 200},
		{"bleve search bad facet", "POST", "/api/catalog/_search", `{"query":{"query":"gold"},"facets":{"b":{"field":"brand","size":-5}}}`, nil, 400},
		{"doc get", "GET", "/api/catalog/bag-1", "", nil, 200},
		{"doc missing", "GET", "/api/catalog/nope", "", nil, 404},
		{"put", "PUT", "/api/catalog/hat-9", `{"type":"hat","title":"Wool hat","attributes":{"color":"grey"}}`, auth, 200},
		{"put no attributes", "PUT", "/api/catalog/hat-10", `{"type":"hat","title":"Felt hat"}`, auth, 200},
		{"doc get no attributes", "GET", "/api/catalog/hat-10", "", nil, 200},
		{"put bad item", "PUT", "/api/catalog/hat-11", `{"title":"no type"}`, auth, 400},
		{"put 10,000 attribute keys", "PUT", "/api/catalog/hat-15", `{"type":"hat","title":"x","attributes":{` + attrKeys(10000) + `}}`, auth, 400},
		{"put unauthorised", "PUT", "/api/catalog/hat-12", `{"type":"hat","title":"x"}`, nil, 401},
		{"bulk", "POST", "/api/catalog/_bulk", `{"id":"hat-13","type":"hat","title":"Cap"}` + "\n" + `{"id":"hat-14"}`, auth, 200},
		{"delete", "DELETE", "/api/catalog/hat-9", "", auth, 200},
		{"delete missing", "DELETE", "/api/catalog/hat-9", "", auth, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.do(tc.method, tc.path, tc.body, tc.hdr...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %.300s", resp.StatusCode, tc.status, b)
			}
			req, _ := http.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				req.Header.Set(tc.hdr[i], tc.hdr[i+1])
			}
			route, params, err := router.FindRoute(req)
			if err != nil {
				t.Fatalf("the document has no operation for %s %s: %v", tc.method, tc.path, err)
			}
			in := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{
					Request: req, PathParams: params, Route: route,
					Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
				},
				Status:  resp.StatusCode,
				Header:  resp.Header,
				Body:    io.NopCloser(bytes.NewReader(b)),
				Options: &openapi3filter.Options{IncludeResponseStatus: true},
			}
			if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
				t.Fatalf("answer %d does not match the document: %v\nbody: %.300s", resp.StatusCode, err, b)
			}
		})
	}
}

// TestOpenAPIErrorCodes: the document's error-code enum is exactly the
// package's Code constants, so a new code cannot go undocumented.
func TestOpenAPIErrorCodes(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var inCode []string
	for _, f := range pkgs["api"].Files {
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, name := range vs.Names {
				if strings.HasPrefix(name.Name, "Code") && i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, _ := strconv.Unquote(lit.Value)
						inCode = append(inCode, v)
					}
				}
			}
			return true
		})
	}
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	var inDoc []string
	for _, v := range doc.Components.Schemas["Error"].Value.Properties["error"].Value.Properties["code"].Value.Enum {
		inDoc = append(inDoc, v.(string))
	}
	sort.Strings(inCode)
	sort.Strings(inDoc)
	if strings.Join(inCode, ",") != strings.Join(inDoc, ",") {
		t.Fatalf("error codes in the code %v, in the document %v", inCode, inDoc)
	}
}

// attrKeys is n attribute pairs as JSON object members.
func attrKeys(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = `"k` + strconv.Itoa(i) + `":"v"`
	}
	return strings.Join(parts, ",")
}
