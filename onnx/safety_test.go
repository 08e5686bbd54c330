package onnx

// Memory-safety checks for State: every onnxruntime tensor a State keeps
// must view the Go buffer the State thinks it views, with the shape the
// next run will bind; no two live states (and no state's cur/spare pair)
// may share a KV buffer (kvPool must never hand out a buffer twice); error
// paths must neither leak nor double-release tensors; and the dynamic
// batching pattern of plugin/scheduler.go (Concat → Step → Split → Close
// on worker goroutines, Reorder on the request goroutine) must keep every
// request's cache intact under concurrency (run with -race).
//
// The model is parityDir()'s (testdata/tiny unless -model or
// $NEO_PARITY_MODEL names another, e.g. NEO_PARITY_MODEL=../testdata/model).

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// span is the byte range of a buffer's whole backing array.
type span struct {
	lo, hi uintptr
	what   string
}

func arraySpan[T any](b []T, what string) (span, bool) {
	if cap(b) == 0 {
		return span{}, false
	}
	full := b[:cap(b)]
	lo := uintptr(unsafe.Pointer(&full[0]))
	var z T
	return span{lo, lo + uintptr(cap(b))*unsafe.Sizeof(z), what}, true
}

func sameShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// stateInvariants checks one open state's tensors against its buffers and
// returns the spans of its KV buffers.
func stateInvariants(s *State) ([]span, error) {
	if s.h == nil || s.h.closed {
		return nil, errors.New("state is closed")
	}
	d := s.m.dims
	per := d.KVHeads * d.HeadDim
	var spans []span
	for i := range s.kv {
		sl := s.kv[i]
		if want := s.rows * per * s.plen; len(sl.cur) != want {
			return nil, fmt.Errorf("kv[%d].cur has length %d, want rows*Hkv*D*plen = %d", i, len(sl.cur), want)
		}
		if x := s.h.kvCur[i]; x != nil {
			data := x.GetData()
			if len(data) != len(sl.cur) || (len(data) > 0 && &data[0] != &sl.cur[0]) {
				return nil, fmt.Errorf("kvCur[%d] does not view kv[%d].cur (stale view: onnxruntime would read a buffer the state no longer owns)", i, i)
			}
			want := []int64{int64(s.rows), int64(d.KVHeads), int64(s.plen), int64(d.HeadDim)}
			if !sameShape(x.GetShape(), want) {
				return nil, fmt.Errorf("kvCur[%d] has shape %v, want %v", i, x.GetShape(), want)
			}
		}
		c, okc := arraySpan(sl.cur, fmt.Sprintf("kv[%d].cur", i))
		p, okp := arraySpan(sl.spare, fmt.Sprintf("kv[%d].spare", i))
		if okc {
			spans = append(spans, c)
		}
		if okp {
			spans = append(spans, p)
		}
	}
	// (stepIDs and logitsT need no check here: bind reuses them only when
	// views() finds them over exactly the rows*1 / rows*V buffer it is
	// about to bind, which fixes their shape.)
	for i, v := range s.inputs {
		if v != nil {
			return nil, fmt.Errorf("inputs[%d] left bound after a run", i)
		}
	}
	for i, v := range s.outputs {
		if v != nil {
			return nil, fmt.Errorf("outputs[%d] left bound after a run", i)
		}
	}
	return spans, nil
}

// checkNoSharing checks every open state and that no two KV buffers of
// open states overlap.
func checkNoSharing(states []*State) error {
	var all []span
	for k, s := range states {
		sp, err := stateInvariants(s)
		if err != nil {
			return fmt.Errorf("state %d: %w", k, err)
		}
		for i := range sp {
			sp[i].what = fmt.Sprintf("state %d %s", k, sp[i].what)
		}
		all = append(all, sp...)
	}
	for i := range all {
		for j := i + 1; j < len(all); j++ {
			if all[i].lo < all[j].hi && all[j].lo < all[i].hi {
				return fmt.Errorf("%s and %s share memory (a KV buffer handed out twice)", all[i].what, all[j].what)
			}
		}
	}
	return nil
}

