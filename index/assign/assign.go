// Package assign gives the items of a catalog directory their semantic
// IDs: it reads the catalog and the train sessions of an interaction log,
// runs sid.Assign, saves the quantizer beside the catalog (so that new
// items get codes later), writes the SIDs back, and applies a model
// directory's sids.tsv so that the catalog names items as the model
// learned them. Build does the whole sequence of a fresh catalog (import,
// SIDs, the model's table) the way `neo serve` and `neo eval --train` need
// it; `neo import` and `neo sids` are its steps one at a time.
package assign

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/index/folder"
	"github.com/neo-search/neo/internal/fsutil"
	"github.com/neo-search/neo/sid"
)

// QuantizerPath is where the quantizer of the catalog in dir is saved.
func QuantizerPath(dir string) string { return filepath.Clean(dir) + ".quantizer.json" }

// Defaults are the assignment options of `neo sids` without flags (and of
// `make demo`).
func Defaults() sid.AssignOptions {
	return sid.AssignOptions{
		Levels: sid.DefaultLevels, MaxCodebook: sid.DefaultMaxCodebook, Dim: sid.DefaultDim,
		Seed: 1, CoocWeight: sid.DefaultCoocWeight,
	}
}

// Result is what Run did: the assignment's report and where things went.
type Result struct {
	sid.Report
	CodeCounts []int  `json:"code_counts"`   // per level, collision level last (sid.NewVocab)
	Quantizer  string `json:"quantizer"`     // path of the saved quantizer ("" for a dry run)
	Updated    int    `json:"updated"`       // items written with their new SID
	TSV        string `json:"tsv,omitempty"` // where an id<TAB>SID table went (the caller sets it)

	Assigned map[string]string `json:"-"` // item id → assigned SID key
}

// Run assigns SIDs to the catalog in dir (with the train sessions of the
// interactions file, "" for none), writes them back and saves the
// quantizer; dry assigns and reports but writes nothing. progress (nil:
// none) shows a bar per stage.
func Run(dir, interactions string, opt sid.AssignOptions, dry bool, progress io.Writer) (*Result, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("catalog %s: %w (run neo import first)", dir, err)
	}
	cat, err := index.Open(dir)
	if err != nil {
		return nil, err
	}
	defer cat.Close()
	items, err := cat.Items()
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("catalog %s has no items (run neo import first)", dir)
	}
	in := make([]sid.AssignItem, len(items))
	pos := make(map[string]int, len(items))
	for i, it := range items {
		in[i] = sid.AssignItem{ID: it.ID, Type: it.Type, Text: ItemText(it), Embedding: it.Embedding}
		pos[it.ID] = i
	}
	if interactions != "" {
		if opt.Sessions, err = ReadSessions(interactions, pos); err != nil {
			return nil, err
		}
	}
	bar := &stageBar{w: progress}
	opt.Progress = bar.update
	a, err := sid.Assign(in, opt)
	bar.finish()
	if err != nil {
		return nil, err
	}
	out := &Result{Report: a.Report, CodeCounts: a.CodeCounts(), Assigned: make(map[string]string, len(items))}
	for i := range items {
		out.Assigned[items[i].ID] = a.SIDs[i].Key()
	}
	if dry {
		return out, nil
	}

	// Save the quantizer first: SIDs in the catalog without the quantizer
	// that made them could not place new items consistently.
	qpath := QuantizerPath(dir)
	if err := fsutil.WriteFileAtomic(qpath, func(w io.Writer) error { return json.NewEncoder(w).Encode(a.Quantizer) }); err != nil {
		return nil, err
	}
	out.Quantizer = qpath

	// Write through Import rather than Put: SIDs move between items when
	// reassigned, and Import checks uniqueness against the catalog as it
	// is after the whole input, in batches.
	pr, pw := io.Pipe()
	go func() {
		enc := json.NewEncoder(pw)
		for i := range items {
			items[i].SID = a.SIDs[i].Key()
			if err := enc.Encode(&items[i]); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.Close()
	}()
	rep, err := cat.Import(context.Background(), pr, index.ImportOptions{Progress: progress})
	pr.Close()
	out.Updated = rep.Imported
	if err != nil {
		return out, fmt.Errorf("writing SIDs: %w", err)
	}
	if len(rep.Bad) > 0 {
		return out, fmt.Errorf("writing SIDs: %d items rejected, first: %s", len(rep.Bad), rep.Bad[0].Error())
	}
	// Building the snapshot proves the new SIDs form a valid trie.
	if err := cat.Rebuild(); err != nil {
		return out, err
	}
	return out, nil
}

