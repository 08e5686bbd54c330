package convert

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neo-search/neo/index/folder"
)

func TestSeq(t *testing.T) {
	dir := t.TempDir()
	seq := filepath.Join(dir, "seq.txt")
	os.WriteFile(seq, []byte("1 10 11 12\n2 11\n\nlonely\n3 13 10\n"), 0o644)
	text := filepath.Join(dir, "items.json")
	os.WriteFile(text, []byte(`{"10": {"title": "Cafe", "description": "Coffee"}, "11": {"title": "Deli"}, "99": {"title": "Unused"}}`), 0o644)
	out := filepath.Join(dir, "out")
	rep, err := Seq(seq, text, out, "business")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Users != 3 || rep.Interactions != 6 || rep.Items != 5 || rep.NoText != 2 || rep.TextOnly != 1 {
		t.Errorf("report %+v", rep)
	}
	if len(rep.Bad) != 1 || rep.Bad[0].Line != 4 || !strings.Contains(rep.Bad[0].Reason, "no items") {
		t.Errorf("bad lines %+v, want line 4", rep.Bad)
	}
	f, _ := os.Open(filepath.Join(out, "items.ndjson"))
	items, err := folder.ReadItems(f)
	f.Close()
	if err != nil || len(items) != 5 {
		t.Fatalf("items %d, err %v", len(items), err)
	}
	f, _ = os.Open(filepath.Join(out, "interactions.ndjson"))
	xs, err := folder.ReadInteractions(f)
	f.Close()
	if err != nil || len(xs) != 6 || xs[0].User != "1" || xs[2].Item != "12" || xs[0].TS >= xs[1].TS {
		t.Fatalf("interactions %+v, err %v", xs, err)
	}
	if _, err := Seq(seq, filepath.Join(dir, "missing.json"), out, "business"); err == nil {
		t.Error("a missing text file must be an error")
	}
}

func FuzzParseSeqLine(f *testing.F) {
	for _, s := range []string{"1 2 3", "", "u", "  a\tb  c ", "é ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		u, items, err := ParseSeqLine(line)
		if err == nil && u != "" && len(items) == 0 {
			t.Fatalf("user %q with no items accepted", u)
		}
		for _, it := range items {
			if it == "" || strings.ContainsAny(it, " \t\n") {
				t.Fatalf("bad item %q", it)
			}
		}
	})
}