// compareRows is checkRows without testing.T, for goroutines.
func compareRows(m *Model, s *State, seqs [][]int32) error {
	if s.Rows() != len(seqs) {
		return fmt.Errorf("%d rows, want %d", s.Rows(), len(seqs))
	}
	for r, q := range seqs {
		ref, err := m.Prefill([][]int32{q})
		if err != nil {
			return err
		}
		d := maxAbsDiff(s.Logits(r), ref.Logits(0))
		ref.Close()
		if d > parityTol {
			return fmt.Errorf("row %d differs from recomputation by %g", r, d)
		}
		if got := s.NextPos(r); got != int64(len(q)) {
			return fmt.Errorf("row %d next position %d, want %d", r, got, len(q))
		}
	}
	return nil
}

// tracked is a live state with the token sequence of each of its rows.
type tracked struct {
	s    *State
	seqs [][]int32
}

func randSeq(rng *rand.Rand, v, n int) []int32 {
	q := make([]int32, n)
	for i := range q {
		q[i] = int32(rng.IntN(v))
	}
	return q
}

func copySeqs(seqs [][]int32) [][]int32 {
	out := make([][]int32, len(seqs))
	for i, q := range seqs {
		out[i] = append([]int32(nil), q...)
	}
	return out
}

// TestSafetyRandomOps runs random sequences of every State operation on a
// handful of live states and checks, after each, the tensor/buffer
// invariants, that no KV buffer is shared between live states, and the
// logits against a recomputation; closed states must refuse every use.
func TestSafetyRandomOps(t *testing.T) {
	// tiny_nokeep too: its prefills go through the cache in chunks.
	for _, dir := range []string{parityDir(), tinyNoKeepDir} {
		t.Run(filepath.Base(dir), func(t *testing.T) { testSafetyRandomOps(t, dir) })
	}
}

