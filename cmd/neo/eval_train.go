package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/neo-search/neo/exporter/trainer"
	"github.com/neo-search/neo/index/folder"
	"github.com/neo-search/neo/plugin/eval/neoeval"
	"github.com/neo-search/neo/plugin/eval/trainrun"

	"github.com/neo-search/neo/exporter"
	"github.com/neo-search/neo/plugin/eval"
	"github.com/neo-search/neo/sid"
)

// `neo eval --train`: the whole pipeline on a data folder, then the
// evaluation with the models it trained next to the baselines.

const trainEvalUsage = `
--train runs the whole pipeline on the data folder first: import into a
temporary catalog (WORK/eval-train-index), neo sids (with the train interactions), then for each
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
	train bool
	work  string // --work
	trainrun.Options
}

func (o *trainOptions) flags(fs *flag.FlagSet) {
	fs.BoolVar(&o.train, "train", false, "import, assign SIDs, export and train the model arms on the data folder, then evaluate them (see below)")
	fs.StringVar(&o.Preset, "preset", "demo", "--train: trainer preset (tiny | small | demo)")
	fs.StringVar(&o.Device, "device", "auto", "--train: trainer device (auto uses CUDA when present | cpu | cuda)")
	fs.IntVar(&o.Threads, "threads", 2, "--train: trainer CPU threads")
	fs.StringVar(&o.Python, "python", trainer.Python, "--train: interpreter with torch")
	fs.StringVar(&o.work, "work", "", "--train: folder for the catalog, exports and models (default: a temporary folder, removed afterwards)")
	fs.StringVar(&o.Arms, "arms", "multi,search,recommend", "--train: arms to train")
	fs.IntVar(&o.MaxSeq, "max-seq", 0, "--train: tokens per training sequence (default 512 with sequence samples, else 256)")
	fs.IntVar(&o.Vocab, "vocab", exporter.DefaultVocabSize, "--train: BPE vocabulary size")
	fs.BoolVar(&o.Sequence, "sequence", true, "--train: recommend samples as whole-history sequences, loss on every next item")
	fs.IntVar(&o.SeqContext, "seq-context", 50, "--train: with --sequence, history items every target after a user's first window sees at least")
	fs.Float64Var(&o.CoocWeight, "cooc-weight", sid.DefaultCoocWeight, "--train: share of the co-occurrence embedding in the SIDs (0 < w < 1; as neo sids --cooc-weight)")
	fs.IntVar(&o.TrainSeed, "train-seed", 1, "--train: trainer seed (weight init, batch order, dropout) for every arm; SIDs and samples keep seed 1, so runs differing only here measure training noise")
	fs.IntVar(&o.Levels, "levels", sid.DefaultLevels, "--train: semantic SID levels (as neo sids --levels; the codebook size follows from it)")
	fs.Float64Var(&o.Dropout, "dropout", 0, "--train: trainer dropout probability (0 <= p < 1) for every arm")
	fs.Float64Var(&o.Cold, "cold", 0, "--train: cold start: hold out this share of the items (0 <= F < 1) before SIDs and training, add them afterwards as a PUT without an SID does, and report the cases whose target is a new item apart (JSON \"cold\")")
	o.Steps = map[string]string{}
	for _, a := range trainrun.Arms {
		fs.Func("steps-"+a.Name, "--train: "+a.Name+" arm budget, steps per stage W,G,I (default "+trainrun.DefaultSteps[a.Name]+")", func(s string) error {
			o.Steps[a.Name] = s
			return nil
		})
	}
}

// evalTrainMain runs `neo eval --train` and prints the report.
func evalTrainMain(ctx context.Context, dir, only string, opt eval.Options, neo neoeval.Options, o *trainOptions, asJSON bool, k int) int {
	start := time.Now()
	ds, err := folder.Load(dir)
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
	tr, err := trainrun.Run(ctx, ds, o.Options, work)
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo eval --train:", err)
		return 1
	}
	rep, err := trainrun.Evaluate(ctx, ds, tr, work, only, opt, neo)
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo eval:", err)
		return 1
	}
	tr.Seconds = time.Since(start).Seconds()
	if asJSON {
		b, err := json.Marshal(struct {
			*eval.Report
			Train *trainrun.Report `json:"train"`
		}{rep, tr})
		if err != nil {
			fmt.Fprintln(os.Stderr, "neo eval:", err)
			return 1
		}
		fmt.Println(string(b))
		return 0
	}
	rep.WriteText(os.Stdout, k)
	tr.WriteText(os.Stdout)
	return 0
}
