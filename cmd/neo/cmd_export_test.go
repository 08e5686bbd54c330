package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neo-search/neo/exporter"
	"github.com/neo-search/neo/sid"
)

func TestExportCommand(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o755)
	items := `{"id":"a","type":"ring","title":"Lumière ring","brand":"Aurel","sid":"ring-0-0-0"}` + "\n" +
		`{"id":"b","type":"ring","title":"Gold ring","brand":"Aurel","sid":"ring-1-0-0"}` + "\n" +
		`{"id":"c","type":"watch","title":"Steel watch","sid":"watch-0-1-0"}` + "\n"
	os.WriteFile(filepath.Join(data, "items.ndjson"), []byte(items), 0o644)
	os.WriteFile(filepath.Join(data, "interactions.ndjson"), []byte(strings.Join([]string{
		`{"user":"u","item":"a","ts":1,"event":"view"}`,
		`{"user":"u","item":"b","ts":2,"event":"view"}`,
		`{"user":"u","item":"c","ts":3,"event":"view","split":"valid"}`,
		`{"user":"u","item":"a","ts":4,"event":"purchase","split":"test"}`,
	}, "\n")+"\n"), 0o644)
	os.WriteFile(filepath.Join(data, "queries.ndjson"), []byte(`{"query":"ring","relevant":[{"item":"a","grade":2}]}`+"\n"), 0o644)
	idx := filepath.Join(dir, "index")
	if code := runImport([]string{"--index", idx, "--quiet", data}); code != 0 {
		t.Fatalf("import exit %d", code)
	}
	out := filepath.Join(dir, "export")
	cases := []struct {
		name string
		args []string
		want int
	}{
		{"export", []string{"--index", idx, "--data", data, "--out", out, "--vocab", "300", "--quiet", "--json"}, 0},
		{"no catalog", []string{"--index", filepath.Join(dir, "nope"), "--out", out}, 1},
		{"bad data folder", []string{"--index", idx, "--data", filepath.Join(dir, "nope"), "--out", out}, 1},
		{"bad vocab", []string{"--index", idx, "--out", out, "--vocab", "10", "--quiet"}, 1},
		{"stray argument", []string{"--index", idx, "extra"}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := runExport(tc.args); got != tc.want {
				t.Fatalf("exit %d, want %d", got, tc.want)
			}
		})
	}
	if _, _, err := sid.LoadModel(out); err != nil {
		t.Fatal(err)
	}
	for _, s := range exporter.Stages {
		if _, err := os.Stat(filepath.Join(out, "shards", s+".ids.bin")); err != nil {
			t.Error(err)
		}
	}
}
