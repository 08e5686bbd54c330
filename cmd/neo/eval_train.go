package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/neo-search/neo/index/assign"
	"github.com/neo-search/neo/plugin/eval/neoeval"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/neo-search/neo/exporter"
	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/plugin/eval"
	"github.com/neo-search/neo/sid"
)

// `neo eval --train`: the whole pipeline on a data folder, then the
// evaluation with the models it trained next to the baselines.

const trainEvalUsage = `
--train runs the whole pipeline on the data folder first: import into a
temporary catalog, neo sids (with the train interactions), then for each
arm neo export and neo train, and finally the evaluation with the trained
models next to the baselines:

  arm        trained on                      reported as
  multi      train queries + interactions    neo (search and recommend blocks)
  search     train queries only              neo_search_only (search blocks)
  recommend  train interactions only         neo_recommend_only (recommend block)

Each arm's training budget is its steps per stage, --steps-ARM W,G,I
(warm-up, grounding, instruction tuning). The defaults (preset demo: multi
600,300,4800; search 300,150,2000; recommend 300,150,2800) are sized for the
whole MovieLens-small run to take about 90 minutes on 2 idle CPU cores
(about 0.45 s per instruct step at max_seq 512, 0.4 per warm-up step, 0.25
per grounding step, plus about 5 minutes of SIDs, exports and evaluation). Without queries the
search arm (and the search block) is skipped, without interactions the
recommend arm (and the recommend block); an arm that would see the same data
as multi is skipped too. Every skip is said on stderr and in the JSON under
"train"."skipped". With interactions, recommend samples are whole-history
SID sequences with a loss on every next item (--sequence, max_seq 512).
--cooc-weight sets the share of the co-occurrence embedding in the SIDs
(as neo sids --cooc-weight), --levels their semantic levels (as neo sids
--levels), --dropout the trainer's dropout for every arm, --train-seed the
trainer's seed (SIDs and samples keep seed 1); all are in the JSON under
"train" (the levels and codebook sizes under "train"."sids").

`

// trainOptions are the flags of `neo eval --train`.
type trainOptions struct {
	train              bool
	preset, device     string
	python, work, arms string
	steps              map[string]*string
	threads, maxSeq    int
	vocab              int
	sequence, quiet    bool
	seqContext         int
	dropout, coocW     float64
	trainSeed, levels  int
}

// Default training budgets per arm (warm-up, grounding, instruct steps of
// preset demo); see trainEvalUsage.
var defaultArmSteps = map[string]string{
	"multi":     "600,300,4800",
	"search":    "300,150,2000",
	"recommend": "300,150,2800",
}

func (o *trainOptions) flags(fs *flag.FlagSet) {
	fs.BoolVar(&o.train, "train", false, "import, assign SIDs, export and train the model arms on the data folder, then evaluate them (see below)")
	fs.StringVar(&o.preset, "preset", "demo", "--train: trainer preset (tiny | small | demo)")
	fs.StringVar(&o.device, "device", "auto", "--train: trainer device (auto uses CUDA when present | cpu | cuda)")
	fs.IntVar(&o.threads, "threads", 2, "--train: trainer CPU threads")
	fs.StringVar(&o.python, "python", trainPython, "--train: interpreter with torch")
	fs.StringVar(&o.work, "work", "", "--train: folder for the catalog, exports and models (default: a temporary folder, removed afterwards)")
	fs.StringVar(&o.arms, "arms", "multi,search,recommend", "--train: arms to train")
	fs.IntVar(&o.maxSeq, "max-seq", 0, "--train: tokens per training sequence (default 512 with sequence samples, else 256)")
	fs.IntVar(&o.vocab, "vocab", exporter.DefaultVocabSize, "--train: BPE vocabulary size")
	fs.BoolVar(&o.sequence, "sequence", true, "--train: recommend samples as whole-history sequences, loss on every next item")
	fs.IntVar(&o.seqContext, "seq-context", 50, "--train: with --sequence, history items every target after a user's first window sees at least")
	fs.Float64Var(&o.coocW, "cooc-weight", sid.DefaultCoocWeight, "--train: share of the co-occurrence embedding in the SIDs (0 < w < 1; as neo sids --cooc-weight)")
	fs.IntVar(&o.trainSeed, "train-seed", 1, "--train: trainer seed (weight init, batch order, dropout) for every arm; SIDs and samples keep seed 1, so runs differing only here measure training noise")
	fs.IntVar(&o.levels, "levels", sid.DefaultLevels, "--train: semantic SID levels (as neo sids --levels; the codebook size follows from it)")
	fs.Float64Var(&o.dropout, "dropout", 0, "--train: trainer dropout probability (0 <= p < 1) for every arm")
	o.steps = map[string]*string{}
	for _, a := range trainArms {
		o.steps[a.name] = fs.String("steps-"+a.name, defaultArmSteps[a.name], "--train: "+a.name+" arm budget, steps per stage W,G,I")
	}
}