func testSafetyRandomOps(t *testing.T, dir string) {
	m := loadModel(t, dir)
	defer func(b int) { prefillBudget = b }(prefillBudget)
	base := liveTensors.Load()
	v := m.Vocab()
	rng := rand.New(rand.NewPCG(7, 11))
	var live []tracked
	var closed []*State
	all := func() []*State {
		out := make([]*State, len(live))
		for i, x := range live {
			out[i] = x.s
		}
		return out
	}
	for op := 0; op < 300; op++ {
		// Sometimes force chunked prefill (several runs through the cache).
		prefillBudget = []int{4 << 20, 2 * v, 3 * v}[rng.IntN(3)]
		what := ""
		switch k := rng.IntN(10); {
		case len(live) == 0 || (k == 0 && len(live) < 6):
			what = "prefill"
			seqs := make([][]int32, 1+rng.IntN(3))
			for i := range seqs {
				seqs[i] = randSeq(rng, v, 1+rng.IntN(9))
			}
			s, err := m.Prefill(seqs)
			if err != nil {
				t.Fatal(err)
			}
			live = append(live, tracked{s, seqs})
		case k <= 3:
			what = "step"
			x := &live[rng.IntN(len(live))]
			toks := randSeq(rng, v, x.s.Rows())
			if err := m.Step(x.s, toks); err != nil {
				t.Fatal(err)
			}
			x.seqs = appendTok(x.seqs, toks)
		case k == 4:
			what = "reorder"
			x := &live[rng.IntN(len(live))]
			rows := make([]int, 1+rng.IntN(4))
			for i := range rows {
				rows[i] = rng.IntN(x.s.Rows())
			}
			if err := x.s.Reorder(rows); err != nil {
				t.Fatal(err)
			}
			var re [][]int32
			for _, r := range rows {
				re = append(re, x.seqs[r])
			}
			x.seqs = copySeqs(re)
		case k == 5:
			what = "reserve"
			if err := live[rng.IntN(len(live))].s.Reserve(rng.IntN(40)); err != nil {
				t.Fatal(err)
			}
		case k == 6:
			what = "concat"
			n := 1 + rng.IntN(3)
			var in []*State
			var seqs [][]int32
			for i := 0; i < n; i++ {
				x := live[rng.IntN(len(live))] // may repeat a state
				in = append(in, x.s)
				seqs = append(seqs, copySeqs(x.seqs)...)
			}
			c, err := Concat(in...)
			if err != nil {
				t.Fatal(err)
			}
			live = append(live, tracked{c, seqs})
		case k == 7:
			what = "split"
			i := rng.IntN(len(live))
			x := live[i]
			var sizes []int
			for left := x.s.Rows(); left > 0; {
				n := 1 + rng.IntN(left)
				sizes = append(sizes, n)
				left -= n
			}
			parts, err := x.s.Split(sizes...)
			if err != nil {
				t.Fatal(err)
			}
			base := 0
			for j, p := range parts {
				live = append(live, tracked{p, copySeqs(x.seqs[base : base+sizes[j]])})
				base += sizes[j]
			}
			if rng.IntN(2) == 0 { // like the scheduler: the source goes away
				x.s.Close()
				closed = append(closed, x.s)
				live = append(live[:i], live[i+1:]...)
			}
		default:
			what = "close"
			i := rng.IntN(len(live))
			live[i].s.Close()
			if rng.IntN(2) == 0 {
				live[i].s.Close() // idempotent
			}
			closed = append(closed, live[i].s)
			live = append(live[:i], live[i+1:]...)
		}
		if err := checkNoSharing(all()); err != nil {
			t.Fatalf("op %d (%s): %v", op, what, err)
		}
		for i, x := range live {
			if err := compareRows(m, x.s, x.seqs); err != nil {
				t.Fatalf("op %d (%s): live state %d: %v", op, what, i, err)
			}
		}
		// Closed states refuse every use (their buffers now belong to
		// other states through kvPool).
		if len(closed) > 0 {
			c := closed[rng.IntN(len(closed))]
			if err := m.Step(c, make([]int32, c.Rows())); !errors.Is(err, ErrClosed) {
				t.Fatalf("op %d: Step on a closed state: %v", op, err)
			}
			if err := c.Reorder([]int{0}); !errors.Is(err, ErrClosed) {
				t.Fatalf("op %d: Reorder on a closed state: %v", op, err)
			}
			if err := c.Reserve(1); !errors.Is(err, ErrClosed) {
				t.Fatalf("op %d: Reserve on a closed state: %v", op, err)
			}
			if _, err := c.Split(c.Rows()); !errors.Is(err, ErrClosed) {
				t.Fatalf("op %d: Split on a closed state: %v", op, err)
			}
			if len(live) > 0 {
				if _, err := Concat(live[0].s, c); !errors.Is(err, ErrClosed) {
					t.Fatalf("op %d: Concat with a closed state: %v", op, err)
				}
			}
		}
	}
	for _, x := range live {
		x.s.Close()
	}
	if n := liveTensors.Load() - base; n != 0 {
		t.Fatalf("%d tensors leaked", n)
	}
}

