package plugin

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/neo-search/neo/onnx"
)

// scheduler is the dynamic batcher: requests hand it prefill and decode
// steps, and one worker per core takes the waiting ones (see take for
// which run together) into one onnxruntime call. Rows of different
// requests have different lengths; onnx.Concat pads them to one length and
// Split gives each request its rows back. A decode step waits up to
// mergeWait for sampling requests that are choosing their next token (see
// shouldWait), so that one-row steps run together instead of one by one.
type scheduler struct {
	m         *onnx.Model
	maxBatch  int // rows per prefill run
	mergeRows int // rows per step run that merges requests
	maxQueue  int
	mergeWait time.Duration // longest a step waits for sampling requests about to step
	onBatch   func(int)

	// Sampling requests step one row at a time, and a one-row run costs
	// about four times a row's share of a batched run (BenchmarkStep:
	// 174–198 µs against about 46 µs per row at 10 rows). samplers counts the
	// sampling requests between prefill and their last step; samplerJobs
	// their step jobs queued or running. The difference are requests busy
	// choosing their next token, which a step may wait a little for.
	samplers    atomic.Int64
	samplerJobs atomic.Int64

	mu      sync.Mutex
	cond    *sync.Cond
	pending []*job
	idle    int // workers waiting for jobs
	closed  bool
	wg      sync.WaitGroup
}

type job struct {
	ctx     context.Context
	prefill [][]int32   // prefill job: prompts
	st      *onnx.State // step job: the state to advance
	toks    []int32
	sampler bool // a sampling request's one-row step (beginSampling)
	done    chan result
}

type result struct {
	st  *onnx.State
	err error
}

func newScheduler(m *onnx.Model, maxBatch, mergeRows, maxQueue int, mergeWait time.Duration, onBatch func(int)) *scheduler {
	s := &scheduler{m: m, maxBatch: maxBatch, mergeRows: mergeRows, maxQueue: maxQueue, mergeWait: mergeWait, onBatch: onBatch}
	s.cond = sync.NewCond(&s.mu)
	workers := max(1, runtime.GOMAXPROCS(0))
	for i := 0; i < workers; i++ {
		s.wg.Add(1)
		go s.work()
	}
	return s
}

func (s *scheduler) depth() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

func (s *scheduler) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cond.Broadcast()
	s.wg.Wait()
}

func (s *scheduler) submit(j *job) (*onnx.State, error) {
	if err := j.ctx.Err(); err != nil {
		return j.st, err
	}
	j.done = make(chan result, 1)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return j.st, ErrNotReady
	}
	if len(s.pending) >= s.maxQueue {
		s.mu.Unlock()
		return j.st, ErrOverloaded
	}
	if j.sampler {
		s.samplerJobs.Add(1)
	}
	s.pending = append(s.pending, j)
	s.mu.Unlock()
	s.cond.Broadcast() // wake an idle worker, or one waiting to merge this job
	r := <-j.done
	return r.st, r.err
}

// beginSampling and endSampling bracket a sampling request's decode loop
// (after its prefill), so steps know it will soon ask for another.
func (s *scheduler) beginSampling() { s.samplers.Add(1) }
func (s *scheduler) endSampling()   { s.samplers.Add(-1) }

// stepSampled advances a sampling request's one-row state (see step).
func (s *scheduler) stepSampled(ctx context.Context, st *onnx.State, tok int32) (*onnx.State, error) {
	return s.submit(&job{ctx: ctx, st: st, toks: []int32{tok}, sampler: true})
}

// shouldWait reports, under mu, whether the step at the head of the queue
// should wait for sampling requests that are choosing their next token:
// there is room for their rows and mergeWait allows it. Alone (one
// request in flight) nothing is expected, so nothing waits.
func (s *scheduler) shouldWait() bool {
	if s.closed || s.mergeWait <= 0 || len(s.pending) == 0 || s.pending[0].prefill != nil {
		return false
	}
	rows := 0
	for _, j := range s.pending {
		if j.prefill == nil {
			rows += j.rows()
		}
	}
	return rows < s.mergeRows && s.samplers.Load() > s.samplerJobs.Load()
}

// waitForStragglers waits, under mu, until shouldWait turns false or
// mergeWait has passed. It counts as idle, so a worker that takes the
// jobs meanwhile still shares them out.
func (s *scheduler) waitForStragglers() {
	if !s.shouldWait() {
		return
	}
	deadline := time.Now().Add(s.mergeWait)
	// One timer wakes the worker at the deadline; new jobs wake it before
	// (submit broadcasts). Its Lock cannot pass before the worker is in Wait.
	t := time.AfterFunc(s.mergeWait, func() {
		s.mu.Lock()
		s.mu.Unlock()
		s.cond.Broadcast()
	})
	defer t.Stop()
	for s.shouldWait() && time.Now().Before(deadline) {
		s.idle++
		s.cond.Wait()
		s.idle--
	}
}

// prefill runs the prompts and returns a state with one row per prompt.
func (s *scheduler) prefill(ctx context.Context, prompts [][]int32) (*onnx.State, error) {
	return s.submit(&job{ctx: ctx, prefill: prompts})
}

