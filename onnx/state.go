package onnx

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	ort "github.com/yalue/onnxruntime_go"
)

// prefillBudget bounds the work of one prefill run: long batched prompts
// are prefilled in chunks of rows × chunk × vocab ≤ prefillBudget
// positions' worth through the KV cache. Without num_logits_to_keep that
// bounds the logits ([B,S,V], 16 MiB); with it, it still bounds the
// attention scores and activations ([B,H,chunk,P+chunk] per layer) of a
// large batch of long prompts, while a single prompt of up to
// prefillBudget/vocab tokens runs at once. A variable so that tests can
// force chunking.
var prefillBudget = 4 << 20

// ErrClosed is returned when a closed State or Model is used.
var ErrClosed = errors.New("onnx: state or model is closed")

// State is the decoding state of a batch of rows: their KV cache, attention
// mask and next positions, plus the last-position logits of every row.
//
// Layout: the cache of layer i is [rows, Hkv, P, D] (P = Len(), the padded
// length shared by all rows); row r's real tokens are the columns where its
// mask is 1, padding sits on the left. Each cache tensor has two Go buffers:
// onnxruntime reads the past from one and writes the present (one longer)
// into the other, then they swap, so steady-state decoding reuses memory.
//
// A State is used by one goroutine at a time. Close releases it; a cleanup
// also releases it if it becomes unreachable unclosed.
type State struct {
	m    *Model
	rows int
	plen int

	mask, maskSpare []int64 // [rows, plen] (spare: scratch for the next layout)
	next, nextSpare []int64 // per-row position of the next token

	kv []kvSlot // 2*layers: key0, value0, key1, ...

	logits    [2][]float32 // last-position logits [rows, V]; logits[cur] is live
	logitsCur int

	ids, pos []int64 // step inputs [rows]

	shape           []int64     // shape scratch (NewTensor copies it)
	inputs, outputs []ort.Value // Run argument scratch
	h               *handles
}

type kvSlot struct{ cur, spare []float32 }

// handles owns every onnxruntime tensor of a State. It is separate from
// State so that a runtime cleanup can release the tensors without keeping
// the State alive.
type handles struct {
	closed  bool
	kvCur   []*ort.Tensor[float32]  // view of kv[i].cur as [rows,Hkv,plen,D]; nil when stale
	stepIDs *ort.Tensor[int64]      // [rows,1] over State.ids
	stepPos *ort.Tensor[int64]      // [rows,1] over State.pos
	logitsT [2]*ort.Tensor[float32] // [rows,1,V] over State.logits[i]
}

func (h *handles) release() {
	for i, t := range h.kvCur {
		destroy(t)
		h.kvCur[i] = nil
	}
	destroy(h.stepIDs)
	destroy(h.stepPos)
	h.stepIDs, h.stepPos = nil, nil
	for i := range h.logitsT {
		destroy(h.logitsT[i])
		h.logitsT[i] = nil
	}
	h.closed = true
}

// liveTensors counts tensors made by tensor and not yet destroyed; tests
// use it to check that states release everything.
var liveTensors atomic.Int64

func destroy[T ort.TensorData](t *ort.Tensor[T]) {
	if t != nil {
		t.Destroy()
		liveTensors.Add(-1)
	}
}

