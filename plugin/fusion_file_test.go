package plugin

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/neo-search/neo/plugin/prior"
)

func TestLoadFusion(t *testing.T) {
	for _, tc := range []struct {
		name    string
		file    string // "" : no fusion.json
		ok      bool
		weights map[string]prior.Weights
		agg     map[string]prior.Agg
	}{
		{name: "missing", ok: true},
		{name: "weights and agg", file: `{"search":{"bm25":256},"recommend":{"cf":1},"agg":{"search":"max"},"tuning":{"x":1}}`, ok: true,
			weights: map[string]prior.Weights{"search": {prior.BM25: 256}, "recommend": {prior.ItemKNN: 1, prior.SeqKNN: 1}},
			agg:     map[string]prior.Agg{"search": prior.Max}},
		{name: "no agg", file: `{"search":{"bm25":1}}`, ok: true, weights: map[string]prior.Weights{"search": {prior.BM25: 1}}},
		{name: "bad agg", file: `{"agg":{"search":"mean"}}`},
		{name: "agg of unknown task", file: `{"agg":{"dance":"max"}}`},
		{name: "agg not an object", file: `{"agg":"max"}`},
		{name: "bad weight", file: `{"search":{"bm25":-1}}`},
		{name: "not json", file: `{`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.file != "" {
				if err := os.WriteFile(filepath.Join(dir, FusionFile), []byte(tc.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := LoadFusion(dir)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok %v", err, tc.ok)
			}
			if !tc.ok {
				return
			}
			if len(got.Weights) != len(tc.weights) || len(got.Agg) != len(tc.agg) {
				t.Fatalf("got %+v, want %v and %v", got, tc.weights, tc.agg)
			}
			for task, w := range tc.weights {
				for k, v := range w {
					if got.Weights[task][k] != v {
						t.Fatalf("%s.%s = %v, want %v", task, k, got.Weights[task][k], v)
					}
				}
			}
			for task, a := range tc.agg {
				if got.Agg[task] != a {
					t.Fatalf("agg %s = %v, want %v", task, got.Agg[task], a)
				}
			}
		})
	}
}
