package trainer

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoot(t *testing.T) {
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, Script)); err != nil {
		t.Fatalf("root %s has no %s: %v", root, Script, err)
	}
}

// Run streams the child's output and returns its exit status as an
// *exec.ExitError.
func TestRun(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	for _, tc := range []struct {
		name, script string
		exit         int
	}{
		{"ok", "echo out; echo err >&2", 0},
		{"fails", "echo out; exit 3", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errw strings.Builder
			err := Run(sh, t.TempDir(), []string{"-c", tc.script}, &out, &errw)
			var ee *exec.ExitError
			switch {
			case tc.exit == 0 && err != nil:
				t.Fatal(err)
			case tc.exit != 0 && (!errors.As(err, &ee) || ee.ExitCode() != tc.exit):
				t.Fatalf("err %v, want exit %d", err, tc.exit)
			}
			if !strings.Contains(out.String(), "out") {
				t.Fatalf("stdout %q", out.String())
			}
			if !strings.Contains(errw.String(), "neo train: "+sh) {
				t.Fatalf("stderr %q does not show the command", errw.String())
			}
		})
	}
}

func TestCheck(t *testing.T) {
	if env := Check("/nonexistent/python3"); env.Err == nil {
		t.Fatalf("a missing interpreter: %+v, want an error", env)
	}
	if _, err := os.Stat(Python); err != nil {
		t.Skip("no ", Python)
	}
	env := Check(Python)
	if env.Err != nil {
		t.Skipf("%s has no torch: %v", Python, env.Err)
	}
	if env.Torch == "" || (env.Device != "cuda" && env.Device != "no-cuda") || env.NumPy == "" {
		t.Fatalf("env %+v", env)
	}
}

func TestParseArgs(t *testing.T) {
	def := Args{Preset: "demo", Python: Python}
	for _, tc := range []struct {
		name string
		in   []string
		want Args
		ok   bool
	}{
		{"defaults", nil, Args{Preset: "demo", Python: Python}, true},
		{"own flags both forms", []string{"--data", "d", "-out=o", "--preset=tiny", "--python", "p"}, Args{Data: "d", Out: "o", Preset: "tiny", Python: "p"}, true},
		{"others pass in order", []string{"--steps-warmup", "5", "--resume", "--data", "d", "x"}, Args{Data: "d", Preset: "demo", Python: Python, Pass: []string{"--steps-warmup", "5", "--resume", "x"}}, true},
		{"after -- all pass", []string{"--", "--data", "d"}, Args{Preset: "demo", Python: Python, Pass: []string{"--data", "d"}}, true},
		{"help", []string{"-h"}, Args{Preset: "demo", Python: Python, Help: true}, true},
		{"missing value", []string{"--out"}, Args{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseArgs(tc.in, def)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok %v", err, tc.ok)
			}
			if !tc.ok {
				return
			}
			if got.Data != tc.want.Data || got.Out != tc.want.Out || got.Preset != tc.want.Preset || got.Python != tc.want.Python ||
				got.Help != tc.want.Help || strings.Join(got.Pass, " ") != strings.Join(tc.want.Pass, " ") {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
