package plugin

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/neo-search/neo/onnx"
)

// TestStepRefusedKeepsState checks that a step the scheduler refuses
// (queue full, closed, request cancelled) hands the caller's state back,
// so the caller still closes it and its KV buffers return to the pool.
func TestStepRefusedKeepsState(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name     string
		maxQueue int
		closed   bool
		ctx      context.Context
		want     error
	}{
		{"queue full", 0, false, context.Background(), ErrOverloaded},
		{"closed", 4, true, context.Background(), ErrNotReady},
		{"cancelled", 4, false, cancelled, context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newScheduler(nil, 4, 4, tc.maxQueue, 0, nil)
			defer s.close()
			if tc.closed {
				s.close()
			}
			st := new(onnx.State)
			got, err := s.step(tc.ctx, st, []int32{1})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if got != st {
				t.Fatalf("state %p handed back, want the caller's %p", got, st)
			}
		})
	}
}

func TestTake(t *testing.T) {
	step := func(rows int) *job { return &job{toks: make([]int32, rows)} }
	pre := func(rows int) *job { return &job{prefill: make([][]int32, rows)} }
	s10a, s10b, s1a, s1b, s1c := step(10), step(10), step(1), step(1), step(1)
	p1a, p1b, p1c, p1d := pre(1), pre(1), pre(1), pre(1)
	tests := []struct {
		name             string
		pending          []*job
		idle, max, merge int
		batch, rest      []*job
	}{
		{"beam steps run alone", []*job{s10a, s10b}, 0, 256, 16, []*job{s10a}, []*job{s10b}},
		{"small steps merge", []*job{s1a, s1b, s1c}, 0, 256, 16, []*job{s1a, s1b, s1c}, nil},
		{"merge cap", []*job{s1a, s1b, s1c}, 0, 256, 2, []*job{s1a, s1b}, []*job{s1c}},
		{"an oversized job still runs", []*job{step(40)}, 0, 16, 16, nil, nil},
		{"kinds do not mix", []*job{p1a, s1a, p1b}, 0, 256, 16, []*job{p1a, p1b}, []*job{s1a}},
		{"prefills merge up to maxBatch", []*job{p1a, p1b, p1c, p1d}, 0, 3, 1, []*job{p1a, p1b, p1c}, []*job{p1d}},
		{"idle worker gets half", []*job{p1a, p1b, p1c, p1d}, 1, 256, 16, []*job{p1a, p1b}, []*job{p1c, p1d}},
		{"two idle workers, odd count", []*job{s1a, s1b, s1c}, 2, 256, 16, []*job{s1a}, []*job{s1b, s1c}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			batch, rest := take(tc.pending, tc.idle, tc.max, tc.merge)
			if tc.batch == nil && tc.rest == nil { // single oversized job
				if len(batch) != 1 || len(rest) != 0 {
					t.Fatalf("got %d in batch, %d left; want the job alone", len(batch), len(rest))
				}
				return
			}
			if !slices.Equal(batch, tc.batch) || !slices.Equal(rest, tc.rest) {
				t.Fatalf("batch %d jobs, rest %d jobs; want %d, %d", len(batch), len(rest), len(tc.batch), len(tc.rest))
			}
		})
	}
}

func TestShouldWait(t *testing.T) {
	step := func(rows int) *job { return &job{toks: make([]int32, rows)} }
	pre := &job{prefill: [][]int32{{1}}}
	tests := []struct {
		name             string
		pending          []*job
		samplers, queued int64
		mergeRows        int
		wait             time.Duration
		closed           bool
		want             bool
	}{
		{"a sampler is choosing its token", []*job{step(1)}, 2, 1, 16, time.Millisecond, false, true},
		{"alone: nobody else will come", []*job{step(1)}, 1, 1, 16, time.Millisecond, false, false},
		{"every sampler already queued or running", []*job{step(1), step(1)}, 3, 3, 16, time.Millisecond, false, false},
		{"batch full", []*job{step(10), step(6)}, 5, 2, 16, time.Millisecond, false, false},
		{"prefill at the head", []*job{pre, step(1)}, 4, 1, 16, time.Millisecond, false, false},
		{"waiting off", []*job{step(1)}, 4, 1, 16, -1, false, false},
		{"closed", []*job{step(1)}, 4, 1, 16, time.Millisecond, true, false},
		{"nothing pending", nil, 4, 0, 16, time.Millisecond, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &scheduler{mergeRows: tc.mergeRows, mergeWait: tc.wait, pending: tc.pending, closed: tc.closed}
			s.samplers.Store(tc.samplers)
			s.samplerJobs.Store(tc.queued)
			if got := s.shouldWait(); got != tc.want {
				t.Fatalf("shouldWait = %v, want %v", got, tc.want)
			}
		})
	}
}