// newState allocates a state of rows rows and padded length plen with room
// to grow by headroom tokens before any buffer is reallocated.
func (m *Model) newState(rows, plen, headroom int) *State {
	d := m.dims
	n := 2 * d.Layers
	s := &State{
		m:         m,
		rows:      rows,
		plen:      plen,
		mask:      make([]int64, rows*plen, rows*(plen+headroom)),
		maskSpare: make([]int64, 0, rows*(plen+headroom)),
		next:      make([]int64, rows),
		nextSpare: make([]int64, 0, rows),
		kv:        make([]kvSlot, n),
		ids:       make([]int64, rows),
		pos:       make([]int64, rows),
		shape:     make([]int64, 0, 4),
		inputs:    make([]ort.Value, len(m.inNames)),
		outputs:   make([]ort.Value, 1+n),
		h:         &handles{kvCur: make([]*ort.Tensor[float32], n)},
	}
	per := d.KVHeads * d.HeadDim
	for i := range s.kv {
		// Zeroed: Concat leaves the padding columns as they are.
		s.kv[i].cur = newKV(rows*per*plen, rows*per*(plen+headroom))
		clear(s.kv[i].cur)
		s.kv[i].spare = newKV(0, rows*per*(plen+headroom))
	}
	s.logits[0] = make([]float32, rows*d.Vocab)
	s.logits[1] = make([]float32, 0, rows*d.Vocab)
	runtime.AddCleanup(s, (*handles).release, s.h)
	return s
}

// Rows returns the number of rows (sequences) in the batch.
func (s *State) Rows() int { return s.rows }

// Len returns the padded length P of the cache (the longest row's tokens
// plus its left padding).
func (s *State) Len() int { return s.plen }

// Model returns the model the state belongs to.
func (s *State) Model() *Model { return s.m }

// Logits returns the logits at the last position of row (length Vocab).
// The slice is owned by the State and valid until its next call.
func (s *State) Logits(row int) []float32 {
	if row < 0 || row >= s.rows {
		return nil
	}
	v := s.m.dims.Vocab
	return s.logits[s.logitsCur][row*v : (row+1)*v]
}

// Mask returns row's attention mask over the cache (length Len(); 1 for a
// real token, 0 for padding). Owned by the State; do not modify.
func (s *State) Mask(row int) []int64 {
	if row < 0 || row >= s.rows {
		return nil
	}
	return s.mask[row*s.plen : (row+1)*s.plen]
}

// NextPos returns the position the next token of row will get (its number
// of real tokens so far).
func (s *State) NextPos(row int) int64 { return s.next[row] }

// Close releases the state's onnxruntime tensors and hands its cache
// buffers to the next state. It is idempotent.
func (s *State) Close() error {
	if s.h != nil && !s.h.closed {
		s.h.release() // no tensor views the buffers any more
		for i := range s.kv {
			recycleKV(s.kv[i].cur)
			recycleKV(s.kv[i].spare)
			s.kv[i] = kvSlot{}
		}
	}
	return nil
}

// kvPool recycles the cache buffers of closed states. Every search builds
// a fresh cache for its prompt and again for its beams (about 2.6 MB on the
// demo model); under load, allocating and collecting them cost more CPU
// than the copies themselves.
var kvPool sync.Pool // of *[]float32

// newKV returns a buffer of length n and capacity ≥ c, recycled when one
// is at hand. Its contents are not zeroed.
func newKV(n, c int) []float32 {
	if p, _ := kvPool.Get().(*[]float32); p != nil && cap(*p) >= c {
		return (*p)[:n]
	}
	return make([]float32, n, c)
}

// growKV returns b resized to n when its array holds n, else a buffer of
// capacity c from newKV, recycling b. Only for spare buffers: no tensor
// may view b.
func growKV(b []float32, n, c int) []float32 {
	if cap(b) >= n {
		return b[:n]
	}
	recycleKV(b)
	return newKV(n, c)
}

func recycleKV(b []float32) {
	if cap(b) > 0 {
		kvPool.Put(&b)
	}
}

func (s *State) usable() error {
	if s == nil || s.h == nil || s.h.closed {
		return ErrClosed
	}
	if s.m.closed() {
		return ErrClosed
	}
	return nil
}

