// Package trainer runs the PyTorch trainer (exporter/py/train.py) as a
// child process: where the repository holding it is, which interpreter,
// and signal forwarding so that an interrupt checkpoints instead of losing
// the run.
package trainer

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Script is the trainer, relative to the repository root.
const Script = "exporter/py/train.py"

// Python is the interpreter neo train uses by default: Debian's, which has
// python3-torch (a pyenv or venv python3 earlier on PATH usually does not).
const Python = "/usr/bin/python3"

// Run runs python with argv (train.py and its flags) in the
// repository root, its output to stdout and stderr, forwarding SIGINT and
// SIGTERM once (the trainer checkpoints on the first). A failed run is an
// *exec.ExitError.
func Run(python, root string, argv []string, stdout, stderr io.Writer) error {
	cmd := exec.Command(python, argv...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
	// Own process group: a terminal Ctrl-C reaches only neo, which forwards
	// it once; the trainer checkpoints on the first signal and aborts on a
	// second, so it must not get the terminal's copy as well.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	fmt.Fprintf(stderr, "neo train: %s %s\n", python, strings.Join(argv, " "))
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

// Root finds the repository holding exporter/py/train.py: upwards from
// the working directory, then from the neo executable.
func Root() (string, error) {
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
			if _, err := os.Stat(filepath.Join(dir, Script)); err == nil {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("cannot find %s above the working directory or the neo binary; run neo train inside the neo repository", Script)
}

// Env is what the trainer's interpreter provides.
type Env struct {
	Torch, Device, NumPy string // torch version, "cuda" or "no-cuda", numpy version
	ONNX                 string // onnx version; "" when it does not import (exports then skip graph folding)
	Err                  error  // torch or numpy does not import: no training
}

// Check asks python which torch, numpy and onnx it imports (each import at
// most 90 s: a first torch import can be slow).
func Check(python string) Env {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var env Env
	if o, err := exec.CommandContext(ctx, python, "-c", "import onnx; print(onnx.__version__)").Output(); err == nil {
		env.ONNX = strings.TrimSpace(string(o))
	}
	out, err := exec.CommandContext(ctx, python, "-c",
		"import torch, numpy; print(torch.__version__, 'cuda' if torch.cuda.is_available() else 'no-cuda', numpy.__version__)").CombinedOutput()
	f := strings.Fields(string(out))
	switch {
	case err != nil:
		msg := strings.TrimSpace(string(out))
		if len(msg) > 300 {
			msg = msg[len(msg)-300:]
		}
		env.Err = fmt.Errorf("%v %s", err, msg)
		return env
	case len(f) != 3:
		env.Err = fmt.Errorf("unexpected answer %q", strings.TrimSpace(string(out)))
		return env
	}
	env.Torch, env.Device, env.NumPy = f[0], f[1], f[2]
	return env
}

// Args are neo train's own flags (--data, --out, --preset, --python, -h);
// Pass is every other argument, in order, for train.py.
type Args struct {
	Data, Out, Preset, Python string
	Help                      bool
	Pass                      []string
}

// ParseArgs splits a command line into neo train's flags (as --name value
// or --name=value, one or two dashes) and train.py's; "--" passes the rest
// through. def gives the flags' defaults. Parsed by hand: the flag package
// cannot pass unknown flags on.
func ParseArgs(args []string, def Args) (Args, error) {
	out := def
	out.Pass = nil
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			out.Pass = append(out.Pass, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") {
			out.Pass = append(out.Pass, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		var dst *string
		switch name {
		case "data":
			dst = &out.Data
		case "out":
			dst = &out.Out
		case "preset":
			dst = &out.Preset
		case "python":
			dst = &out.Python
		case "h", "help":
			out.Help = true
			continue
		default:
			out.Pass = append(out.Pass, a)
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return out, fmt.Errorf("flag --%s needs a value", name)
			}
			i++
			val = args[i]
		}
		*dst = val
	}
	return out, nil
}
