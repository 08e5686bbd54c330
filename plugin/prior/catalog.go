package prior

import (
	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/index/assign"
	"github.com/neo-search/neo/index/folder"
)

// CatalogExperts are the experts of a served catalog: bm25 over its
// title and description (Bleve, with the request's types and filter), and,
// when events are given, itemknn, seqknn and popularity over them and
// content over the items' text (every
// event counts; an event of an item the catalog lacks is left out). Items
// added to the catalog later have no collaborative statistics until the
// experts are rebuilt, and keep the smoothing share.
func CatalogExperts(cat *index.Catalog, events []folder.Interaction) (map[string]Expert, error) {
	ex := map[string]Expert{
		BM25: TextExpert(cat.Bleve(), index.FieldType, index.FieldTitle, index.FieldDescription),
	}
	if len(events) == 0 {
		return ex, nil
	}
	items, err := cat.Items()
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(items))
	texts := make([]string, len(items))
	for i, it := range items {
		ids[i], texts[i] = it.ID, assign.ItemText(it)
	}
	cf := NewCFFromLog(ids, events, nil)
	ex[ItemKNN] = cf.ItemKNNExpert()
	ex[SeqKNN] = cf.SeqKNNExpert()
	ex[Popularity] = cf.PopularityExpert()
	ex[Content] = NewContent(ids, texts).Expert()
	return ex, nil
}
