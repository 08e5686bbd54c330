package onnx

import (
	"os"
	"strconv"
	"testing"
)

// BenchmarkStep measures one decode step (4 rows, or $NEO_BENCH_ROWS)
// with the KV cache:
//
//	go test ./onnx -run '^$' -bench Step -benchmem
//
// $NEO_BENCH_MODEL selects another model directory (default testdata/tiny).
// The state is re-prefilled (timer stopped) every 128 steps so the cache
// length stays in a realistic range, and Reserve(128) sizes its buffers up
// front, so allocs/op are what a step itself allocates (onnxruntime_go
// tensor headers and Run's argument slices), not amortised cache growth.
func BenchmarkStep(b *testing.B) {
	m := benchModel(b)
	v := int32(m.Vocab())
	rows := envInt("NEO_BENCH_ROWS", 4)
	prompts := make([][]int32, rows)
	for r := range prompts {
		for j := 0; j < 16+r%8; j++ {
			prompts[r] = append(prompts[r], int32(j*7+r)%v)
		}
	}
	s, err := m.Prefill(prompts)
	if err != nil {
		b.Fatal(err)
	}
	s.Reserve(128)
	toks := make([]int32, len(prompts))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 && i%128 == 0 {
			b.StopTimer()
			s.Close()
			if s, err = m.Prefill(prompts); err != nil {
				b.Fatal(err)
			}
			s.Reserve(128)
			b.StartTimer()
		}
		for r := range toks {
			toks[r] = int32(argmax(s.Logits(r)))
		}
		if err := m.Step(s, toks); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	s.Close()
}

// BenchmarkPrefill measures one prefill of $NEO_BENCH_ROWS prompts (default
// 1) of $NEO_BENCH_LEN tokens (default 32), state closed after each:
//
//	go test ./onnx -run '^$' -bench Prefill -benchmem
//
// $NEO_BENCH_MODEL selects another model directory (default testdata/tiny).
// A model with num_logits_to_keep computes the LM head for the last
// position only; compare with testdata/tiny_nokeep.
func BenchmarkPrefill(b *testing.B) {
	m := benchModel(b)
	v := int32(m.Vocab())
	rows, n := envInt("NEO_BENCH_ROWS", 1), envInt("NEO_BENCH_LEN", 32)
	prompts := make([][]int32, rows)
	for r := range prompts {
		for j := 0; j < n; j++ {
			prompts[r] = append(prompts[r], int32(j*7+r)%v)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := m.Prefill(prompts)
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// benchModel loads $NEO_BENCH_MODEL, or testdata/tiny.
func benchModel(b *testing.B) *Model {
	dir := tinyDir
	if d := os.Getenv("NEO_BENCH_MODEL"); d != "" {
		dir = d
	}
	return loadModel(b, dir)
}

// envInt reads a positive integer from the environment, else def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
