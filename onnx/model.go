package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// ModelFile is the file name of the network inside a model directory.
const ModelFile = "model.onnx"

// Config configures Load.
type Config struct {
	// LibraryPath is an explicit onnxruntime library (see FindLibrary).
	LibraryPath string
	// IntraOpThreads and InterOpThreads size onnxruntime's thread pools;
	// 0 keeps onnxruntime's defaults.
	IntraOpThreads, InterOpThreads int
}

// Dims is the model's shape, discovered from its inputs and outputs.
type Dims struct {
	Layers  int // number of transformer layers (KV cache pairs)
	KVHeads int // key/value heads per layer (Hkv)
	HeadDim int // size of one head (D)
	Vocab   int // logits width (V)
	// KeepLogits: the model takes num_logits_to_keep (int64 [1]; k > 0
	// computes the logits of the last k positions only, 0 all of them),
	// so a prefill skips the LM head for every prompt position but the
	// last (exporter/py/logits_keep.py). Models without it load as well.
	KeepLogits bool
}

// ErrBadModel is wrapped by every error about a model file that is
// missing, unreadable or does not follow the expected I/O convention.
var ErrBadModel = errors.New("onnx: bad model")

// Model is a loaded decoder. It is safe for concurrent use: onnxruntime
// sessions may run concurrently, and all per-sequence data lives in State.
type Model struct {
	path     string
	dims     Dims
	mu       sync.RWMutex // guards session: runs hold it shared, Close exclusively
	session  *ort.DynamicAdvancedSession
	inNames  []string // input_ids, attention_mask, position_ids, past k0, v0, k1, ..., [num_logits_to_keep]
	outNames []string // logits, present k0, v0, k1, ...
	// keepLast and keepAll feed num_logits_to_keep (1 and 0) when the
	// model has it; read-only, shared by all runs.
	keepLast, keepAll *ort.Tensor[int64]
}

// keepInput is the optional input that limits which positions get logits.
const keepInput = "num_logits_to_keep"

// Load opens dir/model.onnx (dir may also name the .onnx file itself),
// initialising onnxruntime first if needed. A missing, corrupt or
// incompatible model gives an error that wraps ErrBadModel and names the
// problem.
func Load(dir string, cfg Config) (*Model, error) {
	if err := Init(cfg.LibraryPath); err != nil {
		return nil, err
	}
	path := dir
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		path = filepath.Join(dir, ModelFile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadModel, err)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: %s is empty", ErrBadModel, path)
	}
	ins, outs, err := ort.GetInputOutputInfoWithONNXData(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not a loadable ONNX model: %v", ErrBadModel, path, err)
	}
	dims, err := discover(ins, outs)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadModel, path, err)
	}
	m := &Model{path: path, dims: dims}
	m.inNames = []string{"input_ids", "attention_mask", "position_ids"}
	m.outNames = []string{"logits"}
	for i := 0; i < dims.Layers; i++ {
		m.inNames = append(m.inNames, pastName(i, "key"), pastName(i, "value"))
		m.outNames = append(m.outNames, presentName(i, "key"), presentName(i, "value"))
	}
	if dims.KeepLogits {
		m.inNames = append(m.inNames, keepInput)
	}

	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("onnx: session options: %w", err)
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(cfg.IntraOpThreads); err != nil {
		return nil, fmt.Errorf("onnx: intra-op threads: %w", err)
	}
	if err := opts.SetInterOpNumThreads(cfg.InterOpThreads); err != nil {
		return nil, fmt.Errorf("onnx: inter-op threads: %w", err)
	}
	m.session, err = ort.NewDynamicAdvancedSessionWithONNXData(data, m.inNames, m.outNames, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: creating session: %v", ErrBadModel, path, err)
	}
	// Created last, so that no earlier error path has to release them.
	if dims.KeepLogits {
		if m.keepLast, err = ort.NewTensor(ort.NewShape(1), []int64{1}); err == nil {
			m.keepAll, err = ort.NewTensor(ort.NewShape(1), []int64{0})
		}
		if err != nil {
			m.destroyKeep()
			m.session.Destroy()
			return nil, fmt.Errorf("onnx: %s tensors: %w", keepInput, err)
		}
	}
	return m, nil
}

func (m *Model) destroyKeep() {
	for _, t := range []*ort.Tensor[int64]{m.keepLast, m.keepAll} {
		if t != nil {
			t.Destroy()
		}
	}
	m.keepLast, m.keepAll = nil, nil
}

func pastName(i int, kv string) string    { return "past_key_values." + strconv.Itoa(i) + "." + kv }
func presentName(i int, kv string) string { return "present." + strconv.Itoa(i) + "." + kv }

var (
	pastRe    = regexp.MustCompile(`^past_key_values\.(\d+)\.(key|value)$`)
	presentRe = regexp.MustCompile(`^present\.(\d+)\.(key|value)$`)
)

