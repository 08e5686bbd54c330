package index

import (
	"context"
	"fmt"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	bindex "github.com/blevesearch/bleve_index_api"
)

// scan calls fn for every document matching q, in index order (not id
// order: sort what it collects when order matters), with the given fields:
// sid and in_stock from doc values, _source from the stored document. It
// walks one searcher over one index reader, so its cost is linear in the
// matches (paging sorted searches with search_after cost a full pass per
// page: 125 s for a snapshot of 1M items); it stops when ctx is done.
func (c *Catalog) scan(ctx context.Context, q query.Query, fields []string, fn func(id string, fields map[string]any) error) (err error) {
	ai, err := c.idx.Advanced()
	if err != nil {
		return err
	}
	r, err := ai.Reader()
	if err != nil {
		return err
	}
	defer func() {
		if cerr := r.Close(); err == nil {
			err = cerr
		}
	}()
	s, err := q.Searcher(ctx, r, c.idx.Mapping(), search.SearcherOptions{Score: "none"})
	if err != nil {
		return err
	}
	defer s.Close()
	var dvFields []string
	source := false
	for _, f := range fields {
		if f == FieldSource {
			source = true
		} else {
			dvFields = append(dvFields, f)
		}
	}
	var dv bindex.DocValueReader
	if len(dvFields) > 0 {
		if dv, err = r.DocValueReader(dvFields); err != nil {
			return err
		}
	}
	sctx := &search.SearchContext{DocumentMatchPool: search.NewDocumentMatchPool(s.DocumentMatchPoolSize(), 0), IndexReader: r}
	var vals map[string]any
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		dm, err := s.Next(sctx)
		if err != nil {
			return err
		}
		if dm == nil {
			return nil
		}
		id, err := r.ExternalID(dm.IndexInternalID)
		if err != nil {
			return err
		}
		if len(fields) > 0 {
			vals = make(map[string]any, len(fields))
		}
		if dv != nil {
			if err := dv.VisitDocValues(dm.IndexInternalID, func(field string, term []byte) {
				if field == FieldInStock {
					vals[field] = string(term) == "T"
				} else {
					vals[field] = string(term)
				}
			}); err != nil {
				return err
			}
		}
		if source {
			doc, err := r.Document(id)
			if err != nil {
				return err
			}
			if doc != nil {
				doc.VisitFields(func(f bindex.Field) {
					if f.Name() == FieldSource {
						vals[FieldSource] = string(f.Value())
					}
				})
			}
		}
		sctx.DocumentMatchPool.Put(dm)
		if err := fn(id, vals); err != nil {
			return err
		}
	}
}

// Filter runs a Bleve query (any query type) and returns the ordinals, in
// the current snapshot, of the matching items that have one.
// Availability is not applied: intersect with it when decoding.
func (c *Catalog) Filter(q query.Query) (*roaring.Bitmap, error) {
	return c.FilterIn(context.Background(), c.Snapshot(), q)
}

// FilterIn is Filter against a given snapshot, for a reader that already
// holds one, stopping when ctx is done (a request's timeout).
func (c *Catalog) FilterIn(ctx context.Context, s *Snapshot, q query.Query) (*roaring.Bitmap, error) {
	bm := roaring.New()
	err := c.scan(ctx, q, nil, func(id string, _ map[string]any) error {
		if o, ok := s.Ordinal(id); ok {
			bm.Add(o)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index: filter: %w", err)
	}
	return bm, nil
}

// FilterString is Filter for a filter written as text (see ParseFilter).
func (c *Catalog) FilterString(s string) (*roaring.Bitmap, error) {
	q, err := ParseFilter(s)
	if err != nil {
		return nil, err
	}
	return c.Filter(q)
}

// ParseFilter reads a filter: a Bleve JSON query when it starts with '{'
// (`{"term":"ring","field":"type"}`), otherwise a Bleve query string
// (`+type:ring +price:<500 +in_stock:T`). An empty filter matches every item.
func ParseFilter(s string) (query.Query, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return query.NewMatchAllQuery(), nil
	}
	var q query.Query
	var err error
	if strings.HasPrefix(s, "{") {
		q, err = parseQuery([]byte(s))
	} else {
		qs := query.NewQueryStringQuery(s)
		_, err = qs.Parse()
		q = qs
	}
	if err != nil {
		return nil, fmt.Errorf("index: filter %q: %w", clip(s), err)
	}
	if v, ok := q.(query.ValidatableQuery); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("index: filter %q: %w", clip(s), err)
		}
	}
	if err := CheckPatterns(q); err != nil {
		return nil, fmt.Errorf("index: filter %q: %w", clip(s), err)
	}
	return q, nil
}