// Prefill runs the prompts seqs (token ids, lengths may differ) as one
// batch and returns their state, with each row's last-position logits
// available through Logits. Shorter rows are left-padded (mask 0) and every
// row's positions start at 0.
func (m *Model) Prefill(seqs [][]int32) (*State, error) {
	if m.closed() {
		return nil, ErrClosed
	}
	if len(seqs) == 0 {
		return nil, errors.New("onnx: prefill of zero sequences")
	}
	b, l := len(seqs), 0
	for i, q := range seqs {
		if len(q) == 0 {
			return nil, fmt.Errorf("onnx: prefill: sequence %d is empty", i)
		}
		if err := m.checkTokens(q); err != nil {
			return nil, fmt.Errorf("onnx: prefill: sequence %d: %w", i, err)
		}
		l = max(l, len(q))
	}
	ids := make([]int64, b*l)
	pos := make([]int64, b*l)
	mask := make([]int64, b*l)
	for r, q := range seqs {
		pad := l - len(q)
		for j, t := range q {
			ids[r*l+pad+j] = int64(t)
			pos[r*l+pad+j] = int64(j)
			mask[r*l+pad+j] = 1
		}
	}
	s := m.newState(b, 0, l+64)
	chunk := max(1, min(l, prefillBudget/(b*m.dims.Vocab)))
	var cids, cpos []int64
	for start := 0; start < l; start += chunk {
		c := min(chunk, l-start)
		if c == l {
			cids, cpos = ids, pos
		} else {
			cids, cpos = cids[:0], cpos[:0]
			for r := 0; r < b; r++ {
				cids = append(cids, ids[r*l+start:r*l+start+c]...)
				cpos = append(cpos, pos[r*l+start:r*l+start+c]...)
			}
		}
		s.maskSpare = s.maskSpare[:0]
		for r := 0; r < b; r++ {
			s.maskSpare = append(s.maskSpare, mask[r*l:r*l+start+c]...)
		}
		if err := s.run(cids, cpos, c, false, nil); err != nil {
			s.Close()
			return nil, err
		}
	}
	for r, q := range seqs {
		s.next[r] = int64(len(q))
	}
	return s, nil
}

// Step feeds one token per row (len(tokens) == Rows()) and grows the cache
// by one. Logits then gives each row's next-token logits.
func (m *Model) Step(s *State, tokens []int32) error {
	if err := s.usable(); err != nil {
		return err
	}
	if s.m != m {
		return errors.New("onnx: step: state belongs to another model")
	}
	if len(tokens) != s.rows {
		return fmt.Errorf("onnx: step: %d tokens for %d rows", len(tokens), s.rows)
	}
	if err := m.checkTokens(tokens); err != nil {
		return fmt.Errorf("onnx: step: %w", err)
	}
	for r, t := range tokens {
		s.ids[r] = int64(t)
		s.pos[r] = s.next[r]
	}
	t := s.plen + 1
	s.maskSpare = grow(s.maskSpare, s.rows*t)
	for r := 0; r < s.rows; r++ {
		copy(s.maskSpare[r*t:], s.mask[r*s.plen:(r+1)*s.plen])
		s.maskSpare[r*t+s.plen] = 1
	}
	if err := s.run(s.ids, s.pos, 1, true, nil); err != nil {
		return err
	}
	for r := range s.next {
		s.next[r]++
	}
	return nil
}

