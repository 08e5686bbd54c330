package index

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/blevesearch/bleve/v2/search/query"
)

func TestTypesJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Types
		ok   bool
	}{
		{`"ring"`, Types{"ring"}, true},
		{`""`, nil, true},
		{`["ring","scarf"]`, Types{"ring", "scarf"}, true},
		{`[]`, Types{}, true},
		{`5`, nil, false},
		{`[1]`, nil, false},
		{`{"a":1}`, nil, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			var got struct {
				Type Types `json:"type"`
			}
			err := json.Unmarshal([]byte(`{"type":`+tc.in+`}`), &got)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok %v", err, tc.ok)
			}
			if tc.ok && !slices.Equal(got.Type, tc.want) {
				t.Fatalf("got %q, want %q", got.Type, tc.want)
			}
		})
	}
}

func TestParseFilterJSON(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		nilQ, ok bool
	}{
		{"absent", ``, true, true},
		{"null", `null`, true, true},
		{"empty string", `""`, true, true},
		{"blank string", `"  "`, true, true},
		{"query string", `"+type:ring +price:<500"`, false, true},
		{"bad query string", `"price:>>5"`, false, false},
		{"json object", `{"term":"ring","field":"type"}`, false, true},
		{"json in a string", `"{\"term\":\"ring\",\"field\":\"type\"}"`, false, true},
		{"invalid object", `{"disjuncts":[],"min":3}`, false, false},
		{"unknown object", `{"foo":1}`, false, false},
		{"number", `5`, false, false},
		{"array", `[]`, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := ParseFilterJSON(json.RawMessage(tc.in), nil)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok %v", err, tc.ok)
			}
			if tc.ok && (q == nil) != tc.nilQ {
				t.Fatalf("query %v, want nil %v", q, tc.nilQ)
			}
		})
	}
	// an object goes through the given parser
	called := false
	if _, err := ParseFilterJSON(json.RawMessage(`{"x":1}`), func(b []byte) (query.Query, error) {
		called = true
		return query.NewMatchAllQuery(), nil
	}); err != nil || !called {
		t.Fatalf("object parser called %v, err %v", called, err)
	}
}

func FuzzParseFilterJSON(f *testing.F) {
	f.Add([]byte(`"+type:ring +in_stock:T"`))
	f.Add([]byte(`{"term":"ring","field":"type"}`))
	f.Add([]byte(`{"conjuncts":[{"match":"gold"},{"min":1,"field":"price"}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		// no panic, whatever Bleve's parser does with the input
		q, err := ParseFilterJSON(raw, nil)
		if err == nil && q != nil {
			if v, ok := q.(query.ValidatableQuery); ok && v.Validate() != nil {
				t.Fatalf("accepted an invalid query from %q", raw)
			}
		}
	})
}

func TestCheckPatterns(t *testing.T) {
	long := strings.Repeat("*a", 300)
	for _, tc := range []struct {
		name string
		q    query.Query
		ok   bool
	}{
		{"short wildcard", &query.WildcardQuery{Wildcard: "gold*"}, true},
		{"300 wildcards", &query.WildcardQuery{Wildcard: long}, false},
		{"long regexp", &query.RegexpQuery{Regexp: strings.Repeat("a", MaxPatternLen+1)}, false},
		{"nested in a conjunction", query.NewConjunctionQuery([]query.Query{query.NewMatchQuery("x"), &query.WildcardQuery{Wildcard: long}}), false},
		{"nested in a boolean", query.NewBooleanQuery(nil, []query.Query{&query.WildcardQuery{Wildcard: long}}, nil), false},
		{"in a query string", query.NewQueryStringQuery("title:" + strings.Repeat("*a", 40)), false},
		{"plain query string", query.NewQueryStringQuery("+type:ring gold"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckPatterns(tc.q); (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok %v", err, tc.ok)
			}
		})
	}
	if _, err := ParseFilterJSON(json.RawMessage(`{"wildcard":"`+long+`","field":"title"}`), nil); err == nil {
		t.Fatal("ParseFilterJSON accepted a 300-wildcard pattern")
	}
}

func TestFilterInStopsOnCancel(t *testing.T) {
	c := openFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.FilterIn(ctx, c.Snapshot(), query.NewMatchAllQuery()); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

// FuzzParseFilter: a filter string (Bleve's query-string syntax, as
// requests send it) parses to a valid query within the pattern bounds, or
// is an error; it never panics.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"+type:ring +in_stock:T", "price:>10 price:<=99.5", `brand:"Aurora"`, "title:/go.d/", "title:" + strings.Repeat("*a", 30), "+-+", `"unterminated`, "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseFilter(s)
		if err != nil || q == nil {
			return
		}
		if v, ok := q.(query.ValidatableQuery); ok && v.Validate() != nil {
			t.Fatalf("accepted an invalid query from %q", s)
		}
		if err := CheckPatterns(q); err != nil {
			t.Fatalf("accepted %q past the pattern bounds: %v", s, err)
		}
	})
}
