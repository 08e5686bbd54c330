package onnx

import (
	"fmt"
	"path/filepath"
	"testing"
)

// seqs of the tests: unequal lengths, ids below the tiny model's vocab.
func testSeqs() [][]int32 {
	return [][]int32{
		{5, 17, 200, 33, 9},
		{101, 7},
		{64, 3, 3, 250, 12, 99, 1, 42},
	}
}

func appendTok(seqs [][]int32, toks []int32) [][]int32 {
	out := make([][]int32, len(seqs))
	for i := range seqs {
		out[i] = append(append([]int32(nil), seqs[i]...), toks[i])
	}
	return out
}

// checkRows compares every row's logits with a recomputation of seqs.
func checkRows(t *testing.T, what string, m *Model, s *State, seqs [][]int32) {
	t.Helper()
	if s.Rows() != len(seqs) {
		t.Fatalf("%s: %d rows, want %d", what, s.Rows(), len(seqs))
	}
	want := prefillLogits(t, m, seqs)
	for r := range seqs {
		if d := maxAbsDiff(s.Logits(r), want[r]); d > parityTol {
			t.Errorf("%s: row %d differs from recomputation by %g", what, r, d)
		}
		if got := s.NextPos(r); got != int64(len(seqs[r])) {
			t.Errorf("%s: row %d next position %d, want %d", what, r, got, len(seqs[r]))
		}
	}
}

func TestPrefillStep(t *testing.T) {
	for _, dir := range []string{tinyDir, tinyNoKeepDir} {
		t.Run(filepath.Base(dir), func(t *testing.T) { testPrefillStep(t, dir) })
	}
}

