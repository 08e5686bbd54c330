package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// rawRun runs the model's graph in a session of its own with
// num_logits_to_keep = k on B rows of S tokens, empty past, and returns
// the logits and their shape.
func rawRun(t *testing.T, m *Model, B, S int, k int64) ([]float32, []int64) {
	t.Helper()
	data, err := os.ReadFile(m.path)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := ort.NewDynamicAdvancedSessionWithONNXData(data, m.inNames, m.outNames, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Destroy()
	d := m.dims
	ids := make([]int64, B*S)
	pos := make([]int64, B*S)
	mask := make([]int64, B*S)
	for r := 0; r < B; r++ {
		for j := 0; j < S; j++ {
			ids[r*S+j] = int64((r*31 + j*7) % d.Vocab)
			pos[r*S+j] = int64(j)
			mask[r*S+j] = 1
		}
	}
	var in []ort.Value
	mk := func(v []int64, sh ...int64) {
		x, err := ort.NewTensor(ort.NewShape(sh...), v)
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, x)
	}
	mk(ids, int64(B), int64(S))
	mk(mask, int64(B), int64(S))
	mk(pos, int64(B), int64(S))
	for i := 0; i < 2*d.Layers; i++ {
		x, err := ort.NewEmptyTensor[float32](ort.NewShape(int64(B), int64(d.KVHeads), 0, int64(d.HeadDim)))
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, x)
	}
	if d.KeepLogits {
		mk([]int64{k}, 1)
	}
	out := make([]ort.Value, len(m.outNames))
	if err := sess.Run(in, out); err != nil {
		t.Fatalf("k=%d B=%d S=%d: %v", k, B, S, err)
	}
	lg := out[0].(*ort.Tensor[float32])
	res := append([]float32(nil), lg.GetData()...)
	sh := append([]int64(nil), lg.GetShape()...)
	for _, v := range append(in, out...) {
		v.Destroy()
	}
	return res, sh
}

// TestKeepLogitsSemantics runs the exported graphs directly: with
// num_logits_to_keep k > 0 the logits are the last min(k, S) positions,
// with k <= 0 all S, and their values are those of the full run.
func TestKeepLogitsSemantics(t *testing.T) {
	dirs := []string{tinyDir}
	if _, err := os.Stat(filepath.Join(demoDir, ModelFile)); err == nil {
		dirs = append(dirs, demoDir)
	}
	for _, dir := range dirs {
		m := loadModel(t, dir)
		if !m.dims.KeepLogits {
			t.Fatalf("%s has no keep input", dir)
		}
		v := m.dims.Vocab
		for _, bs := range [][2]int{{1, 1}, {2, 1}, {1, 5}, {3, 4}} {
			B, S := bs[0], bs[1]
			full, fsh := rawRun(t, m, B, S, 0)
			if fsh[1] != int64(S) {
				t.Fatalf("%s k=0: shape %v", dir, fsh)
			}
			for _, k := range []int64{-1, 1, 2, int64(S), int64(S) + 1, 1 << 40} {
				got, sh := rawRun(t, m, B, S, k)
				kept := int64(S)
				if k > 0 {
					kept = min(k, int64(S))
				}
				if sh[0] != int64(B) || sh[1] != kept || sh[2] != int64(v) {
					t.Errorf("%s B=%d S=%d k=%d: shape %v, want [%d %d %d]", dir, B, S, k, sh, B, kept, v)
					continue
				}
				for r := 0; r < B; r++ {
					for j := int64(0); j < kept; j++ {
						src := full[(int64(r)*int64(S)+int64(S)-kept+j)*int64(v):][:v]
						dst := got[(int64(r)*kept+j)*int64(v):][:v]
						if d := maxAbsDiff(src, dst); d > 1e-5 {
							t.Errorf("%s B=%d S=%d k=%d row %d pos %d: diff %g", dir, B, S, k, r, j, d)
						}
					}
				}
			}
		}
		t.Logf("%s: ok", dir)
	}
}

