package exporter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neo-search/neo/index/folder"
	"github.com/neo-search/neo/sid"
)

// TestExportSequenceSamples: with SequenceSamples every train event of a
// user after the first is a loss target exactly once, the loss covers only
// SID type and code tokens, windows fit MaxSeq, and neo.json names the
// sequence template; without it neo.json does not.
func TestExportSequenceSamples(t *testing.T) {
	in := fixture()
	// one long user: 40 train events cycling over the catalog
	ids := []string{"br-0", "br-1", "ri-0", "br-2", "ri-1", "br-3", "hb-0", "ri-2", "br-4", "br-5", "ri-3"}
	for j := 0; j < 40; j++ {
		in.Interactions = append(in.Interactions, folder.Interaction{User: "long", Item: ids[j%len(ids)], TS: int64(100 + j), Split: "train"})
	}
	in.Interactions = append(in.Interactions, folder.Interaction{User: "long", Item: "heldout-1", TS: 9000, Split: "test"})
	trainEvents := map[string]int{}
	for _, x := range in.Interactions {
		if x.Item != "no-such-item" && (x.Split == "" || x.Split == "train") {
			trainEvents[x.User]++
		}
	}
	want := 0
	for _, n := range trainEvents {
		want += n - 1
	}

	const maxSeq = 128
	m, dir := export(t, in, Options{Seed: 1, MaxSeq: maxSeq, SequenceSamples: true})
	meta, err := sid.LoadModelMeta(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := meta.Templates[sid.TaskRecommendSequence]; len(got) != 1 || got[0] != SequenceTemplates[0] {
		t.Fatalf("neo.json recommend_sequence templates = %q", got)
	}
	if m.Report.Mix["instruct recommend/sequence"] == 0 || m.Report.Mix["instruct recommend/ids"] != 0 {
		t.Fatalf("mix %v: want sequence samples instead of recommend/ids", m.Report.Mix)
	}
	v := meta.SID
	perSpan := v.Levels() + 1 // type + codes
	asst := meta.Special[sid.TokenAssistant]
	s := readShards(t, dir, StageInstruct)
	targets, seqs, longest := 0, 0, 0
	for i := 0; i < s.n(); i++ {
		ids, mask := s.seq(i)
		if len(ids) > maxSeq {
			t.Fatalf("sequence %d has %d tokens > %d", i, len(ids), maxSeq)
		}
		isSeq := true
		for _, id := range ids {
			if id == asst {
				isSeq = false
			}
		}
		if !isSeq {
			continue
		}
		seqs++
		spans, n := 0, 0
		for j, id := range ids {
			if id == v.Open {
				spans++
			}
			if mask[j] == 1 {
				if !v.IsSIDToken(id) || id == v.Open || id == v.Close {
					t.Fatalf("sequence %d: loss on non-SID-code token %d at %d", i, id, j)
				}
				n++
			}
		}
		if spans < 2 || n == 0 || n%perSpan != 0 {
			t.Fatalf("sequence %d: %d spans, %d loss tokens (want a multiple of %d)", i, spans, n, perSpan)
		}
		// the first span never has a loss
		first := -1
		for j, id := range ids {
			if id == v.Close {
				first = j
				break
			}
		}
		for j := 0; j <= first; j++ {
			if mask[j] != 0 {
				t.Fatalf("sequence %d: loss inside the first span", i)
			}
		}
		targets += n / perSpan
		longest = max(longest, spans)
	}
	if targets != want {
		t.Fatalf("%d next-item targets in %d sequence samples, want %d (every train event after each user's first)", targets, seqs, want)
	}
	if longest < 10 {
		t.Fatalf("longest window %d spans; want the window to fill max_seq %d", longest, maxSeq)
	}
	// valid: the test item is the only target, the last span
	vs := readShards(t, dir, StageValid)
	nseq := 0
	for i := 0; i < vs.n(); i++ {
		ids, mask := vs.seq(i)
		hasAsst := false
		for _, id := range ids {
			hasAsst = hasAsst || id == asst
		}
		if hasAsst {
			continue
		}
		nseq++
		n := 0
		for _, x := range mask {
			n += int(x)
		}
		if n != perSpan || ids[len(ids)-1] != v.Close || mask[len(ids)-perSpan-1] != 1 {
			t.Fatalf("valid sequence %d: %d loss tokens, want %d on the last span", i, n, perSpan)
		}
	}
	if nseq != 7 {
		t.Fatalf("%d valid sequence samples, want 7 (users with a test event)", nseq)
	}

	// a larger context: more windows, the same targets
	m2, dir3 := export(t, in, Options{Seed: 1, MaxSeq: maxSeq, SequenceSamples: true, SequenceContext: 10})
	if m2.Report.Mix["instruct recommend/sequence"] <= m.Report.Mix["instruct recommend/sequence"] {
		t.Fatalf("context 10: %d windows, default: %d", m2.Report.Mix["instruct recommend/sequence"], m.Report.Mix["instruct recommend/sequence"])
	}
	if got := readShards(t, dir3, StageInstruct); got.n() == 0 {
		t.Fatal("no sequences")
	}

	// default: no sequence template in neo.json
	_, dir2 := export(t, in, Options{Seed: 1, MaxSeq: maxSeq})
	raw, err := os.ReadFile(filepath.Join(dir2, sid.MetaFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), sid.TaskRecommendSequence) {
		t.Fatal("default export names the sequence template")
	}
}
