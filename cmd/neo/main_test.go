package main

import (
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	out, code := captureStdout(t, func() int { return commands["version"].run(nil) })
	if code != 0 || !strings.HasPrefix(out, "neo ") || !strings.Contains(out, "go1") {
		t.Fatalf("exit %d, %q", code, out)
	}
}
