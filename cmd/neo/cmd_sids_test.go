package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/sid"
)

// TestSidsTSV: --tsv writes the table a model directory's sids.tsv uses:
// with --dry-run the assignment (catalog untouched), else the catalog's
// SIDs as written, and the same seed gives the same table both ways.
func TestSidsTSV(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for i := 0; i < 30; i++ {
		lines = append(lines, fmt.Sprintf(`{"id":"i%d","type":"%s","title":"%s thing %d"}`,
			i, []string{"ring", "watch"}[i%2], []string{"gold", "silver", "rose"}[i%3], i))
	}
	items := filepath.Join(dir, "items.ndjson")
	os.WriteFile(items, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	idx := filepath.Join(dir, "index")
	if code := runImport([]string{"--index", idx, "--quiet", items}); code != 0 {
		t.Fatalf("import exit %d", code)
	}
	catalogSIDs := func() map[string]string {
		cat, err := index.Open(idx)
		if err != nil {
			t.Fatal(err)
		}
		defer cat.Close()
		all, err := cat.Items()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, it := range all {
			out[it.ID] = it.SID
		}
		return out
	}
	before := catalogSIDs()

	dry := filepath.Join(dir, "dry.tsv")
	if _, code := captureStdout(t, func() int {
		return runSids([]string{"--index", idx, "--quiet", "--dry-run", "--tsv", dry})
	}); code != 0 {
		t.Fatalf("dry run exit %d", code)
	}
	got, err := sid.ReadAssignments(dry)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 30 {
		t.Fatalf("%d rows, want 30", len(got))
	}
	if after := catalogSIDs(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("--dry-run --tsv changed the catalog")
	}

	wet := filepath.Join(dir, "wet.tsv")
	if _, code := captureStdout(t, func() int { return runSids([]string{"--index", idx, "--quiet", "--tsv", wet}) }); code != 0 {
		t.Fatalf("exit %d", code)
	}
	written, err := sid.ReadAssignments(wet)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(written) != fmt.Sprint(catalogSIDs()) || fmt.Sprint(written) != fmt.Sprint(got) {
		t.Fatalf("tables differ:\nwritten %v\ncatalog %v\ndry     %v", written, catalogSIDs(), got)
	}

	bad := filepath.Join(dir, "no", "such", "dir", "x.tsv")
	if _, code := captureStdout(t, func() int {
		return runSids([]string{"--index", idx, "--quiet", "--dry-run", "--tsv", bad})
	}); code != 1 {
		t.Fatalf("unwritable --tsv: exit %d, want 1", code)
	}
}

// TestSidsNewOnly: items imported after the assignment get an SID with
// --new-only; the others keep theirs; without a quantizer it fails.
func TestSidsNewOnly(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, from, to int) string {
		var lines []string
		for i := from; i < to; i++ {
			lines = append(lines, fmt.Sprintf(`{"id":"i%d","type":"%s","title":"%s thing %d"}`,
				i, []string{"ring", "watch"}[i%2], []string{"gold", "silver", "rose"}[i%3], i))
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
		return p
	}
	idx := filepath.Join(dir, "index")
	if code := runImport([]string{"--index", idx, "--quiet", write("a.ndjson", 0, 30)}); code != 0 {
		t.Fatalf("import exit %d", code)
	}
	if _, code := captureStdout(t, func() int { return runSids([]string{"--index", idx, "--quiet", "--new-only"}) }); code != 1 {
		t.Fatalf("--new-only without a quantizer: exit %d, want 1", code)
	}
	if _, code := captureStdout(t, func() int { return runSids([]string{"--index", idx, "--quiet"}) }); code != 0 {
		t.Fatalf("sids exit %d", code)
	}
	sids := func() map[string]string {
		cat, err := index.Open(idx)
		if err != nil {
			t.Fatal(err)
		}
		defer cat.Close()
		all, _ := cat.Items()
		out := map[string]string{}
		for _, it := range all {
			out[it.ID] = it.SID
		}
		return out
	}
	before := sids()
	// a model trained on the first 30 items: its sids.tsv
	model := filepath.Join(dir, "model")
	os.MkdirAll(model, 0o755)
	if _, code := captureStdout(t, func() int {
		return runSids([]string{"--index", idx, "--quiet", "--dry-run", "--tsv", filepath.Join(model, sid.AssignmentsFile)})
	}); code != 0 {
		t.Fatal("sids --tsv")
	}
	if code := runImport([]string{"--index", idx, "--quiet", write("b.ndjson", 30, 36)}); code != 0 {
		t.Fatalf("import exit %d", code)
	}
	out, code := captureStdout(t, func() int { return runSids([]string{"--index", idx, "--new-only", "--json"}) })
	if code != 0 || !strings.Contains(out, `"coded":6`) || !strings.Contains(out, `"kept":30`) {
		t.Fatalf("exit %d: %s", code, out)
	}
	after := sids()
	seen := map[string]string{}
	for id, s := range after {
		if s == "" {
			t.Fatalf("%s has no SID after --new-only", id)
		}
		if b, ok := before[id]; ok && b != s {
			t.Fatalf("%s changed SID %s → %s", id, b, s)
		}
		if o, dup := seen[s]; dup {
			t.Fatalf("%s and %s share %s", o, id, s)
		}
		seen[s] = id
	}
	// neo doctor --index --model: the 6 new items are new to the model
	out, _ = captureStdout(t, func() int {
		if !doctorDrift(idx, model) {
			return 1
		}
		return 0
	})
	if !strings.Contains(out, "36 items, 36 with an SID; 6 of those the model never saw") || !strings.Contains(out, "WARN") {
		t.Fatalf("doctor drift: %s", out)
	}
}
