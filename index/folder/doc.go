// Package folder owns the data folder contract of docs/CONTRACTS.md: its
// file names (items.ndjson, interactions.ndjson, queries.ndjson), the
// interaction and query records with their strict NDJSON parsers and
// writer, the splits (train, valid, test; leave-last-out for a log
// without them) and the loaded folder with its next-item cases (Folder).
// The catalog item itself is the index package's (index.Item); the
// converters from public datasets live beside this package, in
// index/convert.
package folder
