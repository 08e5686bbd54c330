package index

import (
	"encoding/json"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	regexpchar "github.com/blevesearch/bleve/v2/analysis/char/regexp"
	"github.com/blevesearch/bleve/v2/analysis/datetime/flexible"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/single"
	"github.com/blevesearch/bleve/v2/mapping"
)

// Bleve field names of the catalog mapping. Attribute k is indexed as
// "attributes.k" (keyword), e.g. "attributes.color".
const (
	FieldType        = "type"
	FieldTitle       = "title"
	FieldDescription = "description"
	FieldBrand       = "brand"
	FieldAttributes  = "attributes"
	FieldPrice       = "price"
	FieldInStock     = "in_stock"
	FieldSID         = "sid"
	// FieldSource holds the item's JSON, stored but not indexed, so Get and
	// Items return exactly what was put.
	FieldSource = "_source"
)

// boolWords is the query-time analyzer of in_stock: Bleve indexes booleans
// as the terms "T" and "F", so a query string in_stock:true must be
// rewritten to match.
const boolWords = "neo_bool_words"

// noDates is a date parser with no layouts: attribute values are indexed
// by Bleve's dynamic mapping, which would otherwise turn a value that
// looks like a date into a datetime field instead of a keyword.
const noDates = "neo_no_dates"

// NewMapping returns the catalog's Bleve mapping: title and description
// analysed as English text; type, brand, sid and every attribute value as
// exact keywords; price numeric; in_stock boolean. All indexed fields are
// stored, so search hits can return them.
func NewMapping() mapping.IndexMapping {
	im := bleve.NewIndexMapping()
	im.DefaultAnalyzer = en.AnalyzerName
	if err := im.AddCustomDateTimeParser(noDates, map[string]any{
		"type":    flexible.Name,
		"layouts": []any{},
	}); err != nil {
		panic(err) // static configuration
	}
	im.DefaultDateTimeParser = noDates
	for name, cfg := range map[string]map[string]any{
		"neo_true":  {"type": regexpchar.Name, "regexp": `(?i)^\s*(true|t|yes|1)\s*$`, "replace": "T"},
		"neo_false": {"type": regexpchar.Name, "regexp": `(?i)^\s*(false|f|no|0)\s*$`, "replace": "F"},
	} {
		if err := im.AddCustomCharFilter(name, cfg); err != nil {
			panic(err)
		}
	}
	if err := im.AddCustomAnalyzer(boolWords, map[string]any{
		"type":         custom.Name,
		"char_filters": []any{"neo_true", "neo_false"},
		"tokenizer":    single.Name,
	}); err != nil {
		panic(err)
	}

	text := func() *mapping.FieldMapping {
		f := bleve.NewTextFieldMapping()
		f.Analyzer = en.AnalyzerName
		return f
	}
	kw := bleve.NewKeywordFieldMapping

	doc := bleve.NewDocumentStaticMapping()
	doc.AddFieldMappingsAt(FieldType, kw())
	doc.AddFieldMappingsAt(FieldTitle, text())
	doc.AddFieldMappingsAt(FieldDescription, text())
	doc.AddFieldMappingsAt(FieldBrand, kw())
	doc.AddFieldMappingsAt(FieldPrice, bleve.NewNumericFieldMapping())
	inStock := bleve.NewBooleanFieldMapping()
	inStock.Analyzer = boolWords
	doc.AddFieldMappingsAt(FieldInStock, inStock)
	doc.AddFieldMappingsAt(FieldSID, kw())

	attrs := bleve.NewDocumentMapping() // dynamic: attribute names are open
	attrs.DefaultAnalyzer = keyword.Name
	doc.AddSubDocumentMapping(FieldAttributes, attrs)

	src := bleve.NewTextFieldMapping()
	src.Index = false
	src.IncludeInAll = false
	src.IncludeTermVectors = false
	src.DocValues = false
	doc.AddFieldMappingsAt(FieldSource, src)

	im.DefaultMapping = doc
	return im
}

// document is what Bleve indexes for an item.
func document(it *Item) (map[string]any, error) {
	src, err := json.Marshal(it)
	if err != nil {
		return nil, err
	}
	d := map[string]any{
		FieldType:        it.Type,
		FieldTitle:       it.Title,
		FieldDescription: it.Description,
		FieldBrand:       it.Brand,
		FieldPrice:       it.Price,
		FieldInStock:     it.InStock,
		FieldSource:      string(src),
	}
	if len(it.Attributes) > 0 {
		d[FieldAttributes] = it.Attributes
	}
	if it.SID != "" {
		d[FieldSID] = it.SID
	}
	return d, nil
}
