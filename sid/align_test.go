package sid

import (
	"slices"
	"testing"
)

func TestAlignCodesAcrossTypes(t *testing.T) {
	items, sessions, _ := demoLike(7)
	opt := AssignOptions{Seed: 3, Sessions: sessions}
	aligned, err := Assign(items, opt)
	if err != nil {
		t.Fatal(err)
	}
	opt.Unaligned = true
	plain, err := Assign(items, opt)
	if err != nil {
		t.Fatal(err)
	}
	checkSIDs(t, aligned, items)
	k := aligned.Codebook[aligned.Types[0]][0]
	got, base := aligned.Report.CrossType[0], plain.Report.CrossType[0]
	t.Logf("k=%d: level-0 agreement across types in sessions: aligned %.3f, unaligned %.3f, chance %.3f", k, got, base, 1/float64(k))
	// Sessions stay within one style across types, so aligned codes agree
	// far above chance; unaligned numbering agrees only by accident.
	if got < 2/float64(k) || got < 2*base {
		t.Errorf("level-0 agreement across types: aligned %.3f, unaligned %.3f, chance %.3f", got, base, 1/float64(k))
	}
	// Alignment only renames codes: where a type kept its codebook size,
	// the same items share a prefix.
	for i := range items {
		typ := aligned.SIDs[i].Type
		if aligned.Codebook[typ][0] != plain.Codebook[typ][0] {
			continue
		}
		for j := i + 1; j < len(items) && j < i+40; j++ {
			if items[i].Type != items[j].Type {
				continue
			}
			sa := slices.Equal(aligned.SIDs[i].Codes[:1], aligned.SIDs[j].Codes[:1])
			sp := slices.Equal(plain.SIDs[i].Codes[:1], plain.SIDs[j].Codes[:1])
			if sa != sp {
				t.Fatalf("items %d and %d: share level 0 aligned=%v unaligned=%v", i, j, sa, sp)
			}
		}
	}
	// The quantizer places an item by the relabelled centroids.
	for i := 0; i < len(items); i += 97 {
		typ, codes, err := aligned.Quantizer.Codes(AssignItem{ID: items[i].ID, Type: items[i].Type, Text: items[i].Text})
		if err != nil || typ != aligned.SIDs[i].Type {
			t.Fatalf("Codes(%s): %v %v", items[i].ID, typ, err)
		}
		_ = codes
	}
}

func TestMatchMin(t *testing.T) {
	cost := []float64{
		5, 1, 9,
		1, 2, 3, // row 1 prefers column 0, but row 0's 1 came first
		0, 7, 7,
	}
	if got := matchMin(cost, 3); !slices.Equal(got, []int{1, 2, 0}) {
		t.Fatalf("matchMin = %v, want [1 2 0]", got)
	}
}
