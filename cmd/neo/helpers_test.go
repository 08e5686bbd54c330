package main

import (
	"encoding/json"
	"os"
	"testing"
)

// readJSONFile decodes the JSON file at path into v.
func readJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

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
