package bench

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/neo-search/neo/onnx"
)

func TestTrie(t *testing.T) {
	res, err := Trie(TrieOptions{Items: 3000, Types: 3, Levels: 2, Codebook: 16, FilterSelectivity: 0.1, Paths: 200, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Items != 3000 || res.Steps != 200*4 || res.TrieBytes <= 0 {
		t.Fatalf("result %+v", res)
	}
	// the walk is allocation-free: one allocation per step would read 1
	if res.AllocsPerStep > 0.05 {
		t.Fatalf("allocs per step %v", res.AllocsPerStep)
	}
	if _, err := Trie(TrieOptions{Items: 10, Types: 1, Levels: 1, Codebook: 1, FilterSelectivity: 0.5, Paths: 1}); err == nil {
		t.Fatal("codebook 1: no error")
	}
}

func TestDecode(t *testing.T) {
	if _, err := onnx.FindLibrary(""); err != nil {
		t.Skip("onnxruntime library not found: ", err)
	}
	var prof bytes.Buffer
	res, err := Decode(context.Background(), DecodeOptions{
		Model: filepath.Join("..", "..", "testdata", "model"), Data: filepath.Join("..", "..", "testdata", "demo"),
		Requests: 3, K: 5, Beam: 5, CPUProfile: &prof,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.SearchMsP50 <= 0 || res.ProcessorSteps == 0 || res.ProcessorShare <= 0 || res.ProcessorShare > 1 {
		t.Fatalf("result %+v", res)
	}
	// the committed model has search weights, so fusion is timed too
	if res.Fusion == nil || res.SearchFusionMsP50 <= 0 {
		t.Fatalf("no fusion timings: %+v", res)
	}
	if res.AllocsPerStep > 0.05 {
		t.Fatalf("processor allocs per step %v", res.AllocsPerStep)
	}
	if prof.Len() == 0 {
		t.Fatal("no CPU profile written")
	}
}
