package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

func init() {
	register(command{name: "train", summary: "train the model (PyTorch) and export model.onnx", run: runTrain})
}

const trainScript = "exporter/py/train.py"

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
	data, out, preset, python := "", "", "demo", trainPython
	var pass []string
	help := false
	// Hand-rolled parsing: unknown flags are passed through to train.py,
	// which the flag package cannot do.
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pass = append(pass, args[i+1:]...)
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			pass = append(pass, a)
			continue
		}
		var dst *string
		switch name {
		case "data":
			dst = &data
		case "out":
			dst = &out
		case "preset":
			dst = &preset
		case "python":
			dst = &python
		case "h", "help":
			help = true
			continue
		default:
			pass = append(pass, a)
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				fmt.Fprintf(os.Stderr, "neo train: flag --%s needs a value\n", name)
				return 2
			}
			i++
			val = args[i]
		}
		*dst = val
	}

	root, err := trainRoot()
	if err != nil {
		fmt.Fprintf(os.Stderr, "neo train: %v\n", err)
		return 1
	}
	script := filepath.Join(root, trainScript)
	if help {
		fmt.Fprintf(os.Stderr, trainUsage, python, trainScript, trainPython)
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
	err = runTrainer(python, root, argv, os.Stdout, os.Stderr)
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

// runTrainer runs python with argv (train.py and its flags) in the
// repository root, its output to stdout and stderr, forwarding SIGINT and
// SIGTERM once (the trainer checkpoints on the first). A failed run is an
// *exec.ExitError.
func runTrainer(python, root string, argv []string, stdout, stderr io.Writer) error {
	cmd := exec.Command(python, argv...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
	// Own process group: a terminal Ctrl-C reaches only neo, which forwards
	// it once; the trainer checkpoints on the first signal and aborts on a
	// second, so it must not get the terminal's copy as well.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	fmt.Fprintf(os.Stderr, "neo train: %s %s\n", python, strings.Join(argv, " "))
	if err := cmd.Start(); err != nil {
		return err
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	return cmd.Wait()
}

// trainRoot finds the repository holding exporter/py/train.py: upwards from
// the working directory, then from the neo executable.
func trainRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if r, err := filepath.EvalSymlinks(exe); err == nil {
			exe = r
		}
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		for {
			if _, err := os.Stat(filepath.Join(dir, trainScript)); err == nil {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("cannot find %s above the working directory or the neo binary; run neo train inside the neo repository", trainScript)
}
