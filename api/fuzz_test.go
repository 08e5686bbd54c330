package api

import (
	"errors"
	"slices"
	"testing"

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
