package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/neo-search/neo/index"
)

func TestImportCommand(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o755)
	good := `{"id":"a","type":"ring"}` + "\n" + `{"id":"b","type":"watch"}` + "\n"
	os.WriteFile(filepath.Join(data, "items.ndjson"), []byte(good), 0o644)
	bad := filepath.Join(dir, "bad.ndjson")
	os.WriteFile(bad, []byte(`{"id":"c","type":"ring"}`+"\n"+`{"id":"d","type":"ring","price":"1"}`+"\n"), 0o644)
	idx := filepath.Join(dir, "index")

	cases := []struct {
		name string
		args []string
		want int
	}{
		{"data folder", []string{"--index", idx, "--quiet", data}, 0},
		{"bad line", []string{bad, "--index", idx}, 1},
		{"missing file", []string{"--index", idx, filepath.Join(dir, "nope")}, 2},
		{"no file", []string{"--index", idx}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := runImport(tc.args); got != tc.want {
				t.Fatalf("exit %d, want %d", got, tc.want)
			}
		})
	}
	cat, err := index.Open(idx)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	if n, _ := cat.Count(); n != 3 {
		t.Fatalf("%d items, want a, b, c", n)
	}
}
