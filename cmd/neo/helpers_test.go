package main

import (
	"os"
	"testing"
)

// captureStdout runs f with os.Stdout sent to a file and returns what it
// printed.
func captureStdout(t *testing.T, f func() int) (string, int) {
	t.Helper()
	tmp, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = tmp
	code := f()
	os.Stdout = old
	b, err := os.ReadFile(tmp.Name())
	tmp.Close()
	if err != nil {
		t.Fatal(err)
	}
	return string(b), code
}
