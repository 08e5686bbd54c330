package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/neo-search/neo/internal/fsutil"
	"github.com/schollz/progressbar/v3"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/sid"
)

func init() {
	register(command{
		name:    "sids",
		summary: "assign semantic IDs to the catalog's items (residual k-means per type)",
		run:     runSids,
	})
}

// sidsOutput is what --json prints: the report plus where things went.
type sidsOutput struct {
	sid.Report
	CodeCounts []int  `json:"code_counts"`   // per level, collision level last (sid.NewVocab)
	Quantizer  string `json:"quantizer"`     // path of the saved quantizer ("" with --dry-run)
	Updated    int    `json:"updated"`       // items written with their new SID
	TSV        string `json:"tsv,omitempty"` // --tsv: where the id<TAB>SID table went

	assigned map[string]string // item id -> assigned SID key
}

func runSids(args []string) int {
	fs := flag.NewFlagSet("sids", flag.ContinueOnError)
	dir := fs.String("index", ".neo/index", "catalog index directory")
	inter := fs.String("interactions", "", "interactions.ndjson; its train events add co-occurrence embeddings (optional)")
	levels := fs.Int("levels", sid.DefaultLevels, "semantic levels (a collision level is added)")
	codebook := fs.Int("codebook", sid.DefaultMaxCodebook, "maximum codes per semantic level")
	dim := fs.Int("dim", sid.DefaultDim, "embedding dimensions (text LSA and co-occurrence each)")
	cooc := fs.Float64("cooc-weight", sid.DefaultCoocWeight, "share of the co-occurrence part in mixed embeddings (0..1)")
	seed := fs.Uint64("seed", 1, "random seed; same catalog and seed give the same SIDs")
	unaligned := fs.Bool("unaligned", false, "number each type's codes on its own (default: with interactions, a code names the same taste in every type)")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	dry := fs.Bool("dry-run", false, "assign and report, but write nothing")
	quiet := fs.Bool("quiet", false, "no progress bars")
	tsv := fs.String("tsv", "", "also write every item's SID as id<TAB>sid lines (the sids.tsv format) to this file; with --dry-run, the SIDs it would have written")
	from := fs.String("from", "", "apply the SIDs recorded in a model directory's sids.tsv (or that file) after assigning, so the catalog names items as the model learned them")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: neo sids [--index DIR] [--interactions FILE] [--levels 3] [--codebook 256] [--dim 64] [--seed 1] [--unaligned] [--json] [--dry-run] [--tsv FILE]")
		fmt.Fprintln(fs.Output(), "\nThe quantizer (to give new items codes later) is saved as <index dir>.quantizer.json.")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, false); !ok {
		return code
	}
	var progress io.Writer = os.Stderr
	if *quiet {
		progress = nil
	}
	out, err := assignSIDs(*dir, *inter, sid.AssignOptions{
		Levels: *levels, MaxCodebook: *codebook, Dim: *dim, Seed: *seed, CoocWeight: *cooc, Unaligned: *unaligned,
	}, *dry, progress)
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo sids:", err)
		return 1
	}
	if *from != "" && !*dry {
		n, err := applyAssignments(*dir, *from)
		if err != nil {
			fmt.Fprintln(os.Stderr, "neo sids:", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "applied the model's SIDs from %s: %d items differed from the assignment\n", *from, n)
	}
	if *tsv != "" {
		if err := writeSIDTable(*tsv, *dir, out.assigned, *dry); err != nil {
			fmt.Fprintln(os.Stderr, "neo sids: --tsv:", err)
			return 1
		}
		out.TSV = *tsv
	}
	if *asJSON {
		b, err := json.Marshal(out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "neo sids:", err)
			return 1
		}
		fmt.Println(string(b))
		return 0
	}
	fmt.Print(out.Report.String())
	if out.Quantizer != "" {
		fmt.Printf("wrote SIDs of %d items; quantizer saved to %s\n", out.Updated, out.Quantizer)
	} else {
		fmt.Println("dry run: nothing written")
	}
	return 0
}

// quantizerPath is where neo sids saves the quantizer of the catalog in dir.
func quantizerPath(dir string) string { return filepath.Clean(dir) + ".quantizer.json" }

// assignSIDs runs the whole command: read the catalog (and interactions),
// assign, write the SIDs back and save the quantizer.
func assignSIDs(dir, interactions string, opt sid.AssignOptions, dry bool, progress io.Writer) (*sidsOutput, error) {
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
		in[i] = sid.AssignItem{ID: it.ID, Type: it.Type, Text: itemText(it), Embedding: it.Embedding}
		pos[it.ID] = i
	}
	if interactions != "" {
		if opt.Sessions, err = readSessions(interactions, pos); err != nil {
			return nil, err
		}
	}
	bar := newStageBar(progress)
	opt.Progress = bar.update
	a, err := sid.Assign(in, opt)
	bar.finish()
	if err != nil {
		return nil, err
	}
	out := &sidsOutput{Report: a.Report, CodeCounts: a.CodeCounts(), assigned: make(map[string]string, len(items))}
	for i := range items {
		out.assigned[items[i].ID] = a.SIDs[i].Key()
	}
	if dry {
		return out, nil
	}

	// Save the quantizer first: SIDs in the catalog without the quantizer
	// that made them could not place new items consistently.
	qpath := quantizerPath(dir)
	if err := writeJSONFile(qpath, a.Quantizer); err != nil {
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

// writeSIDTable writes the id<TAB>SID table of --tsv: the catalog's SIDs
// as written (after --from), or with dry the assignment itself. The file
// appears whole or not at all.
func writeSIDTable(path, dir string, assigned map[string]string, dry bool) error {
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

// itemText is what the text embedder reads: title, description, brand and
// the attribute values (in key order, so the text is deterministic).
func itemText(it index.Item) string {
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

// readSessions turns the train events of an interactions file into one
// session per user, ordered by time, as indexes into the items. Events on
// items not in the catalog are skipped.
func readSessions(path string, pos map[string]int) ([][]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	evs, err := index.ReadInteractions(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	byUser := map[string][]int{} // user → indexes into evs
	var users []string
	for i, e := range evs {
		if e.Split != "" && e.Split != index.SplitTrain {
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
		// Stable: events with the same timestamp keep their file order.
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(evs[a].TS, evs[b].TS) })
		s := make([]int, len(idx))
		for p, i := range idx {
			s[p] = pos[evs[i].Item]
		}
		sessions = append(sessions, s)
	}
	return sessions, nil
}

// writeJSONFile writes v to path atomically (temporary file, then rename).
func writeJSONFile(path string, v any) error {
	return fsutil.WriteFileAtomic(path, func(w io.Writer) error { return json.NewEncoder(w).Encode(v) })
}

// stageBar shows one progress bar per stage of sid.Assign.
type stageBar struct {
	w     io.Writer
	stage string
	bar   *progressbar.ProgressBar
}

func newStageBar(w io.Writer) *stageBar { return &stageBar{w: w} }

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

// applyAssignments writes the SIDs of a model directory's sids.tsv (or the
// file itself) into the catalog: serving must name items exactly as the
// model was trained to. Items the file does not list keep their SIDs. It
// returns how many items changed.
func applyAssignments(dir, from string) (int, error) {
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
	if err := index.WriteNDJSON(&buf, changed); err != nil {
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
