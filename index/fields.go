package index

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/blevesearch/bleve/v2/search/query"
)

// Types is an entity type list as requests send it: JSON accepts one
// string ("ring"; "" is no type) or an array (["ring", "scarf"]).
type Types []string

// UnmarshalJSON implements json.Unmarshaler.
func (t *Types) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			*t = nil
		} else {
			*t = Types{s}
		}
		return nil
	}
	var a []string
	if err := json.Unmarshal(b, &a); err != nil {
		return errors.New("type: want a string or an array of strings")
	}
	*t = a
	return nil
}

// ParseFilterJSON reads a filter field of a JSON request: a string is a
// filter as ParseFilter reads it, an object (or a string holding one) a
// Bleve JSON query read by object (nil: Bleve's parser, its panics turned
// into errors) and validated; null, absent or "" is no filter (nil, nil).
func ParseFilterJSON(raw json.RawMessage, object func([]byte) (query.Query, error)) (query.Query, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, nil
		}
		if !strings.HasPrefix(s, "{") {
			return ParseFilter(s)
		}
		raw = []byte(s) // a JSON query in a string: as an object
		fallthrough
	case '{':
		if object == nil {
			object = parseQuery
		}
		q, err := object(raw)
		if err != nil {
			return nil, err
		}
		if v, ok := q.(query.ValidatableQuery); ok {
			if err := v.Validate(); err != nil {
				return nil, err
			}
		}
		if err := CheckPatterns(q); err != nil {
			return nil, err
		}
		return q, nil
	}
	return nil, fmt.Errorf("want a Bleve query string or a Bleve JSON query object")
}

// parseQuery is Bleve's JSON query parser with its panics on odd shapes
// turned into errors.
func parseQuery(b []byte) (q query.Query, err error) {
	defer func() {
		if r := recover(); r != nil {
			q, err = nil, fmt.Errorf("invalid query: %v", r)
		}
	}()
	return query.ParseQuery(b)
}

// Pattern bounds: a wildcard or regexp query beyond them is refused
// before it runs, because Bleve's automata for such patterns take seconds
// to build and do not stop on a request's deadline.
const (
	MaxPatternLen       = 256
	MaxPatternWildcards = 16
)

// WalkQuery calls visit for q and every query inside it: the clauses of
// conjunctions, disjunctions and booleans, and the parse of a query string
// (one that does not parse is visited as itself; its syntax error is
// reported where it is parsed). It stops at visit's first error.
func WalkQuery(q query.Query, visit func(query.Query) error) error {
	if q == nil {
		return nil
	}
	if err := visit(q); err != nil {
		return err
	}
	var inner []query.Query
	switch x := q.(type) {
	case *query.QueryStringQuery:
		if p, err := x.Parse(); err == nil {
			inner = []query.Query{p}
		}
	case *query.ConjunctionQuery:
		inner = x.Conjuncts
	case *query.DisjunctionQuery:
		inner = x.Disjuncts
	case *query.BooleanQuery:
		inner = []query.Query{x.Must, x.Should, x.MustNot}
	}
	for _, c := range inner {
		if err := WalkQuery(c, visit); err != nil {
			return err
		}
	}
	return nil
}

// CheckPatterns walks q (compound queries and query strings included) and
// refuses wildcard and regexp patterns beyond MaxPatternLen bytes or
// MaxPatternWildcards wildcard characters.
func CheckPatterns(q query.Query) error {
	check := func(kind, p string, wild int) error {
		if len(p) > MaxPatternLen || wild > MaxPatternWildcards {
			return fmt.Errorf("%s pattern of %d bytes and %d wildcards: at most %d and %d", kind, len(p), wild, MaxPatternLen, MaxPatternWildcards)
		}
		return nil
	}
	return WalkQuery(q, func(q query.Query) error {
		switch x := q.(type) {
		case *query.WildcardQuery:
			return check("wildcard", x.Wildcard, strings.Count(x.Wildcard, "*")+strings.Count(x.Wildcard, "?"))
		case *query.RegexpQuery:
			return check("regexp", x.Regexp, strings.Count(x.Regexp, "*")+strings.Count(x.Regexp, "+")+strings.Count(x.Regexp, "{"))
		}
		return nil
	})
}