func testPrefillStep(t *testing.T, dir string) {
	m := loadModel(t, dir)
	seqs := testSeqs()
	s, err := m.Prefill(seqs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Len() != 8 || s.Rows() != 3 {
		t.Fatalf("Len %d Rows %d, want 8 and 3", s.Len(), s.Rows())
	}
	if mask := s.Mask(1); mask[5] != 0 || mask[6] != 1 {
		t.Fatalf("row 1 mask %v, want left padding", mask)
	}
	checkRows(t, "prefill", m, s, seqs)
	if err := s.Reserve(2); err != nil { // then grows on demand for the third step
		t.Fatal(err)
	}
	for i, toks := range [][]int32{{1, 2, 3}, {40, 41, 42}, {0, 255, 128}} {
		if err := m.Step(s, toks); err != nil {
			t.Fatal(err)
		}
		seqs = appendTok(seqs, toks)
		if s.Len() != 9+i {
			t.Fatalf("Len %d after step %d", s.Len(), i)
		}
		checkRows(t, "step", m, s, seqs)
	}
}

func TestChunkedPrefill(t *testing.T) {
	for _, dir := range []string{tinyDir, tinyNoKeepDir} {
		t.Run(filepath.Base(dir), func(t *testing.T) { testChunkedPrefill(t, dir) })
	}
}

func testChunkedPrefill(t *testing.T, dir string) {
	m := loadModel(t, dir)
	// A long batch that does not fit one prefill run: chunks go through the
	// cache and must give the same logits as the batch of one.
	var seqs [][]int32
	for r := 0; r < 5; r++ {
		var q []int32
		for j := 0; j < 40+7*r; j++ {
			q = append(q, int32((j*31+r*7)%256))
		}
		seqs = append(seqs, q)
	}
	defer func(b int) { prefillBudget = b }(prefillBudget)
	prefillBudget = len(seqs) * m.Vocab() * 16 // chunks of 16 positions
	s, err := m.Prefill(seqs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkRows(t, "chunked prefill", m, s, seqs)
}

func TestReorder(t *testing.T) {
	m := loadModel(t, tinyDir)
	seqs := testSeqs()
	s, err := m.Prefill(seqs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	toks := []int32{10, 20, 30}
	if err := m.Step(s, toks); err != nil {
		t.Fatal(err)
	}
	seqs = appendTok(seqs, toks)

	// Beam-search style: duplicate, drop and permute rows (3 -> 4 rows).
	order := []int{2, 0, 0, 1}
	before := make([][]float32, s.Rows())
	for r := range before {
		before[r] = append([]float32(nil), s.Logits(r)...)
	}
	if err := s.Reorder(order); err != nil {
		t.Fatal(err)
	}
	var re [][]int32
	for i, r := range order {
		re = append(re, seqs[r])
		if d := maxAbsDiff(s.Logits(i), before[r]); d != 0 {
			t.Errorf("logits of new row %d are not old row %d's", i, r)
		}
	}
	toks = []int32{1, 2, 3, 4}
	if err := m.Step(s, toks); err != nil {
		t.Fatal(err)
	}
	re = appendTok(re, toks)
	checkRows(t, "after reorder", m, s, re)

	// Shrink to one row, then fan out again.
	if err := s.Reorder([]int{3}); err != nil {
		t.Fatal(err)
	}
	if err := s.Reorder([]int{0, 0}); err != nil {
		t.Fatal(err)
	}
	toks = []int32{7, 8}
	if err := m.Step(s, toks); err != nil {
		t.Fatal(err)
	}
	checkRows(t, "after fan-out", m, s, appendTok([][]int32{re[3], re[3]}, toks))

	if err := s.Reorder([]int{0, 2}); err == nil {
		t.Error("Reorder with an out-of-range row succeeded")
	}
}

func TestConcatSplit(t *testing.T) {
	m := loadModel(t, tinyDir)
	sa := [][]int32{{5, 6, 7}, {8, 9, 10, 11, 12}}
	sb := [][]int32{{100, 101, 102, 103, 104, 105, 106, 107, 108}}
	a, err := m.Prefill(sa)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := m.Prefill(sb)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := m.Step(b, []int32{50}); err != nil {
		t.Fatal(err)
	}
	sb = appendTok(sb, []int32{50})

	c, err := Concat(a, b)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Rows() != 3 || c.Len() != b.Len() {
		t.Fatalf("concat: rows %d len %d, want 3 and %d", c.Rows(), c.Len(), b.Len())
	}
	all := append(append([][]int32(nil), sa...), sb...)
	checkRows(t, "concat", m, c, all)
	toks := []int32{1, 2, 3}
	if err := m.Step(c, toks); err != nil {
		t.Fatal(err)
	}
	all = appendTok(all, toks)
	checkRows(t, "concat+step", m, c, all)

	parts, err := c.Split(2, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		defer p.Close()
	}
	// a had length 5; one step later 6 (the padding Concat added is gone).
	if parts[0].Len() != a.Len()+1 || parts[1].Len() != b.Len()+1 {
		t.Errorf("split lengths %d, %d; want %d, %d", parts[0].Len(), parts[1].Len(), a.Len()+1, b.Len()+1)
	}
	checkRows(t, "split[0]", m, parts[0], all[:2])
	checkRows(t, "split[1]", m, parts[1], all[2:])
	for i, p := range parts {
		toks := []int32{60, 61}[:p.Rows()]
		if err := m.Step(p, toks); err != nil {
			t.Fatal(err)
		}
		want := all[:2]
		if i == 1 {
			want = all[2:]
		}
		checkRows(t, "split+step", m, p, appendTok(want, toks))
	}

	if _, err := c.Split(1, 1); err == nil {
		t.Error("Split with sizes not adding up succeeded")
	}
	if _, err := Concat(); err == nil {
		t.Error("Concat() succeeded")
	}
}

func TestStateErrors(t *testing.T) {
	m := loadModel(t, tinyDir)
	if _, err := m.Prefill(nil); err == nil {
		t.Error("Prefill(nil) succeeded")
	}
	if _, err := m.Prefill([][]int32{{1}, {}}); err == nil {
		t.Error("Prefill with an empty sequence succeeded")
	}
	if _, err := m.Prefill([][]int32{{1, int32(m.Vocab())}}); err == nil {
		t.Error("Prefill with an out-of-vocabulary token succeeded")
	}
	s, err := m.Prefill([][]int32{{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Step(s, []int32{1, 2}); err == nil {
		t.Error("Step with too many tokens succeeded")
	}
	if err := m.Step(s, []int32{-1}); err == nil {
		t.Error("Step with a negative token succeeded")
	}
	// A failed call leaves the state usable.
	if err := m.Step(s, []int32{3}); err != nil {
		t.Fatal(err)
	}
	checkRows(t, "after errors", m, s, [][]int32{{1, 2, 3}})
	s.Close()
	s.Close()
	if err := m.Step(s, []int32{3}); err == nil {
		t.Error("Step on a closed state succeeded")
	}
	if _, _, err := m.Forward([]int64{1}, []int64{1, 1}, []int64{0}, 1, 1, nil); err == nil {
		t.Error("Forward with a mask of the wrong length succeeded")
	}
}

// TestNoTensorLeak checks that closing states releases every onnxruntime
// tensor they created, whatever operations ran.
func TestNoTensorLeak(t *testing.T) {
	m := loadModel(t, tinyDir)
	base := liveTensors.Load()
	for i := 0; i < 3; i++ {
		s, err := m.Prefill(testSeqs())
		if err != nil {
			t.Fatal(err)
		}
		m.Step(s, []int32{1, 2, 3})
		s.Reorder([]int{0, 0, 1, 2})
		m.Step(s, []int32{1, 2, 3, 4})
		c, _ := Concat(s, s)
		parts, _ := c.Split(4, 4)
		m.Step(parts[1], []int32{5, 6, 7, 8})
		m.Step(s, []int32{1}) // error path
		for _, x := range append(parts, s, c) {
			x.Close()
		}
		_, st, err := m.Forward([]int64{1, 2}, []int64{1, 1}, []int64{0, 1}, 1, 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
	if n := liveTensors.Load() - base; n != 0 {
		t.Fatalf("%d tensors leaked", n)
	}
}

// TestConcurrentStates decodes on one shared Model from several goroutines,
// each with its own State.
func TestConcurrentStates(t *testing.T) {
	m := loadModel(t, tinyDir)
	want := make([][]float32, 4)
	run := func(g int) ([]float32, error) {
		seqs := [][]int32{{int32(g + 1), 2, 3}, {9, int32(g + 10)}}
		s, err := m.Prefill(seqs)
		if err != nil {
			return nil, err
		}
		defer s.Close()
		for k := 0; k < 6; k++ {
			toks := []int32{int32(argmax(s.Logits(0))), int32(argmax(s.Logits(1)))}
			if err := m.Step(s, toks); err != nil {
				return nil, err
			}
		}
		return append([]float32(nil), s.Logits(1)...), nil
	}
	for g := range want {
		var err error
		if want[g], err = run(g); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, len(want))
	for g := range want {
		go func() {
			got, err := run(g)
			if err == nil && maxAbsDiff(got, want[g]) > 0 {
				err = fmt.Errorf("goroutine %d: logits differ from the sequential run", g)
			}
			errs <- err
		}()
	}
	for range want {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
