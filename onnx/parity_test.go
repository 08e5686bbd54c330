package onnx

import (
	"os"
	"path/filepath"
	"testing"
)

const parityTol = 1e-4

// TestParity checks onnxruntime against the PyTorch logits recorded by
// exporter/py/export.py: after a batched prefill of prompts of unequal
// length and after every greedy decode step with the KV cache. It then
// checks that decoding with the cache matches recomputing the whole
// sequence without one.
func TestParity(t *testing.T) {
	dirs := []string{parityDir()}
	// the committed demo model carries its own fixture from training, and
	// a model exported without the graph passes must decode the same
	if *modelFlag == "" && os.Getenv("NEO_PARITY_MODEL") == "" {
		dirs = append(dirs, tinyNoKeepDir)
		if _, err := os.Stat(filepath.Join(demoDir, "parity.json")); err == nil {
			dirs = append(dirs, demoDir)
		}
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) { testParity(t, dir) })
	}
}

// demoDir is the demo model trained by `neo train --preset demo`.
const demoDir = "../testdata/model"

func testParity(t *testing.T, dir string) {
	m := loadModel(t, dir)
	f := loadFixture(t, dir)
	if m.Vocab() != f.Vocab {
		t.Fatalf("model vocab %d, fixture %d", m.Vocab(), f.Vocab)
	}
	t.Logf("model %s: %+v", dir, m.Dims())

	s, err := m.Prefill(f.Prompts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows := len(f.Prompts)
	worst := 0.0
	cached := make([][][]float32, f.Steps+1) // [entry][row] full logits
	for e := 0; e <= f.Steps; e++ {
		toks := make([]int32, rows)
		for r := 0; r < rows; r++ {
			got := s.Logits(r)
			cached[e] = append(cached[e], append([]float32(nil), got...))
			d := maxAbsDiff(f.pick(got), f.logits[e][r])
			worst = max(worst, d)
			if d > parityTol {
				t.Errorf("entry %d (0 = prefill) row %d: max |onnxruntime - torch| = %g > %g", e, r, d, parityTol)
			}
			if e < f.Steps {
				toks[r] = f.Tokens[r][e]
				if g := argmax(got); int32(g) != toks[r] && got[g]-got[toks[r]] > parityTol {
					t.Errorf("entry %d row %d: greedy token %d, torch chose %d", e, r, g, toks[r])
				}
			}
		}
		if e < f.Steps {
			if err := m.Step(s, toks); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("parity: max abs diff %.3g over prefill + %d steps, %d rows", worst, f.Steps, rows)

	// Same sequences, recomputed in one pass without a cache (left-padded
	// batch, Forward with past=nil): logits at every prefix must match the
	// cached decode, so the greedy tokens are the same.
	var full [][]int32
	l := 0
	for r := 0; r < rows; r++ {
		q := append(append([]int32(nil), f.Prompts[r]...), f.Tokens[r]...)
		full = append(full, q)
		l = max(l, len(q))
	}
	ids := make([]int64, rows*l)
	pos := make([]int64, rows*l)
	mask := make([]int64, rows*l)
	for r, q := range full {
		pad := l - len(q)
		for j, tok := range q {
			ids[r*l+pad+j], pos[r*l+pad+j], mask[r*l+pad+j] = int64(tok), int64(j), 1
		}
	}
	logits, st, err := m.Forward(ids, mask, pos, rows, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v := m.Vocab()
	worst = 0
	for r := 0; r < rows; r++ {
		pad := l - len(full[r])
		for e := 0; e <= f.Steps; e++ {
			at := pad + len(f.Prompts[r]) + e - 1
			row := logits[(r*l+at)*v : (r*l+at+1)*v]
			d := maxAbsDiff(row, cached[e][r])
			worst = max(worst, d)
			if d > parityTol {
				t.Errorf("row %d entry %d: cached decode vs full recompute differ by %g", r, e, d)
			}
			if e < f.Steps && argmax(row) != argmax(cached[e][r]) {
				t.Errorf("row %d step %d: greedy token %d without cache, %d with", r, e, argmax(row), argmax(cached[e][r]))
			}
		}
	}
	t.Logf("cache vs recompute: max abs diff %.3g", worst)
}