// Forward is the low-level call: it runs B rows of S new tokens on top of
// past (nil for an empty cache). ids and pos are [B,S]; mask is [B,P+S] and
// covers the past and the new tokens. It returns all logits [B,S,V] (a new
// slice) and the state advanced by S (past itself, or a new state when past
// is nil). Positions and mask are taken as given, so callers can lay out
// padding however they like.
func (m *Model) Forward(ids, mask, pos []int64, B, S int, past *State) ([]float32, *State, error) {
	if m.closed() {
		return nil, nil, ErrClosed
	}
	if B <= 0 || S <= 0 {
		return nil, nil, fmt.Errorf("onnx: forward: bad shape B=%d S=%d", B, S)
	}
	fresh := past == nil
	if fresh {
		past = m.newState(B, 0, S+16)
	} else if err := past.usable(); err != nil {
		return nil, nil, err
	}
	fail := func(err error) ([]float32, *State, error) {
		if fresh {
			past.Close()
		}
		return nil, nil, err
	}
	if past.m != m {
		return fail(errors.New("onnx: forward: state belongs to another model"))
	}
	p := past.plen
	if past.rows != B || len(ids) != B*S || len(pos) != B*S || len(mask) != B*(p+S) {
		return fail(fmt.Errorf("onnx: forward: lengths ids=%d pos=%d mask=%d do not fit B=%d S=%d P=%d (state rows %d)",
			len(ids), len(pos), len(mask), B, S, p, past.rows))
	}
	v := int64(m.dims.Vocab)
	for i, t := range ids {
		if t < 0 || t >= v {
			return fail(fmt.Errorf("onnx: forward: token %d at %d out of range [0,%d)", t, i, v))
		}
	}
	past.maskSpare = append(past.maskSpare[:0], mask...)
	full := make([]float32, B*S*m.dims.Vocab)
	if err := past.run(ids, pos, S, false, full); err != nil {
		return fail(err)
	}
	for r := 0; r < B; r++ {
		past.next[r] = pos[r*S+S-1] + 1
	}
	return full, past, nil
}

func (m *Model) checkTokens(toks []int32) error {
	v := int32(m.dims.Vocab)
	for i, t := range toks {
		if t < 0 || t >= v {
			return fmt.Errorf("token %d at %d out of range [0,%d)", t, i, v)
		}
	}
	return nil
}

// grow returns buf resized to n, reusing its array when large enough.
func grow[T any](buf []T, n int) []T {
	if cap(buf) >= n {
		return buf[:n]
	}
	return make([]T, n, n+n/2)
}

// tensor wraps data as an onnxruntime tensor of the given shape.
func tensor[T ort.TensorData](s *State, data []T, dims ...int) (*ort.Tensor[T], error) {
	s.shape = s.shape[:0]
	for _, d := range dims {
		s.shape = append(s.shape, int64(d))
	}
	x, err := ort.NewTensor(ort.Shape(s.shape), data)
	if err == nil {
		liveTensors.Add(1)
	}
	return x, err
}

// runTemps are the per-run tensors that do not outlive one run.
type runTemps struct {
	ids, pos, mask *ort.Tensor[int64]
	logits         *ort.Tensor[float32]
}

func (t *runTemps) release() {
	destroy(t.ids)
	destroy(t.pos)
	destroy(t.mask)
	destroy(t.logits)
}

// run executes the model for S new tokens per row. s.maskSpare must hold
// the new mask [rows, plen+S]. step selects the cached [rows,1] input and
// logits tensors (no per-step buffer allocation); a prefill (full == nil)
// of a model with num_logits_to_keep also writes straight into the live
// logits buffer through the cached [rows,1,V] tensor; otherwise temporary
// tensors are used, and the last position's logits are copied into the
// live logits buffer (and all of them land in full when non-nil). On error
// the cache, mask and length are left unchanged: the present cache is
// written to the spare buffers and only committed after a successful run
// (the live logits may have been overwritten by a failed step or prefill;
// Prefill discards its state on error).
func (s *State) run(ids, pos []int64, S int, step bool, full []float32) error {
	var tmp runTemps
	err := s.bind(&tmp, ids, pos, S, step, full)
	if err == nil {
		m := s.m
		m.mu.RLock() // Close waits for runs in flight; none starts after it
		if m.session == nil {
			err = ErrClosed
		} else {
			if m.dims.KeepLogits {
				// Bound under m.mu: Close destroys (and clears) the shared
				// tensors. Forward wants every position's logits (0),
				// everything else only the last (1).
				keep := m.keepLast
				if full != nil {
					keep = m.keepAll
				}
				s.inputs[len(s.inputs)-1] = keep
			}
			err = m.session.Run(s.inputs, s.outputs)
		}
		m.mu.RUnlock()
		if err != nil && !errors.Is(err, ErrClosed) {
			err = fmt.Errorf("onnx: run (rows=%d new=%d past=%d): %w", s.rows, S, s.plen, err)
		}
	}
	defer tmp.release()
	present := s.outputs[1:]
	if err != nil {
		for i, x := range present {
			if x != nil {
				destroy(x.(*ort.Tensor[float32]))
				present[i] = nil
			}
		}
		clear(s.inputs)
		clear(s.outputs)
		return err
	}

	// Commit: present becomes past, the new mask becomes the mask.
	h := s.h
	for i := range present {
		destroy(h.kvCur[i])
		s.kv[i].cur, s.kv[i].spare = s.kv[i].spare, s.kv[i].cur
		h.kvCur[i] = present[i].(*ort.Tensor[float32])
	}
	t := s.plen + S
	s.mask, s.maskSpare = s.maskSpare[:s.rows*t], s.mask
	s.plen = t
	if tmp.logits != nil {
		v, cur := s.m.dims.Vocab, s.logitsCur
		s.logits[cur] = grow(s.logits[cur], s.rows*v)
		src := tmp.logits.GetData()
		for r := 0; r < s.rows; r++ {
			copy(s.logits[cur][r*v:(r+1)*v], src[(r*S+S-1)*v:(r*S+S)*v])
		}
	}
	clear(s.inputs)
	clear(s.outputs)
	return nil
}

