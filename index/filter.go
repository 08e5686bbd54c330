package index

import (
	"context"
	"fmt"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"
)

// scanPage is the number of hits fetched per search while scanning.
const scanPage = 2000

// scan calls fn for every document matching q, in id order, with the given
// stored fields. It pages with search_after on _id, so the cost stays
// linear however deep it goes; it stops when ctx is done.
func (c *Catalog) scan(ctx context.Context, q query.Query, fields []string, fn func(id string, fields map[string]any) error) error {
	var after []string
	for {
		req := bleve.NewSearchRequestOptions(q, scanPage, 0, false)
		req.SortBy([]string{"_id"})
		req.Score = "none"
		req.Fields = fields
		req.SearchAfter = after
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := c.idx.SearchInContext(ctx, req)
		if err != nil {
			return err
		}
		for _, h := range res.Hits {
			if err := fn(h.ID, h.Fields); err != nil {
				return err
			}
		}
		if len(res.Hits) < scanPage {
			return nil
		}
		after = []string{res.Hits[len(res.Hits)-1].ID}
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
