"""Python-side parity check of a model directory against onnxruntime, for
machines that have the onnxruntime Python package (the Go test TestParity
is the check that always runs):

    python3 exporter/py/check_ort.py MODEL_DIR

Replays parity.json (left-padded prefill, then the greedy tokens with the
KV cache) and prints the max |onnxruntime - torch| per entry.
"""
import json
import os
import sys

import numpy as np
import onnxruntime as ort


def main(d):
    meta = json.load(open(os.path.join(d, "parity.json")))
    sess = ort.InferenceSession(os.path.join(d, "model.onnx"), providers=["CPUExecutionProvider"])
    pasts = [i for i in sess.get_inputs() if i.name.startswith("past_key_values.")]
    h, hd = pasts[0].shape[1], pasts[0].shape[3]
    prompts, steps, vocab = meta["prompts"], meta["steps"], meta["vocab"]
    cols = meta["columns"] or list(range(vocab))
    rows = len(prompts)
    ref = np.fromfile(os.path.join(d, meta["logits_file"]), dtype="<f4").reshape(steps + 1, rows, len(cols))
    plen = max(len(p) for p in prompts)
    ids = np.array([[0] * (plen - len(p)) + p for p in prompts], np.int64)
    mask = np.array([[0] * (plen - len(p)) + [1] * len(p) for p in prompts], np.int64)
    pos = np.array([[0] * (plen - len(p)) + list(range(len(p))) for p in prompts], np.int64)
    feed = {p.name: np.zeros((rows, h, 0, hd), np.float32) for p in pasts}
    worst = 0.0
    for e in range(steps + 1):
        feed.update(input_ids=ids, attention_mask=mask, position_ids=pos)
        out = sess.run(None, feed)
        names = [o.name for o in sess.get_outputs()]
        logits = out[0][:, -1, :][:, cols]
        diff = float(np.abs(logits - ref[e]).max())
        worst = max(worst, diff)
        print(f"entry {e}: max diff {diff:.3g}")
        for n, v in zip(names[1:], out[1:]):
            feed[n.replace("present.", "past_key_values.")] = v
        if e < steps:
            ids = np.array([[t[e]] for t in meta["tokens"]], np.int64)
            pos = np.array([[len(p) + e] for p in prompts], np.int64)
            mask = np.concatenate([mask, np.ones((rows, 1), np.int64)], axis=1)
    print(f"{d}: onnxruntime {ort.__version__} max diff {worst:.3g}")
    return 0 if worst <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(max(main(d) for d in sys.argv[1:]))