// discover checks the optimum KV-cache convention and reads the model's
// dimensions from it.
func discover(ins, outs []ort.InputOutputInfo) (Dims, error) {
	var d Dims
	in := map[string]ort.InputOutputInfo{}
	layers := map[int]int{} // layer -> count of key/value seen
	for _, x := range ins {
		in[x.Name] = x
		if m := pastRe.FindStringSubmatch(x.Name); m != nil {
			l, _ := strconv.Atoi(m[1])
			layers[l]++
			continue
		}
		switch x.Name {
		case "input_ids", "attention_mask", "position_ids":
		case keepInput:
			if err := checkTensor(x, ort.TensorElementDataTypeInt64, 1); err != nil {
				return d, err
			}
			if x.Dimensions[0] != 1 && x.Dimensions[0] > 0 {
				return d, fmt.Errorf("input %q has shape %v, want [1]", x.Name, x.Dimensions)
			}
			d.KeepLogits = true
		default:
			return d, fmt.Errorf("unexpected input %q (want input_ids, attention_mask, position_ids, past_key_values.{i}.key|value and optionally %s)", x.Name, keepInput)
		}
	}
	for _, name := range []string{"input_ids", "attention_mask", "position_ids"} {
		x, ok := in[name]
		if !ok {
			return d, fmt.Errorf("missing input %q", name)
		}
		if err := checkTensor(x, ort.TensorElementDataTypeInt64, 2); err != nil {
			return d, err
		}
	}
	if len(layers) == 0 {
		return d, errors.New("missing inputs past_key_values.{i}.key|value (not a KV-cache decoder export)")
	}
	d.Layers = len(layers)
	for l := 0; l < d.Layers; l++ {
		for _, kv := range []string{"key", "value"} {
			x, ok := in[pastName(l, kv)]
			if !ok {
				return d, fmt.Errorf("missing input %q (layers must be numbered 0..%d)", pastName(l, kv), d.Layers-1)
			}
			if err := checkTensor(x, ort.TensorElementDataTypeFloat, 4); err != nil {
				return d, err
			}
			h, hd := x.Dimensions[1], x.Dimensions[3]
			if h <= 0 || hd <= 0 {
				return d, fmt.Errorf("input %q has shape %v: heads (dim 1) and head size (dim 3) must be fixed", x.Name, x.Dimensions)
			}
			if d.KVHeads == 0 {
				d.KVHeads, d.HeadDim = int(h), int(hd)
			} else if int(h) != d.KVHeads || int(hd) != d.HeadDim {
				return d, fmt.Errorf("input %q has shape %v, other layers have [*,%d,*,%d]", x.Name, x.Dimensions, d.KVHeads, d.HeadDim)
			}
		}
	}

	out := map[string]ort.InputOutputInfo{}
	for _, x := range outs {
		out[x.Name] = x
	}
	lg, ok := out["logits"]
	if !ok {
		return d, fmt.Errorf("missing output %q (outputs: %s)", "logits", names(outs))
	}
	if err := checkTensor(lg, ort.TensorElementDataTypeFloat, 3); err != nil {
		return d, err
	}
	if lg.Dimensions[2] <= 0 {
		return d, fmt.Errorf("output logits has shape %v: vocabulary (dim 2) must be fixed", lg.Dimensions)
	}
	d.Vocab = int(lg.Dimensions[2])
	for l := 0; l < d.Layers; l++ {
		for _, kv := range []string{"key", "value"} {
			x, ok := out[presentName(l, kv)]
			if !ok {
				return d, fmt.Errorf("missing output %q (outputs: %s)", presentName(l, kv), names(outs))
			}
			if err := checkTensor(x, ort.TensorElementDataTypeFloat, 4); err != nil {
				return d, err
			}
			if (x.Dimensions[1] > 0 && int(x.Dimensions[1]) != d.KVHeads) || (x.Dimensions[3] > 0 && int(x.Dimensions[3]) != d.HeadDim) {
				return d, fmt.Errorf("output %q has shape %v, past inputs have [*,%d,*,%d]", x.Name, x.Dimensions, d.KVHeads, d.HeadDim)
			}
		}
	}
	for _, x := range outs {
		if m := presentRe.FindStringSubmatch(x.Name); m != nil {
			if l, _ := strconv.Atoi(m[1]); l >= d.Layers {
				return d, fmt.Errorf("output %q has no matching past input (%d layers)", x.Name, d.Layers)
			}
		}
	}
	return d, nil
}

func checkTensor(x ort.InputOutputInfo, dt ort.TensorElementDataType, rank int) error {
	if x.OrtValueType != ort.ONNXTypeTensor {
		return fmt.Errorf("%q is a %s, want a tensor", x.Name, x.OrtValueType)
	}
	if x.DataType != dt {
		return fmt.Errorf("%q has element type %s, want %s", x.Name, x.DataType, dt)
	}
	if len(x.Dimensions) != rank {
		return fmt.Errorf("%q has rank %d (shape %v), want rank %d", x.Name, len(x.Dimensions), x.Dimensions, rank)
	}
	return nil
}

func names(xs []ort.InputOutputInfo) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = x.Name
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

// closed reports whether Close has run.
func (m *Model) closed() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.session == nil
}

// Dims returns the model's discovered dimensions.
func (m *Model) Dims() Dims { return m.dims }

// Vocab returns the logits width.
func (m *Model) Vocab() int { return m.dims.Vocab }

// Path returns the loaded model.onnx path.
func (m *Model) Path() string { return m.path }

// Close releases the onnxruntime session. States of the model must not be
// used afterwards.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.session == nil {
		return nil
	}
	err := m.session.Destroy()
	m.session = nil
	m.destroyKeep()
	return err
}