// views reports whether tensor x (if any) views exactly buf.
func views[T ort.TensorData](x *ort.Tensor[T], buf []T) bool {
	if x == nil || len(buf) == 0 {
		return false
	}
	d := x.GetData()
	return len(d) == len(buf) && &d[0] == &buf[0]
}

// bind fills s.inputs and s.outputs for run.
func (s *State) bind(tmp *runTemps, ids, pos []int64, S int, step bool, full []float32) error {
	d, h := s.m.dims, s.h
	rows, t := s.rows, s.plen+S
	per := d.KVHeads * d.HeadDim
	var err error

	// Inputs.
	if step {
		if !views(h.stepIDs, s.ids[:rows]) || !views(h.stepPos, s.pos[:rows]) {
			destroy(h.stepIDs)
			destroy(h.stepPos)
			h.stepIDs, h.stepPos = nil, nil
			if h.stepIDs, err = tensor(s, s.ids[:rows], rows, 1); err != nil {
				return err
			}
			if h.stepPos, err = tensor(s, s.pos[:rows], rows, 1); err != nil {
				return err
			}
		}
		s.inputs[0], s.inputs[2] = h.stepIDs, h.stepPos
	} else {
		if tmp.ids, err = tensor(s, ids, rows, S); err != nil {
			return err
		}
		if tmp.pos, err = tensor(s, pos, rows, S); err != nil {
			return err
		}
		s.inputs[0], s.inputs[2] = tmp.ids, tmp.pos
	}
	if tmp.mask, err = tensor(s, s.maskSpare[:rows*t], rows, t); err != nil {
		return err
	}
	s.inputs[1] = tmp.mask
	for i := range s.kv {
		if h.kvCur[i] == nil {
			if h.kvCur[i], err = tensor(s, s.kv[i].cur[:rows*per*s.plen], rows, d.KVHeads, s.plen, d.HeadDim); err != nil {
				return err
			}
		}
		s.inputs[3+i] = h.kvCur[i]
	}

	// Outputs: logits, then the present cache written into the spare buffers.
	// A step, and a prefill of a model that keeps only the last position's
	// logits, write them straight into the live logits buffer.
	v, cur := d.Vocab, s.logitsCur
	if step || (d.KeepLogits && full == nil) {
		s.logits[cur] = grow(s.logits[cur], rows*v)
		if !views(h.logitsT[cur], s.logits[cur]) {
			destroy(h.logitsT[cur])
			h.logitsT[cur] = nil
			if h.logitsT[cur], err = tensor(s, s.logits[cur], rows, 1, v); err != nil {
				return err
			}
		}
		s.outputs[0] = h.logitsT[cur]
	} else {
		buf := full
		if buf == nil {
			buf = make([]float32, rows*S*v)
		}
		if tmp.logits, err = tensor(s, buf, rows, S, v); err != nil {
			return err
		}
		s.outputs[0] = tmp.logits
	}
	need := rows * per * t
	for i := range s.kv {
		sp := &s.kv[i].spare
		// Headroom so that decoding does not reallocate every step.
		*sp = growKV(*sp, need, rows*per*(t+max(32, t/2)))
		x, err := tensor(s, *sp, rows, d.KVHeads, t, d.HeadDim)
		if err != nil {
			return err
		}
		s.outputs[1+i] = x
	}
	return nil
}

