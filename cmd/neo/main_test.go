package main

import (
	"flag"
	"os"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	out, code := captureStdout(t, func() int { return commands["version"].run(nil) })
	if code != 0 || !strings.HasPrefix(out, "neo ") || !strings.Contains(out, "go1") {
		t.Fatalf("exit %d, %q", code, out)
	}
}

// TestServeOutsideCheckout: outside a checkout neo serve has no default
// model, and says so instead of serving every search a 503; --model ""
// still asks for the catalog API alone (checked here up to the flag check).
func TestServeOutsideCheckout(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("NEO_MODEL", "")
	os.Unsetenv("NEO_MODEL")
	out, code := captureStderr(t, func() int { return runServe([]string{"--addr", "127.0.0.1:0"}) })
	if code != 2 || !strings.Contains(out, "no model to serve") || !strings.Contains(out, "--model DIR") {
		t.Fatalf("exit %d, %q", code, out)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var dir string
	fs.StringVar(&dir, "model", "", "")
	if err := fs.Parse([]string{"--model", ""}); err != nil {
		t.Fatal(err)
	}
	if err := needModel(fs, dir); err != nil {
		t.Fatalf("--model \"\": %v", err)
	}
}
