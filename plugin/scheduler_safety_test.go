package plugin

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neo-search/neo/onnx"
)

// TestSchedulerSafety drives the real scheduler as concurrent requests
// do: beam requests (several rows, reordered between steps), sampling
// requests (one row, beginSampling/stepSampled) and requests cancelled
// midway, with merging on so that steps of different requests share runs
// through onnx.Concat and Split. After every step each request checks its
// rows' logits against its own recomputation of the whole sequence, alone:
// a KV buffer shared by two live states, a row handed to the wrong request,
// or a buffer written after it went back to the pool shows up as a
// mismatch. Run it under -race to catch data races too.
//
// $NEO_SAFETY_REQUESTS sets the number of requests (default 48).
func TestSchedulerSafety(t *testing.T) {
	m := tinyModel(t)
	v := int32(m.Vocab())
	var runs, jobs atomic.Int64
	onBatch := func(rows int) { runs.Add(1) }
	s := newScheduler(m, 64, 64, 4096, 200*time.Microsecond, onBatch)
	defer s.close()
	requests := 48
	if n, err := strconv.Atoi(os.Getenv("NEO_SAFETY_REQUESTS")); err == nil && n > 0 {
		requests = n
	}

	var wg sync.WaitGroup
	errs := make(chan error, requests)
	var cancelled atomic.Int64
	for r := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			kind := r % 3 // 0 beam, 1 sampling, 2 beam cancelled midway
			rows := 1
			if kind != 1 {
				rows = 2 + rng.IntN(4)
			}
			seqs := make([][]int32, rows)
			for i := range seqs {
				for range 3 + rng.IntN(8) {
					seqs[i] = append(seqs[i], rng.Int32N(v))
				}
			}
			jobs.Add(1)
			st, err := s.prefill(ctx, clone2(seqs))
			if err != nil {
				errs <- err
				return
			}
			if kind == 1 {
				s.beginSampling()
				defer s.endSampling()
			}
			defer func() {
				if st != nil {
					st.Close()
				}
			}()
			if err := checkRows(m, st, seqs); err != nil {
				errs <- err
				return
			}
			for step := range 6 {
				if kind == 2 && step == 3 {
					cancel()
				}
				if rows > 1 {
					order := make([]int, rows)
					for i := range order {
						order[i] = rng.IntN(rows) // beams die and fork
					}
					if err := st.Reorder(order); err != nil {
						errs <- err
						return
					}
					next := make([][]int32, rows)
					for i, o := range order {
						next[i] = seqs[o]
					}
					seqs = clone2(next)
				}
				toks := make([]int32, rows)
				for i := range toks {
					toks[i] = rng.Int32N(v)
				}
				jobs.Add(1)
				if kind == 1 {
					st, err = s.stepSampled(ctx, st, toks[0])
				} else {
					st, err = s.step(ctx, st, toks)
				}
				if err != nil {
					if kind == 2 && errors.Is(err, context.Canceled) {
						cancelled.Add(1)
						if st == nil {
							errs <- errors.New("a cancelled step handed back no state to close")
						}
						return
					}
					errs <- err
					return
				}
				for i := range seqs {
					seqs[i] = append(seqs[i], toks[i])
				}
				if err := checkRows(m, st, seqs); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if runs.Load() >= jobs.Load() {
		t.Errorf("%d runs for %d jobs: no two requests shared a run, so Concat/Split went untested", runs.Load(), jobs.Load())
	}
	if cancelled.Load() == 0 {
		t.Error("no request saw its cancellation: the cancelled path went untested")
	}
	if s.depth() != 0 {
		t.Errorf("%d jobs left in the queue", s.depth())
	}
	t.Logf("%d requests, %d jobs in %d runs, %d cancelled", requests, jobs.Load(), runs.Load(), cancelled.Load())
}

// checkRows compares every row of st with a recomputation of its sequence
// alone (prefill of the whole sequence, no cache).
func checkRows(m *onnx.Model, st *onnx.State, seqs [][]int32) error {
	if st.Rows() != len(seqs) {
		return fmt.Errorf("state has %d rows, want %d", st.Rows(), len(seqs))
	}
	for i, seq := range seqs {
		ref, err := m.Prefill([][]int32{seq})
		if err != nil {
			return err
		}
		got, want := st.Logits(i), ref.Logits(0)
		diff := 0.0
		for j := range want {
			diff = math.Max(diff, math.Abs(float64(got[j]-want[j])))
		}
		ref.Close()
		if diff > 1e-3 {
			return fmt.Errorf("row %d differs from its recomputation by %.3g", i, diff)
		}
	}
	return nil
}

func clone2(seqs [][]int32) [][]int32 {
	out := make([][]int32, len(seqs))
	for i, s := range seqs {
		out[i] = append([]int32(nil), s...)
	}
	return out
}

// tinyModel loads onnx/testdata/tiny (random weights, vocabulary 256).
func tinyModel(t *testing.T) *onnx.Model {
	t.Helper()
	if _, err := onnx.FindLibrary(""); err != nil {
		t.Skip("onnxruntime library not found (run scripts/install-onnxruntime.sh): ", err)
	}
	m, err := onnx.Load(filepath.Join("..", "onnx", "testdata", "tiny"), onnx.Config{IntraOpThreads: 1, InterOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}
