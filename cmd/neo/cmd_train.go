package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/neo-search/neo/exporter/trainer"
)

func init() {
	register(command{name: "train", summary: "train the model (PyTorch) and export model.onnx", run: runTrain})
}

const trainUsage = `usage: neo train [--data EXPORT_DIR] [--out MODEL_DIR] [--preset demo] [--python PATH] [train.py flags...]

Runs %s %s on the shards written by 'neo export', streaming its
progress. Other flags go to train.py unchanged, e.g. --steps-warmup N,
--steps-ground N, --steps-instruct N, --device auto|cpu|cuda, --threads 2,
--seed 1, --resume (continue after an interruption; Ctrl-C checkpoints).

  --data    export folder (default .neo/export in the repository)
  --out     model folder (default testdata/model for --preset demo;
            required for other presets, so a smoke run cannot overwrite the demo model)
  --preset  tiny | small | demo (default demo)
  --python  interpreter with torch (default %s)

train.py's own flags:
`

func runTrain(args []string) int {
	ta, err := trainer.ParseArgs(args, trainer.Args{Preset: "demo", Python: trainer.Python})
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo train:", err)
		return 2
	}
	data, out, preset, python, help, pass := ta.Data, ta.Out, ta.Preset, ta.Python, ta.Help, ta.Pass
	root, err := trainer.Root()
	if err != nil {
		fmt.Fprintf(os.Stderr, "neo train: %v\n", err)
		return 1
	}
	script := filepath.Join(root, trainer.Script)
	if help {
		fmt.Fprintf(os.Stderr, trainUsage, python, trainer.Script, trainer.Python)
		cmd := exec.Command(python, script, "--help")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		cmd.Run()
		return 0
	}
	if data == "" {
		data = filepath.Join(root, ".neo", "export")
	}
	if out == "" {
		if preset != "demo" {
			fmt.Fprintf(os.Stderr, "neo train: --out is required with --preset %s (the default testdata/model is the demo model)\n", preset)
			return 2
		}
		out = filepath.Join(root, "testdata", "model")
	}
	if data, err = filepath.Abs(data); err == nil {
		out, err = filepath.Abs(out)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "neo train: %v\n", err)
		return 1
	}
	if _, err := os.Stat(filepath.Join(data, "neo.json")); err != nil {
		fmt.Fprintf(os.Stderr, "neo train: no export at %s (%v); run 'neo export' first\n", data, err)
		return 1
	}
	if _, err := os.Stat(python); err != nil {
		fmt.Fprintf(os.Stderr, "neo train: %s not found; install python3-torch (apt-get install python3-torch) or pass --python\n", python)
		return 1
	}

	argv := append([]string{script, "--data", data, "--out", out, "--preset", preset}, pass...)
	err = trainer.Run(python, root, argv, os.Stdout, os.Stderr)
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if code := exit.ExitCode(); code >= 0 {
			return code
		}
		return 1
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "neo train: %v\n", err)
		return 1
	}
	return 0
}