// TestSafetyRunError makes onnxruntime itself fail a run (a cached past
// tensor of the wrong length) in Step and in Forward on a past state and
// checks that the failed runs release their output tensors exactly once,
// leave no tensor bound, and that the state decodes correctly afterwards.
func TestSafetyRunError(t *testing.T) {
	m := loadModel(t, parityDir())
	base := liveTensors.Load()
	seqs := testSeqs()
	s, err := m.Prefill(seqs)
	if err != nil {
		t.Fatal(err)
	}
	d := m.dims
	// sabotage replaces layer 0's cached key view with one that claims one
	// more past column than the mask covers.
	sabotage := func() {
		destroy(s.h.kvCur[0])
		bogus := make([]float32, s.rows*d.KVHeads*(s.plen+1)*d.HeadDim)
		x, err := tensor(s, bogus, s.rows, d.KVHeads, s.plen+1, d.HeadDim)
		if err != nil {
			t.Fatal(err)
		}
		s.h.kvCur[0] = x
	}
	repair := func() {
		destroy(s.h.kvCur[0])
		s.h.kvCur[0] = nil // bind rebuilds the view of kv[0].cur
	}
	before := liveTensors.Load()
	plen := s.Len()
	sabotage()
	if err := m.Step(s, []int32{1, 2, 3}); err == nil {
		t.Fatal("Step with an inconsistent past succeeded")
	} else {
		t.Logf("Step failed as intended: %v", err)
	}
	if s.Len() != plen {
		t.Fatalf("failed Step changed Len from %d to %d", plen, s.Len())
	}
	// The failed run must have destroyed its present outputs: only the
	// persistent handles (step ids/pos, logits) may have been added.
	if n := liveTensors.Load() - before; n < 0 || n > 3 {
		t.Fatalf("failed Step changed the live tensor count by %d", n)
	}
	for i, v := range s.outputs {
		if v != nil {
			t.Fatalf("outputs[%d] still bound after a failed run", i)
		}
	}
	if _, _, err := m.Forward([]int64{1, 2, 3}, make([]int64, 3*(plen+1)), []int64{8, 2, 8}, 3, 1, s); err == nil {
		t.Fatal("Forward with an inconsistent past succeeded")
	}
	repair()
	if err := checkNoSharing([]*State{s}); err != nil {
		t.Fatal(err)
	}
	toks := []int32{1, 2, 3}
	if err := m.Step(s, toks); err != nil {
		t.Fatal(err)
	}
	checkRows(t, "after failed runs", m, s, appendTok(seqs, toks))
	s.Close()
	s.Close()
	if n := liveTensors.Load() - base; n != 0 {
		t.Fatalf("%d tensors leaked", n)
	}
}

// stepJob mirrors plugin/scheduler.go's job: a state to advance by toks.
type stepJob struct {
	st        *State
	toks      []int32
	cancelled bool
	done      chan stepResult
}

type stepResult struct {
	st  *State
	err error
}

var errCancelled = errors.New("cancelled")

