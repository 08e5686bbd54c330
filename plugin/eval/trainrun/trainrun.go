// Package trainrun is the pipeline of `neo eval --train`: a fresh catalog
// of a data folder (index/assign.Build), SIDs with its train sessions, and
// per arm (multi, search, recommend) an export and a run of the trainer,
// reported as a Report that the evaluation then completes with each arm's
// decode figures. It trains; neoeval evaluates what it trained.
package trainrun

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/neo-search/neo/exporter"
	"github.com/neo-search/neo/exporter/trainer"
	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/index/assign"
	"github.com/neo-search/neo/index/folder"
	"github.com/neo-search/neo/internal/fsutil"
	"github.com/neo-search/neo/plugin/eval"
	"github.com/neo-search/neo/sid"
)

// Options say what Run trains; every field is set by `neo eval --train`'s
// flags (see its usage for their meaning and defaults).
type Options struct {
	Preset, Device string
	Python         string            // interpreter with torch ("": trainer.Python)
	Arms           string            // comma-separated arm names
	Steps          map[string]string // arm → "W,G,I" steps per stage (missing: DefaultSteps)
	Threads        int
	MaxSeq         int // 0: 512 with sequence samples, else exporter.DefaultMaxSeq
	Vocab          int
	Sequence       bool // recommend samples as whole-history sequences
	SeqContext     int
	Dropout        float64
	CoocWeight     float64
	TrainSeed      int
	Levels         int
	// Cold is the share of items a cold-start run holds out (eval.HoldOut,
	// seed 1): the catalog is built, SIDs fitted and every arm trained
	// without them and without any interaction or query that names one;
	// Evaluate then writes them into the catalog the way a PUT does. 0: a
	// normal run.
	Cold  float64
	Quiet bool      // no progress bars
	Log   io.Writer // what the pipeline does, and the trainer's output (nil: os.Stderr)
}

// DefaultSteps are the training budgets per arm (warm-up, grounding,
// instruct steps of preset demo), sized for the whole MovieLens-small run
// to take about 90 minutes on 2 idle CPU cores.
var DefaultSteps = map[string]string{
	"multi":     "600,300,4800",
	"search":    "300,150,2000",
	"recommend": "300,150,2800",
}

// Arm is one model Run can train.
type Arm struct {
	Name, Method      string // the arm, and its entry in the evaluation
	Search, Recommend bool   // trained on queries / interactions; measured in that block
}

// Arms are the arms, in the order Run trains them.
var Arms = []Arm{
	{"multi", "neo", true, true},
	{"search", "neo_search_only", true, false},
	{"recommend", "neo_recommend_only", false, true},
}

// Report is the "train" part of `neo eval --train`'s JSON: what was
// trained, how.
type Report struct {
	Preset     string      `json:"preset"`
	Device     string      `json:"device"` // as asked; each arm says what it used
	Sequence   bool        `json:"sequence_samples"`
	MaxSeq     int         `json:"max_seq"`
	SeqContext int         `json:"sequence_context,omitempty"`
	Dropout    float64     `json:"dropout,omitempty"`
	CoocWeight float64     `json:"cooc_weight"`
	TrainSeed  int         `json:"train_seed"`
	Items      int         `json:"items"`
	SIDs       *sid.Report `json:"sids,omitempty"`
	SIDSeconds float64     `json:"sid_seconds"`
	Arms       []*ArmInfo  `json:"arms"`
	// NewItems is the number of items a cold-start run held out;
	// NewCoded of them got an SID when written after training, NewUncoded
	// could not (their codes were all taken) and stay without one.
	NewItems    int      `json:"new_items,omitempty"`
	NewCoded    int      `json:"new_coded,omitempty"`
	NewUncoded  int      `json:"new_uncoded,omitempty"`
	Skipped     []string `json:"skipped"`
	Seconds     float64  `json:"seconds"` // the whole run, evaluation included
	EvalSeconds float64  `json:"eval_seconds"`

	fresh map[string]bool // a cold-start run's new items
}

// ArmInfo describes one trained arm.
type ArmInfo struct {
	Arm    string   `json:"arm"`
	Method string   `json:"method"`
	Data   []string `json:"data"` // "queries", "interactions"
	// Steps and StageSeconds per stage (warmup, ground, instruct), as the
	// trainer recorded them in neo.json.
	Steps          map[string]int     `json:"steps"`
	StageSeconds   map[string]float64 `json:"stage_seconds"`
	SecondsPerStep map[string]float64 `json:"seconds_per_step"`
	EndLoss        map[string]float64 `json:"end_loss"`
	Sequences      map[string]int64   `json:"sequences"` // exported, per stage
	Params         int64              `json:"params"`
	Device         string             `json:"device"`
	Dropout        float64            `json:"dropout,omitempty"` // as the trainer recorded it
	ExportSeconds  float64            `json:"export_seconds"`
	TrainSeconds   float64            `json:"train_seconds"` // trainer process, ONNX export included
	SIDAccuracy    map[string]any     `json:"sid_accuracy,omitempty"`
	// DecodeMSPerToken is the evaluation's model time per decoded token
	// (prefill included), in milliseconds.
	DecodeMSPerToken float64 `json:"decode_ms_per_token"`
	TokensDecoded    int64   `json:"tokens_decoded"`

	ModelDir string `json:"-"` // the trained model directory
	Spec     Arm    `json:"-"`
}