// step advances st by one token per row. The returned state replaces st
// (st itself must not be used afterwards).
func (s *scheduler) step(ctx context.Context, st *onnx.State, toks []int32) (*onnx.State, error) {
	return s.submit(&job{ctx: ctx, st: st, toks: toks})
}

func (s *scheduler) work() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		for len(s.pending) == 0 && !s.closed {
			s.idle++
			s.cond.Wait()
			s.idle--
		}
		if len(s.pending) == 0 && s.closed {
			s.mu.Unlock()
			return
		}
		s.waitForStragglers()
		if len(s.pending) == 0 {
			s.mu.Unlock()
			continue // another worker took them
		}
		batch, rest := take(s.pending, s.idle, s.maxBatch, s.mergeRows)
		s.pending = rest
		more := len(rest) > 0 && s.idle > 0
		s.mu.Unlock()
		if more {
			s.cond.Signal()
		}
		if batch[0].prefill != nil {
			s.runPrefill(batch)
		} else {
			s.runStep(batch)
		}
	}
}

// take picks the next batch from the queue: jobs of the first job's kind
// (prefill or step), in queue order, and returns it with the jobs left.
//
// Prefills merge up to maxBatch rows. Steps merge only up to mergeRows:
// merging steps costs a copy of every row's KV cache into the batch and
// back out (onnx.Concat, Split), and on a CPU a step costs the same per
// row from about ten rows up (BenchmarkStep), so a beam-search request
// steps alone while single-row sampling requests share runs. With intra-op
// threads at 1 a batch runs on one core, so when idle workers wait, the
// rows are shared out among them rather than put in one big batch.
func take(pending []*job, idle, maxBatch, mergeRows int) (batch, rest []*job) {
	kindPrefill := pending[0].prefill != nil
	limit := maxBatch
	if !kindPrefill {
		limit = min(limit, mergeRows)
	}
	if idle > 0 {
		total := 0
		for _, j := range pending {
			if (j.prefill != nil) == kindPrefill {
				total += j.rows()
			}
		}
		limit = min(limit, (total+idle)/(idle+1))
	}
	rows := 0
	for _, j := range pending {
		n := j.rows()
		if (j.prefill != nil) == kindPrefill && (len(batch) == 0 || rows+n <= limit) {
			batch = append(batch, j)
			rows += n
		} else {
			rest = append(rest, j)
		}
	}
	return batch, rest
}

func (j *job) rows() int {
	if j.prefill != nil {
		return len(j.prefill)
	}
	return len(j.toks)
}

// answer hands a job its result. A sampling request counts as choosing
// its next token from here on (shouldWait).
func (s *scheduler) answer(j *job, r result) {
	if j.sampler {
		s.samplerJobs.Add(-1)
	}
	j.done <- r
}

// live drops cancelled jobs from a batch, answering them.
func (s *scheduler) live(batch []*job) []*job {
	out := batch[:0]
	for _, j := range batch {
		if err := j.ctx.Err(); err != nil {
			s.answer(j, result{st: j.st, err: err})
			continue
		}
		out = append(out, j)
	}
	return out
}

func (s *scheduler) runPrefill(batch []*job) {
	batch = s.live(batch)
	if len(batch) == 0 {
		return
	}
	var seqs [][]int32
	sizes := make([]int, len(batch))
	for i, j := range batch {
		seqs = append(seqs, j.prefill...)
		sizes[i] = len(j.prefill)
	}
	if s.onBatch != nil {
		s.onBatch(len(seqs))
	}
	st, err := s.m.Prefill(seqs)
	if err != nil {
		for _, j := range batch {
			s.answer(j, result{err: err})
		}
		return
	}
	if len(batch) == 1 {
		s.answer(batch[0], result{st: st})
		return
	}
	parts, err := st.Split(sizes...)
	st.Close()
	for i, j := range batch {
		if err != nil {
			s.answer(j, result{err: err})
			continue
		}
		s.answer(j, result{st: parts[i]})
	}
}

func (s *scheduler) runStep(batch []*job) {
	batch = s.live(batch)
	if len(batch) == 0 {
		return
	}
	if len(batch) == 1 {
		j := batch[0]
		if s.onBatch != nil {
			s.onBatch(len(j.toks))
		}
		err := s.m.Step(j.st, j.toks)
		s.answer(j, result{st: j.st, err: err})
		return
	}
	states := make([]*onnx.State, len(batch))
	sizes := make([]int, len(batch))
	var toks []int32
	for i, j := range batch {
		states[i] = j.st
		sizes[i] = len(j.toks)
		toks = append(toks, j.toks...)
	}
	if s.onBatch != nil {
		s.onBatch(len(toks))
	}
	merged, err := onnx.Concat(states...)
	if err == nil {
		err = s.m.Step(merged, toks)
	}
	var parts []*onnx.State
	if err == nil {
		parts, err = merged.Split(sizes...)
	}
	if merged != nil {
		merged.Close()
	}
	for i, j := range batch {
		if err != nil {
			s.answer(j, result{st: j.st, err: err})
			continue
		}
		j.st.Close()
		s.answer(j, result{st: parts[i]})
	}
}
