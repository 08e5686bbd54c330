package onnx

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// The parity model directory: -model DIR (go test ./onnx -run TestParity
// -args -model DIR), else $NEO_PARITY_MODEL, else the committed random-weight
// model in testdata/tiny (see testdata/README.md).
var modelFlag = flag.String("model", "", "model directory for TestParity (default $NEO_PARITY_MODEL, then testdata/tiny)")

const tinyDir = "testdata/tiny"

// tinyNoKeepDir is the tiny model as exported before the graph passes:
// no num_logits_to_keep, so a prefill materialises every position's logits.
const tinyNoKeepDir = "testdata/tiny_nokeep"

func parityDir() string {
	if *modelFlag != "" {
		return *modelFlag
	}
	if d := os.Getenv("NEO_PARITY_MODEL"); d != "" {
		return d
	}
	return tinyDir
}

// needLib skips the test when the onnxruntime library is not installed.
// The Makefile always installs it (scripts/install-onnxruntime.sh), so in
// CI these tests run; the skip only spares a bare checkout.
func needLib(t testing.TB) {
	t.Helper()
	if err := Init(""); err != nil {
		if errors.Is(err, ErrLibraryNotFound) {
			t.Skipf("skipping: onnxruntime library not found; run scripts/install-onnxruntime.sh (the Makefile does): %v", err)
		}
		t.Fatal(err)
	}
}

func loadModel(t testing.TB, dir string) *Model {
	t.Helper()
	needLib(t)
	m, err := Load(dir, Config{IntraOpThreads: 1, InterOpThreads: 1})
	if err != nil {
		t.Fatalf("Load(%s): %v", dir, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// fixture is parity.json plus the logits of parity.bin.
type fixture struct {
	Vocab      int       `json:"vocab"`
	Prompts    [][]int32 `json:"prompts"`
	Steps      int       `json:"steps"`
	Tokens     [][]int32 `json:"tokens"`
	Columns    []int     `json:"columns"`
	LogitsFile string    `json:"logits_file"`

	logits [][][]float32 // [steps+1][rows][columns]
}

func loadFixture(t testing.TB, dir string) *fixture {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "parity.json"))
	if err != nil {
		t.Fatalf("parity fixture: %v (export.py writes it next to model.onnx)", err)
	}
	var f fixture
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("parity.json: %v", err)
	}
	cols := f.Vocab
	if f.Columns != nil {
		cols = len(f.Columns)
	}
	bin, err := os.ReadFile(filepath.Join(dir, f.LogitsFile))
	if err != nil {
		t.Fatal(err)
	}
	rows := len(f.Prompts)
	if want := (f.Steps + 1) * rows * cols * 4; len(bin) != want {
		t.Fatalf("%s: %d bytes, want %d", f.LogitsFile, len(bin), want)
	}
	for e := 0; e <= f.Steps; e++ {
		var entry [][]float32
		for r := 0; r < rows; r++ {
			row := make([]float32, cols)
			for c := range row {
				row[c] = math.Float32frombits(binary.LittleEndian.Uint32(bin[((e*rows+r)*cols+c)*4:]))
			}
			entry = append(entry, row)
		}
		f.logits = append(f.logits, entry)
	}
	return &f
}

// pick returns the fixture's columns of a full logits row.
func (f *fixture) pick(full []float32) []float32 {
	if f.Columns == nil {
		return full
	}
	out := make([]float32, len(f.Columns))
	for i, c := range f.Columns {
		out[i] = full[c]
	}
	return out
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// prefillLogits recomputes each sequence on its own (batch of one, no
// padding, no prior cache) and returns its last-position logits.
func prefillLogits(t testing.TB, m *Model, seqs [][]int32) [][]float32 {
	t.Helper()
	out := make([][]float32, len(seqs))
	for i, q := range seqs {
		s, err := m.Prefill([][]int32{q})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = append([]float32(nil), s.Logits(0)...)
		s.Close()
	}
	return out
}