// TestSafetySchedulerPattern drives one shared Model the way
// plugin/scheduler.go does under load: two workers take batches of step
// jobs from a queue and either Step a lone state or Concat → Step → Split
// → Close merged ones (closing the inputs, whose buffers go back to
// kvPool while new states take buffers from it), cancelled jobs come back
// unchanged, and each request goroutine reorders its own beams between
// steps and closes its states. Every request checks its rows against a
// recomputation after each step: a KV buffer shared by two live states,
// or written by onnxruntime after it went back to the pool, shows up as a
// mismatch; data races show up under -race. plugin's TestSchedulerSafety
// runs the same checks through the real scheduler; this one stays because
// it also checks, from inside the package, that no tensor is left alive.
func TestSafetySchedulerPattern(t *testing.T) {
	m := loadModel(t, parityDir())
	base := liveTensors.Load()
	v := m.Vocab()

	var (
		mu      sync.Mutex
		cond    = sync.NewCond(&mu)
		pending []*stepJob
		stop    bool
		wg      sync.WaitGroup
		merges  atomic.Int64 // batches that went through Concat/Split
		cancels atomic.Int64
	)
	runBatch := func(batch []*stepJob) {
		var live []*stepJob
		for _, j := range batch {
			if j.cancelled {
				cancels.Add(1)
				j.done <- stepResult{j.st, errCancelled}
				continue
			}
			live = append(live, j)
		}
		if len(live) == 0 {
			return
		}
		if len(live) == 1 {
			j := live[0]
			j.done <- stepResult{j.st, m.Step(j.st, j.toks)}
			return
		}
		merges.Add(1)
		states := make([]*State, len(live))
		sizes := make([]int, len(live))
		var toks []int32
		for i, j := range live {
			states[i], sizes[i] = j.st, len(j.toks)
			toks = append(toks, j.toks...)
		}
		merged, err := Concat(states...)
		if err == nil {
			err = m.Step(merged, toks)
		}
		var parts []*State
		if err == nil {
			parts, err = merged.Split(sizes...)
		}
		if merged != nil {
			merged.Close()
		}
		for i, j := range live {
			if err != nil {
				j.done <- stepResult{j.st, err}
				continue
			}
			j.st.Close()
			j.done <- stepResult{parts[i], nil}
		}
	}
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				for len(pending) == 0 && !stop {
					cond.Wait()
				}
				if len(pending) == 0 {
					mu.Unlock()
					return
				}
				if len(pending) == 1 && !stop {
					// Give other requests a moment to queue, so that
					// batches merge as they do under load.
					mu.Unlock()
					time.Sleep(200 * time.Microsecond)
					mu.Lock()
					if len(pending) == 0 {
						mu.Unlock()
						continue
					}
				}
				n := min(len(pending), 3)
				batch := append([]*stepJob(nil), pending[:n]...)
				pending = pending[n:]
				mu.Unlock()
				runBatch(batch)
			}
		}()
	}
	submit := func(j *stepJob) (*State, error) {
		j.done = make(chan stepResult, 1)
		mu.Lock()
		pending = append(pending, j)
		mu.Unlock()
		cond.Signal()
		r := <-j.done
		return r.st, r.err
	}

	// NEO_SAFETY_STEPS lengthens the run for a stress session (e.g. 2000,
	// with GLIBC_TUNABLES=glibc.malloc.check=3 and
	// LD_PRELOAD=libc_malloc_debug.so); the default keeps it quick.
	const clients = 8
	steps := 10
	if n, err := strconv.Atoi(os.Getenv("NEO_SAFETY_STEPS")); err == nil && n > 0 {
		steps = n
	}
	errs := make(chan error, clients)
	for c := 0; c < clients; c++ {
		go func() {
			errs <- func() (err error) {
				rng := rand.New(rand.NewPCG(uint64(c), 99))
				seqs := [][]int32{randSeq(rng, v, 2+rng.IntN(8))}
				st, err := m.Prefill(seqs)
				if err != nil {
					return err
				}
				defer func() { st.Close() }()
				for k := 0; k < steps; k++ {
					width := 1 + rng.IntN(3)
					parents := make([]int, width)
					var re [][]int32
					for i := range parents {
						parents[i] = rng.IntN(st.Rows())
						re = append(re, seqs[parents[i]])
					}
					if err := st.Reorder(parents); err != nil {
						return err
					}
					toks := randSeq(rng, v, width)
					j := &stepJob{st: st, toks: toks, cancelled: rng.IntN(6) == 0}
					next, err := submit(j)
					if next == nil {
						return fmt.Errorf("client %d step %d: nil state back", c, k)
					}
					st = next
					if errors.Is(err, errCancelled) {
						seqs = copySeqs(re) // unchanged but reordered
						if err := compareRows(m, st, seqs); err != nil {
							return fmt.Errorf("client %d step %d (cancelled): %w", c, k, err)
						}
						continue
					}
					if err != nil {
						return err
					}
					seqs = appendTok(copySeqs(re), toks)
					if k%3 != 2 && k != steps-1 {
						continue // check every third step, to keep the queue busy
					}
					if err := compareRows(m, st, seqs); err != nil {
						return fmt.Errorf("client %d step %d: %w", c, k, err)
					}
				}
				return nil
			}()
		}()
	}
	for c := 0; c < clients; c++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	t.Logf("%d merged batches, %d cancelled jobs", merges.Load(), cancels.Load())
	if merges.Load() == 0 {
		t.Log("no batch was merged: the Concat/Split path went unexercised")
	}
	mu.Lock()
	stop = true
	mu.Unlock()
	cond.Broadcast()
	wg.Wait()
	if n := liveTensors.Load() - base; n != 0 {
		t.Fatalf("%d tensors leaked", n)
	}
}