// WriteTable writes an id<TAB>SID table (the sids.tsv format) to path: the
// SIDs of the catalog in dir as they are, or, with dry, assigned itself.
// The file appears whole or not at all.
func WriteTable(path, dir string, assigned map[string]string, dry bool) error {
	sids := assigned
	if !dry {
		cat, err := index.Open(dir)
		if err != nil {
			return err
		}
		items, err := cat.Items()
		cat.Close()
		if err != nil {
			return err
		}
		sids = make(map[string]string, len(items))
		for _, it := range items {
			sids[it.ID] = it.SID
		}
	}
	return fsutil.WriteFileAtomic(path, func(w io.Writer) error { return sid.WriteAssignments(w, sids) })
}

// ItemText is what the text embedder reads: title, description, brand and
// the attribute values (in key order, so the text is deterministic).
func ItemText(it index.Item) string {
	parts := []string{it.Title, it.Description, it.Brand}
	keys := make([]string, 0, len(it.Attributes))
	for k := range it.Attributes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		parts = append(parts, it.Attributes[k])
	}
	return strings.Join(parts, " \n")
}

// ReadSessions turns the train events of an interactions file into one
// session per user (users in sorted order), ordered by time (ties in file
// order), as indexes pos gives. Events on items pos lacks are skipped.
func ReadSessions(path string, pos map[string]int) ([][]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	evs, err := folder.ReadInteractions(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	byUser := map[string][]int{} // user → indexes into evs
	var users []string
	for i, e := range evs {
		if e.Split != "" && e.Split != folder.SplitTrain {
			continue
		}
		if _, ok := pos[e.Item]; !ok {
			continue
		}
		if _, ok := byUser[e.User]; !ok {
			users = append(users, e.User)
		}
		byUser[e.User] = append(byUser[e.User], i)
	}
	slices.Sort(users)
	sessions := make([][]int, 0, len(users))
	for _, u := range users {
		idx := byUser[u]
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(evs[a].TS, evs[b].TS) })
		s := make([]int, len(idx))
		for p, i := range idx {
			s[p] = pos[evs[i].Item]
		}
		sessions = append(sessions, s)
	}
	return sessions, nil
}

// Apply writes the SIDs of a model directory's sids.tsv (or of that file)
// into the catalog in dir: serving must name items exactly as the model
// was trained to. Items the table does not list keep their SIDs. It
// returns how many items changed.
func Apply(dir, from string) (int, error) {
	if fi, err := os.Stat(from); err == nil && fi.IsDir() {
		from = filepath.Join(from, sid.AssignmentsFile)
	}
	want, err := sid.ReadAssignments(from)
	if err != nil {
		return 0, err
	}
	cat, err := index.Open(dir)
	if err != nil {
		return 0, err
	}
	defer cat.Close()
	items, err := cat.Items()
	if err != nil {
		return 0, err
	}
	var changed []index.Item
	for _, it := range items {
		if w, ok := want[it.ID]; ok && w != it.SID {
			it.SID = w
			changed = append(changed, it)
		}
	}
	if len(changed) == 0 {
		return 0, nil
	}
	var buf bytes.Buffer
	if err := folder.WriteNDJSON(&buf, changed); err != nil {
		return 0, err
	}
	rep, err := cat.Import(context.Background(), &buf, index.ImportOptions{})
	if err != nil {
		return 0, err
	}
	if len(rep.Bad) > 0 {
		return 0, fmt.Errorf("applying %s: %d items rejected, first: %s", from, len(rep.Bad), rep.Bad[0].Error())
	}
	return len(changed), cat.Rebuild()
}

// CodeCounts returns per semantic level the largest codebook of the
// quantizer saved at path, followed by 0 for the collision level (the
// items' own maximum applies), or nil when there is no usable quantizer or
// the items' SIDs do not have its shape.
func CodeCounts(path string, items []index.Item) []int {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var q struct {
		Levels int `json:"levels"`
		Types  map[string]struct {
			K []int `json:"k"`
		} `json:"types"`
	}
	if json.Unmarshal(raw, &q) != nil || q.Levels < 1 {
		return nil
	}
	for _, it := range items {
		if it.SID != "" && strings.Count(it.SID, "-") != q.Levels+1 {
			return nil
		}
	}
	out := make([]int, q.Levels+1)
	for _, t := range q.Types {
		for l, k := range t.K {
			if l < q.Levels {
				out[l] = max(out[l], k)
			}
		}
	}
	return out
}

// stageBar shows one progress bar per stage of sid.Assign (nothing
// without a writer).
type stageBar struct {
	w     io.Writer
	stage string
	bar   *progressbar.ProgressBar
}

func (s *stageBar) update(stage string, done, total int) {
	if s.w == nil {
		return
	}
	if stage != s.stage || s.bar == nil {
		s.finish()
		s.stage = stage
		s.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(s.w),
			progressbar.OptionSetDescription("sids: "+stage), progressbar.OptionShowCount(),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	_ = s.bar.Set(done)
}

func (s *stageBar) finish() {
	if s.bar != nil {
		_ = s.bar.Finish()
		s.bar = nil
	}
}
