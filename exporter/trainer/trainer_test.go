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