// TestSafetyDroppedStates drops states without closing them (what
// plugin/decode.go does when the scheduler answers a step with a nil
// state: the caller's st is overwritten with nil and its deferred Close
// never sees the old one) while other goroutines keep running the model,
// and checks that the runtime cleanups release every tensor of the
// dropped states, concurrently with the runs, without disturbing them.
func TestSafetyDroppedStates(t *testing.T) {
	m := loadModel(t, parityDir())
	base := liveTensors.Load()
	stop := make(chan struct{})
	errs := make(chan error, 2)
	for g := 0; g < 2; g++ {
		go func() {
			errs <- func() error {
				seqs := [][]int32{{int32(g + 1), 2, 3}}
				s, err := m.Prefill(seqs)
				if err != nil {
					return err
				}
				defer s.Close()
				for k := 0; ; k++ {
					select {
					case <-stop:
						return compareRows(m, s, seqs)
					default:
					}
					toks := []int32{int32(k % 200)}
					if err := m.Step(s, toks); err != nil {
						return err
					}
					seqs = appendTok(seqs, toks)
					if k%20 == 19 { // keep the cache short
						s.Close()
						seqs = [][]int32{{int32(g + 1), 2, 3}}
						if s, err = m.Prefill(seqs); err != nil {
							return err
						}
					}
				}
			}()
		}()
	}
	for i := 0; i < 40; i++ {
		s, err := m.Prefill(testSeqs())
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Step(s, []int32{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		if err := s.Reorder([]int{2, 1}); err != nil {
			t.Fatal(err)
		}
		if err := m.Step(s, []int32{4, 5}); err != nil {
			t.Fatal(err)
		}
		// dropped unclosed
		if i%8 == 7 {
			runtime.GC()
		}
	}
	close(stop)
	for g := 0; g < 2; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for liveTensors.Load() != base && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := liveTensors.Load() - base; n != 0 {
		t.Fatalf("%d tensors of dropped states were never released", n)
	}
}

// TestSafetyModelCloseRace closes the model while another goroutine keeps
// reordering and stepping one of its states. Close must wait for a run in
// flight, and every call after it must answer ErrClosed: no use of a freed
// session (with -race: no data race on Model.session).
func TestSafetyModelCloseRace(t *testing.T) {
	needLib(t)
	m, err := Load(parityDir(), Config{IntraOpThreads: 1, InterOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Prefill([][]int32{{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	done := make(chan error, 1)
	go func() {
		for i := 0; i < 1000; i++ {
			if err := s.Reorder([]int{0}); err != nil {
				done <- err
				return
			}
			if err := m.Step(s, []int32{4}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil && !errors.Is(err, ErrClosed) {
		t.Fatalf("call racing Close: %v, want ErrClosed or nil", err)
	}
	if err := m.Step(s, []int32{4}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Step after Close: %v, want ErrClosed", err)
	}
}

// TestSafetyCheckerCatchesSharing makes sure checkNoSharing notices the
// bug it looks for: a buffer put back into kvPool while its state still
// uses it, then handed to a new state.
func TestSafetyCheckerCatchesSharing(t *testing.T) {
	m := loadModel(t, parityDir())
	s, err := m.Prefill(testSeqs())
	if err != nil {
		t.Fatal(err)
	}
	recycleKV(s.kv[0].cur) // the bug: still viewed by s.h.kvCur[0]
	o := m.newState(1, 0, 0)
	// first is a buffer's first element, nil for a fresh zero-capacity one
	// (under -race, sync.Pool drops some of what it is given).
	first := func(b []float32) *float32 {
		if cap(b) == 0 {
			return nil
		}
		return &b[:1][0]
	}
	bug := first(s.kv[0].cur)
	shared := false
	for i := range o.kv {
		shared = shared || first(o.kv[i].cur) == bug || first(o.kv[i].spare) == bug
	}
	err = checkNoSharing([]*State{s, o})
	// Undo before closing, so that the pool does not get the buffer twice.
	s.kv[0].cur = nil
	o.Close()
	s.Close()
	if !shared {
		t.Skip("kvPool handed out another buffer (per-P pool); nothing to check")
	}
	if err == nil {
		t.Fatal("checkNoSharing missed a KV buffer shared by two states")
	}
	t.Logf("caught: %v", err)
}
