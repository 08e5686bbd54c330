package assign

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/sid"
)

// BuildOptions say what Build reads. The zero value of each optional field
// is documented beside it.
type BuildOptions struct {
	Items        string            // items NDJSON (required)
	Interactions string            // interactions NDJSON for co-occurrence ("": text only)
	Model        string            // model directory whose sids.tsv is applied on top ("" or no sids.tsv: none)
	Assign       sid.AssignOptions // zero: Defaults()
	BatchSize    int               // items per import batch (0: the index's default)
	// ImportProgress shows the import's bar, Progress the SID stages' (nil:
	// none).
	ImportProgress, Progress io.Writer
}

// BuildReport is what Build did.
type BuildReport struct {
	Import  index.ImportReport // bad lines are skipped, not an error: the caller decides
	SIDs    *Result
	Applied int // items whose SID the model's table changed
	// ImportSeconds and SIDSeconds time the import and the assignment.
	ImportSeconds, SIDSeconds float64
}

// Build makes a catalog in dir from scratch: import the items, assign
// SIDs, apply the model's sids.tsv. It works in a side directory renamed
// into place at the end, so an interrupted build leaves no half-built
// catalog that a later start would take as complete. dir must not exist.
func Build(ctx context.Context, dir string, o BuildOptions) (*BuildReport, error) {
	if _, err := os.Stat(dir); err == nil {
		return nil, fmt.Errorf("catalog %s already exists", dir)
	}
	if o.Assign.Levels == 0 {
		o.Assign = Defaults()
	}
	f, err := os.Open(o.Items)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tmp := filepath.Clean(dir) + ".importing"
	_ = os.RemoveAll(tmp)
	_ = os.Remove(QuantizerPath(tmp))
	if err := os.MkdirAll(filepath.Dir(tmp), 0o755); err != nil {
		return nil, err
	}
	cat, err := index.Open(tmp)
	if err != nil {
		return nil, err
	}
	rep := &BuildReport{}
	t0 := time.Now()
	rep.Import, err = cat.Import(ctx, f, index.ImportOptions{BatchSize: o.BatchSize, Progress: o.ImportProgress})
	if cerr := cat.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	rep.ImportSeconds = time.Since(t0).Seconds()
	t0 = time.Now()
	if rep.SIDs, err = Run(tmp, o.Interactions, o.Assign, false, o.Progress); err != nil {
		return nil, fmt.Errorf("assigning SIDs: %w", err)
	}
	rep.SIDSeconds = time.Since(t0).Seconds()
	if o.Model != "" {
		_, err := os.Stat(filepath.Join(o.Model, sid.AssignmentsFile))
		switch {
		case err == nil:
			if rep.Applied, err = Apply(tmp, o.Model); err != nil {
				return nil, fmt.Errorf("applying the model's SIDs: %w", err)
			}
		case !errors.Is(err, fs.ErrNotExist):
			return nil, err
		}
	}
	if err := os.Rename(QuantizerPath(tmp), QuantizerPath(dir)); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, err
	}
	rep.SIDs.Quantizer = QuantizerPath(dir)
	return rep, nil
}