// Reserve makes room for n more tokens per row, so that the next n Steps
// reuse the cache buffers without growing them (they grow on demand
// otherwise). Useful when the number of tokens to generate is known.
func (s *State) Reserve(n int) error {
	if err := s.usable(); err != nil {
		return err
	}
	d := s.m.dims
	need := s.rows * d.KVHeads * d.HeadDim * (s.plen + n)
	for i := range s.kv {
		sl := &s.kv[i]
		if cap(sl.cur) < need {
			cur := make([]float32, len(sl.cur), need)
			copy(cur, sl.cur)
			sl.cur = cur
			destroy(s.h.kvCur[i]) // viewed the old buffer
			s.h.kvCur[i] = nil
		}
		if cap(sl.spare) < need {
			sl.spare = make([]float32, 0, need)
		}
	}
	if m := s.rows * (s.plen + n); cap(s.maskSpare) < m {
		s.maskSpare = make([]int64, 0, m)
		mask := make([]int64, len(s.mask), m)
		copy(mask, s.mask)
		s.mask = mask
	}
	return nil
}

// Reorder rearranges the rows for beam search: new row i is old row
// rows[i]. Indices may repeat or be left out, so the number of rows may
// change (e.g. one prompt row fanned out to k beams). Cache, mask,
// positions and logits move together.
func (s *State) Reorder(rows []int) error {
	if err := s.usable(); err != nil {
		return err
	}
	if len(rows) == 0 {
		return errors.New("onnx: reorder to zero rows")
	}
	identity := len(rows) == s.rows
	for i, r := range rows {
		if r < 0 || r >= s.rows {
			return fmt.Errorf("onnx: reorder: row %d out of range [0,%d)", r, s.rows)
		}
		identity = identity && r == i
	}
	if identity {
		return nil
	}
	d := s.m.dims
	nr := len(rows)
	block := d.KVHeads * s.plen * d.HeadDim
	for i := range s.kv {
		sl := &s.kv[i]
		sl.spare = growKV(sl.spare, nr*block, nr*block+nr*block/2)
		for j, r := range rows {
			copy(sl.spare[j*block:(j+1)*block], sl.cur[r*block:(r+1)*block])
		}
		sl.cur, sl.spare = sl.spare, sl.cur
		// The cached tensor views the old buffer: rebuild it on next use.
		destroy(s.h.kvCur[i])
		s.h.kvCur[i] = nil
	}
	s.maskSpare = grow(s.maskSpare, nr*s.plen)
	s.nextSpare = grow(s.nextSpare, nr)
	for j, r := range rows {
		copy(s.maskSpare[j*s.plen:(j+1)*s.plen], s.mask[r*s.plen:(r+1)*s.plen])
		s.nextSpare[j] = s.next[r]
	}
	s.mask, s.maskSpare = s.maskSpare, s.mask
	s.next, s.nextSpare = s.nextSpare, s.next

	v := d.Vocab
	other := 1 - s.logitsCur
	s.logits[other] = grow(s.logits[other], nr*v)
	for j, r := range rows {
		copy(s.logits[other][j*v:(j+1)*v], s.logits[s.logitsCur][r*v:(r+1)*v])
	}
	s.logitsCur = other

	s.ids = grow(s.ids, nr)
	s.pos = grow(s.pos, nr)
	s.rows = nr
	return nil
}