// trainArm is one model trained by --train.
type trainArm struct {
	name, method      string
	search, recommend bool // trained on queries / interactions; measured in that block
}

var trainArms = []trainArm{
	{"multi", "neo", true, true},
	{"search", "neo_search_only", true, false},
	{"recommend", "neo_recommend_only", false, true},
}

// trainReport is the "train" part of the JSON: what was trained, how.
type trainReport struct {
	Preset      string      `json:"preset"`
	Device      string      `json:"device"` // as asked; each arm says what it used
	Sequence    bool        `json:"sequence_samples"`
	MaxSeq      int         `json:"max_seq"`
	SeqContext  int         `json:"sequence_context,omitempty"`
	Dropout     float64     `json:"dropout,omitempty"`
	CoocWeight  float64     `json:"cooc_weight"`
	TrainSeed   int         `json:"train_seed"`
	Items       int         `json:"items"`
	SIDs        *sid.Report `json:"sids,omitempty"`
	SIDSeconds  float64     `json:"sid_seconds"` // the import and the SIDs
	Arms        []*armInfo  `json:"arms"`
	Skipped     []string    `json:"skipped"`
	Seconds     float64     `json:"seconds"` // the whole run, evaluation included
	EvalSeconds float64     `json:"eval_seconds"`
}

// armInfo describes one trained arm.
type armInfo struct {
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

	modelDir string
	arm      trainArm
}

// evalTrainMain runs `neo eval --train` and prints the report.
func evalTrainMain(ctx context.Context, dir, only string, opt eval.Options, neo neoeval.Options, o *trainOptions, asJSON bool, k int) int {
	start := time.Now()
	ds, err := eval.LoadDataset(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo eval:", err)
		return 1
	}
	work := o.work
	if work == "" {
		if work, err = os.MkdirTemp("", "neo-eval-train-"); err != nil {
			fmt.Fprintln(os.Stderr, "neo eval:", err)
			return 1
		}
		defer os.RemoveAll(work)
	}
	tr, err := trainPipeline(ctx, ds, o, work)
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo eval --train:", err)
		return 1
	}
	t0 := time.Now()
	used := map[string]any{}
	rep, err := evalRunDataset(ctx, ds, only, opt, func(m *eval.Methods, kit *eval.Kit) (func(), error) {
		return addArmMethods(ctx, ds, kit, tr.Arms, m, neo, used)
	})
	if rep != nil && len(used) > 0 {
		rep.Fusion = used
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo eval:", err)
		return 1
	}
	tr.EvalSeconds = time.Since(t0).Seconds()
	tr.Seconds = time.Since(start).Seconds()
	if asJSON {
		b, err := json.Marshal(struct {
			*eval.Report
			Train *trainReport `json:"train"`
		}{rep, tr})
		if err != nil {
			fmt.Fprintln(os.Stderr, "neo eval:", err)
			return 1
		}
		fmt.Println(string(b))
		return 0
	}
	evalPrintReport(os.Stdout, rep, k)
	printTrainReport(os.Stdout, tr)
	return 0
}

