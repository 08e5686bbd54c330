package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neo-search/neo/internal/bench"
	"github.com/neo-search/neo/onnx"
)

// TestBenchServe runs `neo bench serve` briefly against each endpoint and
// checks the JSON it prints: every level answered without errors and
// measured its CPU use, the BM25 anchor was measured, and bad flags are
// refused.
func TestBenchServe(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the demo server")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(root, "testdata", "model")
	if _, err := os.Stat(filepath.Join(model, "model.onnx")); err != nil {
		t.Fatalf("demo model: %v", err)
	}
	if _, err := onnx.FindLibrary(""); err != nil {
		t.Skip("onnxruntime library not found (run scripts/install-onnxruntime.sh): ", err)
	}
	common := []string{"--model", model, "--demo", filepath.Join(root, "testdata", "demo"),
		"--concurrency", "1,3", "--requests", "6", "--warmup", "1", "--json"}
	for _, ep := range []string{"search", "recommend", "generate"} {
		t.Run(ep, func(t *testing.T) {
			out, code := captureStdout(t, func() int {
				return benchServe(append(common[:len(common):len(common)], "--endpoint", ep, "--gen-tokens", "8"))
			})
			if code != 0 {
				t.Fatalf("exit %d, output %s", code, out)
			}
			var res bench.ServeResult
			if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &res); err != nil {
				t.Fatalf("output is not one JSON object: %v\n%s", err, out)
			}
			if res.Endpoint != ep || len(res.Levels) != 2 {
				t.Fatalf("endpoint %q, %d levels, want %q and 2", res.Endpoint, len(res.Levels), ep)
			}
			for _, l := range res.Levels {
				if l.Errors != 0 || l.Requests != 6 || l.RPS <= 0 || l.P50Ms <= 0 || l.CPUPct <= 0 {
					t.Errorf("level %+v: want 6 requests, no errors, rps, p50 and cpu_pct > 0 (first error %q)", l, res.FirstError)
				}
			}
			if res.BM25P50Ms <= 0 {
				t.Errorf("bm25_p50_ms %v, want > 0", res.BM25P50Ms)
			}
		})
	}
	t.Run("bad endpoint", func(t *testing.T) {
		_, code := captureStdout(t, func() int {
			return benchServe(append(common[:len(common):len(common)], "--endpoint", "explain"))
		})
		if code != 2 {
			t.Fatalf("exit %d, want 2", code)
		}
	})
}
