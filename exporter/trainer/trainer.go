// Package trainer runs the PyTorch trainer (exporter/py/train.py) as a
// child process: where the repository holding it is, which interpreter,
// and signal forwarding so that an interrupt checkpoints instead of losing
// the run.
package trainer

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
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
