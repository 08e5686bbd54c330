// Package onnx runs neo's decoder-only language model with onnxruntime.
//
// It is the only package that talks to onnxruntime. It finds and loads the
// shared library (Init, FindLibrary), opens a model directory's model.onnx
// (Load) and discovers the model's shape — layers, KV heads, head size,
// vocabulary — from the graph's inputs and outputs, so any decoder exported
// in the Hugging Face optimum KV-cache convention loads:
//
//	inputs  input_ids int64 [B,S], attention_mask int64 [B,P+S],
//	        position_ids int64 [B,S], past_key_values.{i}.key|value float32 [B,Hkv,P,D]
//	outputs logits float32 [B,S,V], present.{i}.key|value float32 [B,Hkv,P+S,D]
//
// plus, when the graph has it, the optional input num_logits_to_keep int64
// [1] (k > 0: logits of the last k positions only; Dims.KeepLogits), which
// neo's exporter adds. Prefill and Step feed 1, so a prefill skips the LM
// head for every position but the last; Forward feeds 0.
//
// Decoding keeps a batch's KV cache in a State: Prefill runs the prompts
// once (left-padded, mask 0 on padding, per-row positions from 0), Step
// feeds one token per row and grows the cache by one, Reorder permutes and
// duplicates rows for beam search, and Concat / Split merge and separate
// the states of different requests for dynamic batching.
//
// The cache lives in Go-owned, reused buffers that onnxruntime reads and
// writes in place (double-buffered, since the present cache is one longer
// than the past one), so a decode step copies no cache data and allocates
// no buffers; what remains per step are a few small onnxruntime_go tensor
// headers (see BenchmarkStep).
//
// A Model may be shared by goroutines; a State belongs to one goroutine at
// a time.
//
// The library is looked up in this order: Config.LibraryPath,
// $ONNXRUNTIME_LIB, <repo>/.cache/onnxruntime/1.24.1/libonnxruntime.so.1
// (the repository found by walking up from the working directory to the
// folder with go.mod), $NEO_CACHE/onnxruntime/1.24.1/libonnxruntime.so.1.
// scripts/install-onnxruntime.sh installs it there.
package onnx
