package folder

import (
	"strings"
	"unicode"
)

// File names of a data folder (docs/CONTRACTS.md): the items, the
// interaction log and the labelled search queries, each NDJSON. Only the
// items file is required.
const (
	ItemsFile        = "items.ndjson"
	InteractionsFile = "interactions.ndjson"
	QueriesFile      = "queries.ndjson"
)

// NormalizeQuery is the canonical form of a query text, by which the
// converters deduplicate queries and the evaluation tells queries seen in
// training from unseen ones: lower case, trimmed, inner whitespace
// collapsed to one space.
func NormalizeQuery(q string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(q), unicode.IsSpace), " ")
}