// IndexDir is the catalog Run builds under its work folder.
const IndexDir = "eval-train-index"

// Run imports the data folder's items into work/IndexDir, assigns SIDs,
// and exports and trains each arm into work/ARM/{export,model}.
func Run(ctx context.Context, ds *folder.Folder, o Options, work string) (*Report, error) {
	logw := o.Log
	if logw == nil {
		logw = os.Stderr
	}
	python := o.Python
	if python == "" {
		python = trainer.Python
	}
	var progress io.Writer = logw
	if o.Quiet {
		progress = nil
	}
	say := func(format string, a ...any) { fmt.Fprintf(logw, "neo eval --train: "+format+"\n", a...) }
	tr := &Report{Preset: o.Preset, Device: o.Device, Items: len(ds.Items), Arms: []*ArmInfo{}, Skipped: []string{}}
	skip := func(format string, a ...any) {
		msg := fmt.Sprintf(format, a...)
		tr.Skipped = append(tr.Skipped, msg)
		say("%s", msg)
	}

	// Which arms run.
	want := map[string]bool{}
	for _, a := range strings.Split(o.Arms, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if !slices.ContainsFunc(Arms, func(x Arm) bool { return x.Name == a }) {
			return nil, fmt.Errorf("--arms: unknown arm %q (want multi, search, recommend)", a)
		}
		want[a] = true
	}
	hasQ, hasI := trainCount(ds, true) > 0, trainCount(ds, false) > 0
	switch {
	case !ds.HasQueries:
		skip("no %s in %s: search is not measured (no search block), no search arm", folder.QueriesFile, ds.Dir)
	case !hasQ:
		skip("no train queries in %s: no search arm", ds.Dir)
	}
	switch {
	case !ds.HasInteractions:
		skip("no %s in %s: recommendation is not measured (no recommend block), no recommend arm", folder.InteractionsFile, ds.Dir)
	case !hasI:
		skip("no train interactions in %s: no recommend arm", ds.Dir)
	}
	var arms []Arm
	for _, a := range Arms {
		switch {
		case !want[a.Name]:
			continue
		case a.Name == "search" && !hasQ, a.Name == "recommend" && !hasI:
			continue // said above
		case a.Name == "search" && !hasI && want["multi"]:
			skip("search arm: without interactions it would be trained on the same data as the multi arm (neo)")
			continue
		case a.Name == "recommend" && !hasQ && want["multi"]:
			skip("recommend arm: without queries it would be trained on the same data as the multi arm (neo)")
			continue
		}
		arms = append(arms, a)
	}
	steps := map[string][]string{}
	for _, a := range arms {
		spec, ok := o.Steps[a.Name]
		if !ok {
			spec = DefaultSteps[a.Name]
		}
		s := strings.Split(spec, ",")
		if len(s) != 3 {
			return nil, fmt.Errorf("--steps-%s %q: want three comma-separated step counts W,G,I", a.Name, spec)
		}
		for i, x := range s {
			s[i] = strings.TrimSpace(x)
			if n, err := strconv.Atoi(s[i]); err != nil || n < 0 {
				return nil, fmt.Errorf("--steps-%s %q: want three non-negative step counts W,G,I", a.Name, spec)
			}
		}
		steps[a.Name] = s
	}
	if o.Dropout < 0 || o.Dropout >= 1 {
		return nil, fmt.Errorf("--dropout %g: want 0 <= p < 1", o.Dropout)
	}
	tr.Dropout = o.Dropout
	if o.CoocWeight <= 0 || o.CoocWeight >= 1 {
		return nil, fmt.Errorf("--cooc-weight %g: want 0 < w < 1", o.CoocWeight)
	}
	tr.CoocWeight = o.CoocWeight
	if o.Levels < 1 || o.Levels > sid.MaxCodes-1 {
		return nil, fmt.Errorf("--levels %d: want 1..%d", o.Levels, sid.MaxCodes-1)
	}
	tr.TrainSeed = o.TrainSeed
	root, err := trainer.Root()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(python); err != nil {
		return nil, fmt.Errorf("%s not found; install python3-torch (apt-get install python3-torch) or pass --python", python)
	}
	seq := o.Sequence && hasI
	tr.Sequence = seq
	if seq {
		tr.SeqContext = o.SeqContext
	}
	tr.MaxSeq = o.MaxSeq
	if tr.MaxSeq == 0 {
		tr.MaxSeq = exporter.DefaultMaxSeq
		if seq {
			tr.MaxSeq = 512
		}
	}

	// Import and SIDs, shared by the arms: a fresh catalog each run, in a
	// folder only this pipeline writes (--work may be a folder that holds
	// other things, even neo serve's .neo).
	indexDir := filepath.Join(work, IndexDir)
	if err := os.RemoveAll(indexDir); err != nil {
		return nil, err
	}
	_ = os.Remove(assign.QuantizerPath(indexDir))
	itemsFile := filepath.Join(ds.Dir, folder.ItemsFile)
	inter := ""
	if ds.HasInteractions {
		inter = filepath.Join(ds.Dir, folder.InteractionsFile)
	}
	interactions, queries := ds.Interactions, ds.Queries
	if o.Cold < 0 || o.Cold >= 1 {
		return nil, fmt.Errorf("--cold %g: want a share 0 <= F < 1", o.Cold)
	}
	if o.Cold > 0 {
		tr.fresh = eval.HoldOut(ds, o.Cold, 1)
		tr.NewItems = len(tr.fresh)
		// the catalog before the new items arrived: what SIDs are fitted
		// on and the arms are trained on
		var old []index.Item
		for _, it := range ds.Items {
			if !tr.fresh[it.ID] {
				old = append(old, it)
			}
		}
		interactions, queries = withoutItems(ds.Interactions, ds.Queries, tr.fresh)
		if err := os.MkdirAll(work, 0o755); err != nil {
			return nil, err
		}
		itemsFile = filepath.Join(work, "cold-"+folder.ItemsFile)
		if err := writeNDJSON(itemsFile, old); err != nil {
			return nil, err
		}
		if inter != "" {
			inter = filepath.Join(work, "cold-"+folder.InteractionsFile)
			if err := writeNDJSON(inter, interactions); err != nil {
				return nil, err
			}
		}
		say("cold start: %d of %d items held out, with the interactions and queries that name them", len(tr.fresh), len(ds.Items))
	}
	opt := assign.Defaults()
	opt.Levels, opt.CoocWeight = o.Levels, o.CoocWeight
	bo := assign.BuildOptions{Items: itemsFile, Interactions: inter, Assign: opt, BatchSize: 500, Progress: progress}
	if f, ok := logw.(*os.File); ok && progress != nil && fsutil.IsTerminal(f) {
		bo.ImportProgress = f
	}
	brep, err := assign.Build(ctx, indexDir, bo)
	if err != nil {
		return nil, err
	}
	if bad := brep.Import.Bad; len(bad) > 0 {
		return nil, fmt.Errorf("import: %d bad lines in %s, first: %s", len(bad), folder.ItemsFile, bad[0].Error())
	}
	say("imported %d items into %s", brep.Import.Imported, indexDir)
	tr.SIDSeconds = brep.SIDSeconds
	tr.SIDs = &brep.SIDs.Report
	say("assigned SIDs in %.1fs", tr.SIDSeconds)
	base, err := exporter.ReadInput(indexDir, "", nil)
	if err != nil {
		return nil, err
	}

	for _, a := range arms {
		info := &ArmInfo{Arm: a.Name, Method: a.Method, Data: []string{}, Spec: a}
		in := exporter.Input{Items: base.Items}
		if a.Search && hasQ {
			in.Queries = queries
			info.Data = append(info.Data, "queries")
		}
		if a.Recommend && hasI {
			in.Interactions = interactions
			info.Data = append(info.Data, "interactions")
		}
		exp := filepath.Join(work, a.Name, "export")
		model := filepath.Join(work, a.Name, "model")
		say("arm %s (%s): export to %s", a.Name, a.Method, exp)
		t0 := time.Now()
		man, err := exporter.ExportCatalog(ctx, indexDir, in, exporter.Options{
			OutDir: exp, VocabSize: o.Vocab, MaxSeq: tr.MaxSeq, Seed: 1,
			SequenceSamples: seq && a.Recommend, SequenceContext: o.SeqContext, Progress: progress,
		})
		if err != nil {
			return nil, fmt.Errorf("arm %s: export: %w", a.Name, err)
		}
		info.ExportSeconds = time.Since(t0).Seconds()
		info.Sequences = map[string]int64{}
		for s, st := range man.Stages {
			info.Sequences[s] = st.Sequences
		}
		argv := []string{filepath.Join(root, trainer.Script), "--data", exp, "--out", model, "--preset", o.Preset,
			"--device", o.Device, "--threads", strconv.Itoa(o.Threads), "--seed", strconv.Itoa(o.TrainSeed),
			"--steps-warmup", steps[a.Name][0], "--steps-ground", steps[a.Name][1], "--steps-instruct", steps[a.Name][2]}
		if o.Dropout > 0 {
			argv = append(argv, "--dropout", strconv.FormatFloat(o.Dropout, 'g', -1, 64))
		}
		t0 = time.Now()
		if err := trainer.Run(python, root, argv, logw, logw); err != nil {
			return nil, fmt.Errorf("arm %s: train: %w", a.Name, err)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		info.TrainSeconds = time.Since(t0).Seconds()
		info.ModelDir = model
		if err := info.readTraining(model); err != nil {
			return nil, fmt.Errorf("arm %s: %w", a.Name, err)
		}
		tr.Arms = append(tr.Arms, info)
	}
	return tr, nil
}

// withoutItems drops every interaction and query (any split) that names
// an item of drop.
func withoutItems(xs []folder.Interaction, qs []folder.Query, drop map[string]bool) ([]folder.Interaction, []folder.Query) {
	var ox []folder.Interaction
	for _, x := range xs {
		if !drop[x.Item] {
			ox = append(ox, x)
		}
	}
	var oq []folder.Query
	for _, q := range qs {
		if !slices.ContainsFunc(q.Relevant, func(r folder.Relevance) bool { return drop[r.Item] }) {
			oq = append(oq, q)
		}
	}
	return ox, oq
}

func writeNDJSON[T any](path string, records []T) error {
	return fsutil.WriteFileAtomic(path, func(w io.Writer) error { return folder.WriteNDJSON(w, records) })
}

// trainCount counts the data set's train queries (queries true) or train
// interactions.
func trainCount(ds *folder.Folder, queries bool) int {
	n := 0
	if queries {
		for _, q := range ds.Queries {
			if folder.IsTrain(q.Split) {
				n++
			}
		}
		return n
	}
	for _, x := range ds.Interactions {
		if folder.IsTrain(x.Split) {
			n++
		}
	}
	return n
}

// readTraining fills the arm's training figures from the model's neo.json.
func (a *ArmInfo) readTraining(model string) error {
	raw, err := os.ReadFile(filepath.Join(model, sid.MetaFile))
	if err != nil {
		return err
	}
	var m struct {
		Model struct {
			Params int64 `json:"params"`
		} `json:"model"`
		Training struct {
			Device  string  `json:"device"`
			Dropout float64 `json:"dropout"`
			Stages  []struct {
				Name    string   `json:"name"`
				Steps   int      `json:"steps"`
				Seconds float64  `json:"seconds"`
				EndLoss *float64 `json:"end_loss"`
			} `json:"stages"`
			SIDAccuracy map[string]any `json:"sid_accuracy"`
		} `json:"training"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(model, sid.MetaFile), err)
	}
	a.Params, a.Device, a.SIDAccuracy = m.Model.Params, m.Training.Device, m.Training.SIDAccuracy
	a.Dropout = m.Training.Dropout
	a.Steps, a.StageSeconds = map[string]int{}, map[string]float64{}
	a.SecondsPerStep, a.EndLoss = map[string]float64{}, map[string]float64{}
	for _, s := range m.Training.Stages {
		a.Steps[s.Name] = s.Steps
		a.StageSeconds[s.Name] = s.Seconds
		if s.Steps > 0 {
			a.SecondsPerStep[s.Name] = s.Seconds / float64(s.Steps)
		}
		if s.EndLoss != nil {
			a.EndLoss[s.Name] = *s.EndLoss
		}
	}
	return nil
}

// WriteText writes the report as a text table, one line per arm.
func (tr *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "\ntraining: preset %s, device %s, max_seq %d, sequence samples %v; SIDs in %.1fs; whole run %.0fs (evaluation %.0fs)\n",
		tr.Preset, tr.Device, tr.MaxSeq, tr.Sequence, tr.SIDSeconds, tr.Seconds, tr.EvalSeconds)
	fmt.Fprintf(w, "  %-10s %-18s %-22s %-16s %8s %10s %10s %8s\n", "arm", "method", "data", "steps W,G,I", "train_s", "s/step(I)", "ms/token", "device")
	for _, a := range tr.Arms {
		st := fmt.Sprintf("%d,%d,%d", a.Steps[exporter.StageWarmup], a.Steps[exporter.StageGround], a.Steps[exporter.StageInstruct])
		fmt.Fprintf(w, "  %-10s %-18s %-22s %-16s %8.0f %10.3f %10.3f %8s\n", a.Arm, a.Method, strings.Join(a.Data, "+"), st,
			a.TrainSeconds, a.SecondsPerStep[exporter.StageInstruct], a.DecodeMSPerToken, a.Device)
	}
	for _, s := range tr.Skipped {
		fmt.Fprintln(w, "skipped:", s)
	}
}
