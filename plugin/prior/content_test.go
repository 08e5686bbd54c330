package prior

import (
	"context"
	"slices"
	"testing"
)

func TestContentExpert(t *testing.T) {
	ids := []string{"a", "b", "c", "d"}
	texts := []string{"gold ring with pearl", "gold ring", "silver watch", "pearl necklace"}
	c := NewContent(ids, texts)
	tests := []struct {
		name    string
		history []string
		best    string // the top hit
		none    string // an id with no hit
	}{
		{"shared words", []string{"b"}, "a", "c"},           // gold ring
		{"latest weighs most", []string{"c", "d"}, "a", ""}, // pearl (d is the latest) before watch
		{"no history", nil, "", ""},
		{"unknown history", []string{"zz"}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hits, err := c.Expert().Hits(context.Background(), Query{History: tc.history})
			if err != nil {
				t.Fatal(err)
			}
			if tc.best == "" {
				if len(hits) != 0 {
					t.Fatalf("hits %v, want none", hits)
				}
				return
			}
			best := Hit{}
			for _, h := range hits {
				if h.Score <= 0 {
					t.Fatalf("hit %v with score ≤ 0", h)
				}
				if h.ID == tc.none {
					t.Fatalf("%s has no word in common, yet %v", tc.none, h)
				}
				if h.Score > best.Score && !slices.Contains(tc.history, h.ID) { // the engine excludes the history
					best = h
				}
			}
			if best.ID != tc.best {
				t.Fatalf("best %v of %v, want %s", best, hits, tc.best)
			}
		})
	}
}