// trainPipeline imports the data folder's items into work/index, assigns
// SIDs, and exports and trains each arm into work/ARM/{export,model}.
func trainPipeline(ctx context.Context, ds *eval.Dataset, o *trainOptions, work string) (*trainReport, error) {
	var progress io.Writer = os.Stderr
	if o.quiet {
		progress = nil
	}
	say := func(format string, a ...any) { fmt.Fprintf(os.Stderr, "neo eval --train: "+format+"\n", a...) }
	tr := &trainReport{Preset: o.preset, Device: o.device, Items: len(ds.Items), Arms: []*armInfo{}, Skipped: []string{}}
	skip := func(format string, a ...any) {
		msg := fmt.Sprintf(format, a...)
		tr.Skipped = append(tr.Skipped, msg)
		say("%s", msg)
	}

	// Which arms run.
	want := map[string]bool{}
	for _, a := range strings.Split(o.arms, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if !slices.ContainsFunc(trainArms, func(x trainArm) bool { return x.name == a }) {
			return nil, fmt.Errorf("--arms: unknown arm %q (want multi, search, recommend)", a)
		}
		want[a] = true
	}
	hasQ, hasI := trainCount(ds, true) > 0, trainCount(ds, false) > 0
	switch {
	case !ds.HasQueries:
		skip("no %s in %s: search is not measured (no search block), no search arm", index.QueriesFile, ds.Dir)
	case !hasQ:
		skip("no train queries in %s: no search arm", ds.Dir)
	}
	switch {
	case !ds.HasInteractions:
		skip("no %s in %s: recommendation is not measured (no recommend block), no recommend arm", index.InteractionsFile, ds.Dir)
	case !hasI:
		skip("no train interactions in %s: no recommend arm", ds.Dir)
	}
	var arms []trainArm
	for _, a := range trainArms {
		switch {
		case !want[a.name]:
			continue
		case a.name == "search" && !hasQ, a.name == "recommend" && !hasI:
			continue // said above
		case a.name == "search" && !hasI && want["multi"]:
			skip("search arm: without interactions it would be trained on the same data as the multi arm (neo)")
			continue
		case a.name == "recommend" && !hasQ && want["multi"]:
			skip("recommend arm: without queries it would be trained on the same data as the multi arm (neo)")
			continue
		}
		arms = append(arms, a)
	}
	steps := map[string][]string{}
	for _, a := range arms {
		s := strings.Split(*o.steps[a.name], ",")
		if len(s) != 3 {
			return nil, fmt.Errorf("--steps-%s %q: want three comma-separated step counts W,G,I", a.name, *o.steps[a.name])
		}
		for _, x := range s {
			if n, err := strconv.Atoi(strings.TrimSpace(x)); err != nil || n < 0 {
				return nil, fmt.Errorf("--steps-%s %q: want three non-negative step counts W,G,I", a.name, *o.steps[a.name])
			}
		}
		steps[a.name] = s
	}
	if o.dropout < 0 || o.dropout >= 1 {
		return nil, fmt.Errorf("--dropout %g: want 0 <= p < 1", o.dropout)
	}
	tr.Dropout = o.dropout
	if o.coocW <= 0 || o.coocW >= 1 {
		return nil, fmt.Errorf("--cooc-weight %g: want 0 < w < 1", o.coocW)
	}
	tr.CoocWeight = o.coocW
	if o.levels < 1 || o.levels > sid.MaxCodes-1 {
		return nil, fmt.Errorf("--levels %d: want 1..%d", o.levels, sid.MaxCodes-1)
	}
	tr.TrainSeed = o.trainSeed
	root, err := trainRoot()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(o.python); err != nil {
		return nil, fmt.Errorf("%s not found; install python3-torch (apt-get install python3-torch) or pass --python", o.python)
	}
	seq := o.sequence && hasI
	tr.Sequence = seq
	if seq {
		tr.SeqContext = o.seqContext
	}
	tr.MaxSeq = o.maxSeq
	if tr.MaxSeq == 0 {
		tr.MaxSeq = exporter.DefaultMaxSeq
		if seq {
			tr.MaxSeq = 512
		}
	}

	// Import and SIDs, shared by the arms (a fresh catalog each run).
	indexDir := filepath.Join(work, "index")
	if err := os.RemoveAll(indexDir); err != nil {
		return nil, err
	}
	_ = os.Remove(assign.QuantizerPath(indexDir))
	inter := ""
	if ds.HasInteractions {
		inter = filepath.Join(ds.Dir, index.InteractionsFile)
	}
	opt := assign.Defaults()
	opt.Levels, opt.CoocWeight = o.levels, o.coocW
	bo := assign.BuildOptions{Items: filepath.Join(ds.Dir, index.ItemsFile), Interactions: inter, Assign: opt, BatchSize: 500, Progress: progress}
	if progress != nil && isTerminal(os.Stderr) {
		bo.ImportProgress = os.Stderr
	}
	t0 := time.Now()
	brep, err := assign.Build(ctx, indexDir, bo)
	if err != nil {
		return nil, err
	}
	if bad := brep.Import.Bad; len(bad) > 0 {
		return nil, fmt.Errorf("import: %d bad lines in %s, first: %s", len(bad), index.ItemsFile, bad[0].Error())
	}
	say("imported %d items into %s", brep.Import.Imported, indexDir)
	tr.SIDSeconds = time.Since(t0).Seconds()
	tr.SIDs = &brep.SIDs.Report
	say("imported and assigned SIDs in %.1fs", tr.SIDSeconds)
	base, err := readExportInput(indexDir, "")
	if err != nil {
		return nil, err
	}

	for _, a := range arms {
		info := &armInfo{Arm: a.name, Method: a.method, Data: []string{}, arm: a}
		in := exporter.Input{Items: base.Items}
		if a.search && hasQ {
			in.Queries = ds.Queries
			info.Data = append(info.Data, "queries")
		}
		if a.recommend && hasI {
			in.Interactions = ds.Interactions
			info.Data = append(info.Data, "interactions")
		}
		exp := filepath.Join(work, a.name, "export")
		model := filepath.Join(work, a.name, "model")
		say("arm %s (%s): export to %s", a.name, a.method, exp)
		t0 := time.Now()
		man, err := exportInput(ctx, indexDir, in, exporter.Options{
			OutDir: exp, VocabSize: o.vocab, MaxSeq: tr.MaxSeq, Seed: 1,
			SequenceSamples: seq && a.recommend, SequenceContext: o.seqContext, Progress: progress,
		})
		if err != nil {
			return nil, fmt.Errorf("arm %s: export: %w", a.name, err)
		}
		info.ExportSeconds = time.Since(t0).Seconds()
		info.Sequences = map[string]int64{}
		for s, st := range man.Stages {
			info.Sequences[s] = st.Sequences
		}
		argv := []string{filepath.Join(root, trainScript), "--data", exp, "--out", model, "--preset", o.preset,
			"--device", o.device, "--threads", strconv.Itoa(o.threads), "--seed", strconv.Itoa(o.trainSeed),
			"--steps-warmup", steps[a.name][0], "--steps-ground", steps[a.name][1], "--steps-instruct", steps[a.name][2]}
		if o.dropout > 0 {
			argv = append(argv, "--dropout", strconv.FormatFloat(o.dropout, 'g', -1, 64))
		}
		t0 = time.Now()
		if err := runTrainer(o.python, root, argv, os.Stderr, os.Stderr); err != nil {
			return nil, fmt.Errorf("arm %s: train: %w", a.name, err)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		info.TrainSeconds = time.Since(t0).Seconds()
		info.modelDir = model
		if err := info.readTraining(model); err != nil {
			return nil, fmt.Errorf("arm %s: %w", a.name, err)
		}
		tr.Arms = append(tr.Arms, info)
	}
	return tr, nil
}

// trainCount counts the data set's train queries (queries true) or train
// interactions.
func trainCount(ds *eval.Dataset, queries bool) int {
	n := 0
	if queries {
		for _, q := range ds.Queries {
			if index.IsTrain(q.Split) {
				n++
			}
		}
		return n
	}
	for _, x := range ds.Interactions {
		if index.IsTrain(x.Split) {
			n++
		}
	}
	return n
}

// readTraining fills the arm's training figures from the model's neo.json.
func (a *armInfo) readTraining(model string) error {
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

// addArmMethods opens each trained arm's model over the data set's items
// and adds it to the blocks it was trained for, recording the fusion of
// the entries in used. The cleanup records the arms' decode statistics,
// then closes the engines.
func addArmMethods(ctx context.Context, ds *eval.Dataset, kit *eval.Kit, arms []*armInfo, m *eval.Methods, o neoeval.Options, used map[string]any) (func(), error) {
	var opened []*neoeval.Method
	var infos []*armInfo
	cleanup := func() {
		for i, nm := range opened {
			dec, _ := nm.Engine().DecodeStats()
			if n := nm.Engine().TokensDecoded(); n > 0 {
				infos[i].TokensDecoded = n
				infos[i].DecodeMSPerToken = float64(dec) / float64(time.Millisecond) / float64(n)
			}
			nm.Close()
		}
	}
	for _, a := range arms {
		nm, u, err := neoeval.Add(ctx, ds, kit, a.modelDir, a.Method, a.arm.search, a.arm.recommend, m, o)
		if err != nil {
			cleanup()
			return nil, fmt.Errorf("arm %s: %w", a.Arm, err)
		}
		maps.Copy(used, u)
		opened, infos = append(opened, nm), append(infos, a)
	}
	return cleanup, nil
}

func printTrainReport(w io.Writer, tr *trainReport) {
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
