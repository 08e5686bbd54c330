package plugin

import (
	"errors"
	"io/fs"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/sid"
)

// Drift says how far the catalog has moved from what the loaded model was
// trained on: items whose id and SID pair is not in the model directory's
// sids.tsv (added, or given a new SID, after training), and how many of
// the items the engine answered with were such items.
type Drift struct {
	// Known is false when the model directory has no sids.tsv: then no
	// item can be told apart and the counts are zero.
	Known bool `json:"known"`
	// CatalogItems is the generatable items of the current snapshot
	// (available, with an SID); Unseen of them the model never saw.
	CatalogItems int `json:"catalog_items"`
	Unseen       int `json:"unseen"`
	// Generated counts the items of every answer since start;
	// GeneratedUnseen those the model never saw.
	Generated       int64 `json:"generated"`
	GeneratedUnseen int64 `json:"generated_unseen"`
	// Unwritable is the generatable items whose SID the model cannot
	// write (a type or code outside its vocabulary, e.g. from neo import
	// of another model's SIDs): they are never generated. Counted with or
	// without sids.tsv.
	Unwritable int `json:"unwritable"`
}

// UnseenShare is GeneratedUnseen / Generated (0 before any answer).
func (d Drift) UnseenShare() float64 {
	if d.Generated == 0 {
		return 0
	}
	return float64(d.GeneratedUnseen) / float64(d.Generated)
}

// drift is the engine's state behind Drift.
type drift struct {
	trained          map[string]string // id → SID key the model learned; nil: unknown
	generated, novel atomic.Int64

	mu   sync.Mutex
	snap *index.Snapshot // the snapshot last counted
	gen  int             // its generatable items
	un   int             // its unseen items
	unwr int             // its items the model cannot write
}

func loadDrift(modelDir string) (*drift, error) {
	t, err := sid.ReadAssignments(filepath.Join(modelDir, sid.AssignmentsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return &drift{}, nil
	}
	if err != nil {
		return nil, err
	}
	return &drift{trained: t}, nil
}

// seen reports whether the model learned the item id under the SID key.
func (d *drift) seen(id, key string) bool { return d.trained[id] == key }

// note counts the items of one answer.
func (d *drift) note(ids, keys []string) {
	if d == nil || d.trained == nil || len(ids) == 0 {
		return
	}
	n := 0
	for i, id := range ids {
		if !d.seen(id, keys[i]) {
			n++
		}
	}
	d.generated.Add(int64(len(ids)))
	d.novel.Add(int64(n))
}

// Drift reports the catalog's drift from the model (see Drift). Counting
// the snapshot's unseen items walks it once per snapshot (a write makes
// a new one), so call it for monitoring, not per request.
func (e *Engine) Drift() Drift {
	d := e.drift
	if d == nil {
		return Drift{}
	}
	snap := e.cat.Snapshot()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.snap != snap {
		d.snap, d.gen, d.un, d.unwr = snap, 0, 0, 0
		for ord := range uint32(snap.Len()) {
			if !snap.Available(ord) {
				continue
			}
			d.gen++
			s := snap.SID(ord)
			if _, err := e.meta.SID.Tokens(s); err != nil {
				d.unwr++
			}
			if d.trained != nil && !d.seen(snap.ID(ord), s.Key()) {
				d.un++
			}
		}
	}
	if d.trained == nil {
		return Drift{Unwritable: d.unwr}
	}
	return Drift{Known: true, Generated: d.generated.Load(), GeneratedUnseen: d.novel.Load(),
		CatalogItems: d.gen, Unseen: d.un, Unwritable: d.unwr}
}

// CatalogDrift counts the items of a catalog the model in modelDir never
// saw (as Engine.Drift does, without loading the model): items with an
// SID, and those of them whose id and SID pair is not in its sids.tsv.
// known is false when the model directory has no sids.tsv.
func CatalogDrift(modelDir string, items []index.Item) (withSID, unseen int, known bool, err error) {
	d, err := loadDrift(modelDir)
	if err != nil || d.trained == nil {
		return 0, 0, false, err
	}
	for _, it := range items {
		if it.SID == "" {
			continue
		}
		withSID++
		if !d.seen(it.ID, it.SID) {
			unseen++
		}
	}
	return withSID, unseen, true, nil
}