// TestKeepLogitsCloseRace closes the model while a state steps: Close
// destroys the shared num_logits_to_keep tensors under m.mu, so runs must
// read them under it too (this failed under -race when bind read them).
func TestKeepLogitsCloseRace(t *testing.T) {
	needLib(t)
	for it := 0; it < 60; it++ {
		m, err := Load(tinyDir, Config{IntraOpThreads: 1, InterOpThreads: 1})
		if err != nil {
			t.Fatal(err)
		}
		s, err := m.Prefill([][]int32{{1, 2, 3}})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(1)
		started := make(chan struct{})
		go func() {
			defer wg.Done()
			close(started)
			for i := 0; i < 10000; i++ {
				if err := m.Step(s, []int32{4}); err != nil {
					if !errors.Is(err, ErrClosed) {
						t.Error(err)
					}
					return
				}
			}
		}()
		<-started
		time.Sleep(time.Duration(it%7) * 100 * time.Microsecond)
		m.Close()
		wg.Wait()
		s.Close()
	}
}

// TestKeepVsNoKeep: a prefill of a model with num_logits_to_keep writes
// straight into the live logits buffer through the cached [rows,1,V]
// tensor; Reorder (rows change), Step, Concat, Split and Step must then
// agree with the same model exported without the input.
func TestKeepVsNoKeep(t *testing.T) {
	mk := loadModel(t, tinyDir)
	mn := loadModel(t, tinyNoKeepDir)
	seqs := [][]int32{{5, 6, 7, 8}, {9}, {10, 11}}
	type pair struct{ a, b *State }
	track := func(p pair) pair {
		t.Cleanup(func() { p.a.Close(); p.b.Close() })
		return p
	}
	pre := func(q [][]int32) pair {
		a, err := mk.Prefill(q)
		if err != nil {
			t.Fatal(err)
		}
		b, err := mn.Prefill(q)
		if err != nil {
			t.Fatal(err)
		}
		return track(pair{a, b})
	}
	cmp := func(what string, p pair) {
		t.Helper()
		if p.a.Rows() != p.b.Rows() {
			t.Fatalf("%s: rows %d vs %d", what, p.a.Rows(), p.b.Rows())
		}
		for r := 0; r < p.a.Rows(); r++ {
			if d := maxAbsDiff(p.a.Logits(r), p.b.Logits(r)); d > 1e-5 {
				t.Fatalf("%s row %d: keep vs nokeep diff %g", what, r, d)
			}
		}
	}
	step := func(p pair, toks []int32) {
		t.Helper()
		if err := mk.Step(p.a, toks); err != nil {
			t.Fatal(err)
		}
		if err := mn.Step(p.b, toks); err != nil {
			t.Fatal(err)
		}
	}
	p := pre(seqs)
	cmp("prefill", p)
	for _, rows := range [][]int{{2, 0}, {1, 1, 0, 0, 1}, {4}, {0, 0}} {
		if err := p.a.Reorder(rows); err != nil {
			t.Fatal(err)
		}
		if err := p.b.Reorder(rows); err != nil {
			t.Fatal(err)
		}
		cmp(fmt.Sprint("reorder", rows), p)
		toks := make([]int32, p.a.Rows())
		for i := range toks {
			toks[i] = int32(3 + i)
		}
		step(p, toks)
		cmp(fmt.Sprint("step after reorder", rows), p)
	}
	q := pre([][]int32{{1}})
	ca, err := Concat(p.a, q.a)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := Concat(p.b, q.b)
	if err != nil {
		t.Fatal(err)
	}
	c := track(pair{ca, cb})
	cmp("concat", c)
	step(c, []int32{1, 2, 3})
	cmp("concat step", c)
	sa, err := c.a.Split(2, 1)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.b.Split(2, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range sa {
		x := track(pair{sa[i], sb[i]})
		step(x, make([]int32, x.a.Rows()))
		cmp("split step", x)
	}
	// single-token prompt (S=1) and a batch of one
	o := pre([][]int32{{42}})
	cmp("S=1", o)
	step(o, []int32{7})
	cmp("S=1 step", o)
}