// Concat merges states of the same model into one batch (rows in argument
// order), e.g. to decode several requests together. States of different
// lengths are aligned by left-padding the shorter ones (mask 0). The inputs
// stay valid and unchanged; the result is a new State.
func Concat(states ...*State) (*State, error) {
	if len(states) == 0 {
		return nil, errors.New("onnx: concat of no states")
	}
	m := states[0].m
	rows, p := 0, 0
	for i, s := range states {
		if err := s.usable(); err != nil {
			return nil, fmt.Errorf("onnx: concat: state %d: %w", i, err)
		}
		if s.m != m {
			return nil, fmt.Errorf("onnx: concat: state %d belongs to another model", i)
		}
		rows += s.rows
		p = max(p, s.plen)
	}
	// A merged batch usually takes one step and is split again (dynamic
	// batching): reserve little, since every reserved column is allocated
	// and zeroed for every row and layer.
	out := m.newState(rows, p, 2)
	d := m.dims
	v := d.Vocab
	base := 0
	for _, s := range states {
		pad := p - s.plen
		for r := 0; r < s.rows; r++ {
			copy(out.mask[(base+r)*p+pad:(base+r+1)*p], s.mask[r*s.plen:(r+1)*s.plen])
			out.next[base+r] = s.next[r]
			copy(out.logits[0][(base+r)*v:(base+r+1)*v], s.Logits(r))
			for i := range out.kv {
				copyRowKV(out.kv[i].cur, base+r, p, pad, s.kv[i].cur, r, s.plen, 0, s.plen, d)
			}
		}
		base += s.rows
	}
	return out, nil
}

// Split cuts the state into consecutive groups of rows of the given sizes
// (which must add up to Rows()) — the inverse of Concat. Padding columns
// that are 0 in every row of a group are dropped, so a state split back
// out of a Concat has its original length. The receiver stays valid.
func (s *State) Split(sizes ...int) ([]*State, error) {
	if err := s.usable(); err != nil {
		return nil, err
	}
	total := 0
	for _, n := range sizes {
		if n <= 0 {
			return nil, fmt.Errorf("onnx: split: size %d", n)
		}
		total += n
	}
	if total != s.rows {
		return nil, fmt.Errorf("onnx: split: sizes add up to %d, state has %d rows", total, s.rows)
	}
	d := s.m.dims
	v := d.Vocab
	out := make([]*State, 0, len(sizes))
	base := 0
	for _, n := range sizes {
		trim := s.plen
		for r := base; r < base+n; r++ {
			lead := 0
			for lead < s.plen && s.mask[r*s.plen+lead] == 0 {
				lead++
			}
			trim = min(trim, lead)
		}
		p := s.plen - trim
		part := s.m.newState(n, p, 8)
		for r := 0; r < n; r++ {
			src := base + r
			copy(part.mask[r*p:(r+1)*p], s.mask[src*s.plen+trim:(src+1)*s.plen])
			part.next[r] = s.next[src]
			copy(part.logits[0][r*v:(r+1)*v], s.Logits(src))
			for i := range part.kv {
				copyRowKV(part.kv[i].cur, r, p, 0, s.kv[i].cur, src, s.plen, trim, p, d)
			}
		}
		out = append(out, part)
		base += n
	}
	return out, nil
}

// copyRowKV copies cols cache columns of one row, every head, from src
// (padded length sp, starting at column sfrom) into dst (padded length dp,
// starting at column dfrom).
func copyRowKV(dst []float32, dr, dp, dfrom int, src []float32, sr, sp, sfrom, cols int, d Dims) {
	hd := d.HeadDim
	for h := 0; h < d.KVHeads; h++ {
		so := ((sr*d.KVHeads+h)*sp + sfrom) * hd
		do := ((dr*d.KVHeads+h)*dp + dfrom) * hd
		copy(dst[do:do+cols*hd], src[so:so+cols*hd])
	}
}
