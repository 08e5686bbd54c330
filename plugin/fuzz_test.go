package plugin

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/neo-search/neo/sid"
)

// FuzzParseQuery: the query parser the server uses for _search and
// filters (Bleve's queries plus the generative node), and the validation
// the API runs on what it accepts, never panic. (Parsing alone accepts
// some queries that do not validate, {"query":" "} among them, as Bleve's
// own parser does: the API validates before it searches.)
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		`{"generative":{"task":"search","query":"gold","type":"ring","k":5,"filter":"+in_stock:true"}}`,
		`{"conjuncts":[{"generative":{"task":"recommend","history":["sku-00001"]}},{"term":"ring","field":"type"}]}`,
		`{"disjuncts":[{"match":"gold"},{"generative":{"query":"x","k":0}}],"min":1}`,
		`{"must":{"conjuncts":[{"generative":{}}]},"must_not":{"disjuncts":[{"term":"x"}]}}`,
		`{"query":"+type:ring"}`, `{"generative":null}`, `[]`, `{"conjuncts":[[[]]]}`,
	} {
		f.Add([]byte(s))
	}
	e := demoEngine(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := ParseQuery(b, e)
		if err != nil || q == nil {
			return
		}
		if v, ok := q.(query.ValidatableQuery); ok {
			_ = v.Validate()
		}
	})
}

// FuzzEngineRequest runs what comes after the API's decoding (normalize,
// history resolution, the prompt's encoding, constrained decoding) on any
// task, text, history and format: the engine answers or refuses with
// ErrBadRequest, and every item it names is a real, in-stock catalog item
// with the SID it answered.
func FuzzEngineRequest(f *testing.F) {
	f.Add(uint8(0), "gold ring", "", "", uint8(0), uint8(3))
	f.Add(uint8(1), "", "sku-00001,sku-00005", "a gift", uint8(1), uint8(2))
	f.Add(uint8(2), "", "sku-00002", "", uint8(2), uint8(1))
	f.Add(uint8(3), "", "[SID:ring-1-2-3-0],nope", "\x00\xff", uint8(1), uint8(0))
	f.Add(uint8(1), "", "", "something in red", uint8(1), uint8(5))
	e := demoEngine(f)
	tasks := []string{TaskSearch, TaskRecommend, TaskExplain, TaskMixed, "", "summarise"}
	formats := []string{FormatIDs, FormatMixed, FormatText, "", "xml"}
	f.Fuzz(func(t *testing.T, task uint8, q, hist, ctxText string, format, k uint8) {
		req := Request{Task: tasks[int(task)%len(tasks)], Query: q, Context: ctxText,
			Format: formats[int(format)%len(formats)], K: int(k % 12), MaxTokens: 24}
		if hist != "" {
			req.History = strings.Split(hist, ",")
		}
		resp, err := e.Generate(context.Background(), req)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("%+v: %v, want an answer or ErrBadRequest", req, err)
			}
			return
		}
		for _, it := range resp.Items {
			doc, ok, err := e.Catalog().Get(it.ID)
			if err != nil || !ok || !doc.InStock {
				t.Fatalf("%+v: named %s (%s): in catalog %v, err %v, in stock %v", req, it.ID, it.SID, ok, err, doc.InStock)
			}
			s, err := sid.Parse(it.SID)
			if err != nil || sid.TextPrefix+doc.SID+sid.TextSuffix != s.String() {
				t.Fatalf("%+v: item %s answered SID %s, the catalog has %s", req, it.ID, it.SID, doc.SID)
			}
		}
	})
}
