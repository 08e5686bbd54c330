package main

import (
	"os"
	"testing"
)

// captureStdout runs f with os.Stdout sent to a file and returns what it
// printed.
func captureStdout(t *testing.T, f func() int) (string, int) {
	t.Helper()
	return capture(t, &os.Stdout, f)
}

// captureStderr is captureStdout for os.Stderr.
func captureStderr(t *testing.T, f func() int) (string, int) {
	t.Helper()
	return capture(t, &os.Stderr, f)
}

func capture(t *testing.T, stream **os.File, f func() int) (string, int) {
	t.Helper()
	tmp, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	old := *stream
	*stream = tmp
	code := f()
	*stream = old
	b, err := os.ReadFile(tmp.Name())
	tmp.Close()
	if err != nil {
		t.Fatal(err)
	}
	return string(b), code
}
