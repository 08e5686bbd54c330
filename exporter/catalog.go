package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/index/assign"
	"github.com/neo-search/neo/index/folder"
	"github.com/neo-search/neo/sid"
)

// HasTrainQueries reports whether any query is in the train split.
func HasTrainQueries(qs []folder.Query) bool {
	for _, q := range qs {
		if folder.IsTrain(q.Split) {
			return true
		}
	}
	return false
}

// ReadInput reads the items (with their SIDs) of the catalog in dir and
// the data folder's interactions and queries (each optional; data "" =
// none). A missing optional file is said on warn (nil: not said).
func ReadInput(dir, data string, warn io.Writer) (Input, error) {
	if _, err := os.Stat(dir); err != nil {
		return Input{}, fmt.Errorf("catalog %s: %w (run neo import and neo sids first)", dir, err)
	}
	cat, err := index.Open(dir)
	if err != nil {
		return Input{}, err
	}
	items, err := cat.Items()
	cat.Close()
	if err != nil {
		return Input{}, err
	}
	in := Input{Items: items}
	if data != "" {
		if fi, err := os.Stat(data); err != nil || !fi.IsDir() {
			return Input{}, fmt.Errorf("data folder %s: not a directory", data)
		}
		if in.Interactions, err = readNDJSON(filepath.Join(data, folder.InteractionsFile), folder.ReadInteractions, warn); err != nil {
			return Input{}, err
		}
		if in.Queries, err = readNDJSON(filepath.Join(data, folder.QueriesFile), folder.ReadQueries, warn); err != nil {
			return Input{}, err
		}
	}
	return in, nil
}

// ExportCatalog runs the export of in (items of the catalog in dir, whose
// saved quantizer sizes the code vocabulary) and records the items' SIDs
// in OUT/sids.tsv.
func ExportCatalog(ctx context.Context, dir string, in Input, opt Options) (*Manifest, error) {
	items := in.Items
	// Give every code of the quantizer a token, so that items added to the
	// catalog later (coded by the same quantizer) can still be named.
	opt.MinCodeCounts = assign.CodeCounts(assign.QuantizerPath(dir), items)
	m, err := Export(ctx, in, opt)
	if err != nil {
		return nil, err
	}
	// record the SIDs the model will be trained on (neo train copies the
	// file into the model directory)
	sids := make(map[string]string, len(items))
	for _, it := range items {
		if it.SID != "" {
			sids[it.ID] = it.SID
		}
	}
	f, err := os.Create(filepath.Join(opt.OutDir, sid.AssignmentsFile))
	if err != nil {
		return nil, err
	}
	if err := sid.WriteAssignments(f, sids); err != nil {
		f.Close()
		return nil, err
	}
	return m, f.Close()
}

// readNDJSON reads an optional NDJSON file; a missing file is no records.
func readNDJSON[T any](path string, read func(io.Reader) ([]T, error), warn io.Writer) ([]T, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		if warn != nil {
			fmt.Fprintf(warn, "neo export: no %s; going on without it\n", path)
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return recs, nil
}
