"""ONNX export of a neo Decoder plus the Go parity fixture.

Used by train.py after training, and standalone:

    # re-export a trained model directory from its final weights
    /usr/bin/python3 exporter/py/export.py --model-dir testdata/model

    # a random-weight model (what onnx/testdata/tiny holds)
    /usr/bin/python3 exporter/py/export.py --random --out onnx/testdata/tiny \
        --vocab 256 --dim 32 --layers 2 --heads 2 --kv-heads 1 --ffn 64 --seed 1

Outputs in the model directory:
  model.onnx    inputs input_ids, attention_mask, position_ids,
                past_key_values.{i}.key|value; outputs logits, present.{i}.key|value;
                batch, sequence and past axes dynamic (past length 0 works).
  parity.json   the fixture package onnx's TestParity checks onnxruntime against:
                prompts (token ids, unequal lengths, batched with left padding,
                per-row positions from 0), the greedy tokens, and where the
                logits are stored.
  parity.bin    float32 little-endian logits, [steps+1][rows][columns]: entry 0
                is the last prompt position after prefill, entry k the logits
                after decode step k (fed the greedy tokens with the KV cache).
                columns = the full vocabulary when that keeps parity.bin under
                ~900 KB (any V up to ~15k with the defaults), else a fixed
                subset listed in parity.json "columns": every SID token id
                (from neo.json) up to 256 of them, then evenly spaced ids, 512
                columns in all.
"""

import argparse
import inspect
import json
import os
import sys

import numpy as np

import torchenv
from torchenv import torch

from model import Decoder, ModelConfig, OnnxWrapper  # noqa: E402

OPSET = 14
PARITY_MAX_BYTES = 900 * 1024
PARITY_SUBSET = 512


def io_names(layers):
    inputs = ["input_ids", "attention_mask", "position_ids"]
    outputs = ["logits"]
    for i in range(layers):
        inputs += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
        outputs += [f"present.{i}.key", f"present.{i}.value"]
    return inputs, outputs


def export_onnx(model, path, opset=OPSET):
    """Writes model as ONNX with KV-cache I/O and dynamic axes."""
    model = model.eval().cpu()
    cfg = model.cfg
    inputs, outputs = io_names(cfg.layers)
    # Dummy shapes are arbitrary (B=2, S=3, P=2): the graph has no
    # shape-dependent branches, and P>0 makes the cache concat a real op.
    b, s, p = 2, 3, 2
    ids = torch.randint(0, cfg.vocab, (b, s), dtype=torch.int64)
    mask = torch.ones(b, p + s, dtype=torch.int64)
    pos = torch.arange(p, p + s, dtype=torch.int64).unsqueeze(0).repeat(b, 1)
    past = []
    for _ in range(cfg.layers):
        past += [torch.randn(b, cfg.kv_heads, p, cfg.head_dim), torch.randn(b, cfg.kv_heads, p, cfg.head_dim)]
    dyn = {
        "input_ids": {0: "batch", 1: "sequence"},
        "attention_mask": {0: "batch", 1: "total_sequence"},
        "position_ids": {0: "batch", 1: "sequence"},
        "logits": {0: "batch", 1: "sequence"},
    }
    for i in range(cfg.layers):
        for kv in ("key", "value"):
            dyn[f"past_key_values.{i}.{kv}"] = {0: "batch", 2: "past_sequence"}
            dyn[f"present.{i}.{kv}"] = {0: "batch", 2: "total_sequence"}
    kwargs = dict(
        input_names=inputs,
        output_names=outputs,
        dynamic_axes=dyn,
        opset_version=opset,
        # No constant folding: it would materialise the transposed (tied)
        # embedding as a second initializer and double the file size;
        # onnxruntime folds it in memory at session creation anyway.
        do_constant_folding=False,
    )
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # torch >= 2.x: keep the TorchScript exporter
    tmp = path + ".tmp"
    with torch.no_grad():
        torch.onnx.export(OnnxWrapper(model), tuple([ids, mask, pos] + past), tmp, **kwargs)
    try:
        import onnx  # python3-onnx (scripts/setup.sh); no onnxruntime in Python here
    except ImportError:
        onnx = None
        print("export: python3-onnx not found: model.onnx keeps its shape arithmetic "
              "(about 40% more nodes for onnxruntime to run per call) and has no "
              "num_logits_to_keep (a prefill computes every position's logits)", file=sys.stderr)
    if onnx is not None:
        from logits_keep import add_num_logits_to_keep
        from simplify import compute_nodes, simplify

        m = onnx.load(tmp)
        before = compute_nodes(m)
        try:
            folded = simplify(m)
            onnx.checker.check_model(folded)
        except Exception as e:  # the unfolded graph is valid, only slower: keep it
            print(f"export: folding the shape arithmetic failed ({type(e).__name__}: {e}); "
                  "model.onnx keeps it", file=sys.stderr)
        else:
            m = folded
            print(f"export: shape arithmetic folded, {before} -> {compute_nodes(m)} nodes", file=sys.stderr)
        try:
            kept = add_num_logits_to_keep(m)
            onnx.checker.check_model(kept)
        except Exception as e:  # package onnx loads a model without it: keep going
            print(f"export: adding num_logits_to_keep failed ({type(e).__name__}: {e}); "
                  "a prefill will compute every position's logits", file=sys.stderr)
        else:
            m = kept
        onnx.save(m, tmp)
    os.replace(tmp, path)
    return path


def _forward(model, ids, mask, pos, past):
    with torch.no_grad():
        logits, present = model(
            torch.tensor(ids, dtype=torch.int64),
            torch.tensor(mask, dtype=torch.int64),
            torch.tensor(pos, dtype=torch.int64),
            past,
        )
    return logits, present


def parity_prompts(vocab, sid_tokens, rng, rows=3):
    """Unequal-length prompts from token ids, some ending on SID tokens."""
    lengths = [7, 4, 11][:rows]
    prompts = []
    for r, n in enumerate(lengths):
        p = [int(x) for x in rng.randint(0, vocab, size=n)]
        if sid_tokens and r == 1:
            p[-2:] = [int(x) for x in rng.choice(sid_tokens, size=2)]
        prompts.append(p)
    return prompts


def greedy_reference(model, prompts, steps):
    """Left-padded batched prefill, then greedy decode with the KV cache,
    exactly as package onnx does it. Returns (per-entry logits [steps+1][B][V], tokens [B][steps])."""
    b = len(prompts)
    plen = max(len(p) for p in prompts)
    ids, mask, pos = [], [], []
    for p in prompts:
        pad = plen - len(p)
        ids.append([0] * pad + p)
        mask.append([0] * pad + [1] * len(p))
        pos.append([0] * pad + list(range(len(p))))
    logits, past = _forward(model, ids, mask, pos, None)
    entries = [logits[:, -1, :].clone()]
    next_pos = [len(p) for p in prompts]
    tokens = [[] for _ in range(b)]
    for _ in range(steps):
        tok = entries[-1].argmax(-1).tolist()
        for r in range(b):
            tokens[r].append(tok[r])
            mask[r].append(1)
        logits, past = _forward(model, [[t] for t in tok], mask, [[q] for q in next_pos], past)
        next_pos = [q + 1 for q in next_pos]
        entries.append(logits[:, -1, :].clone())

    # Self-check: the cached decode equals recomputing everything at once.
    full_ids = [ids[r] + tokens[r] for r in range(b)]
    full_pos = [pos[r] + list(range(len(prompts[r]), len(prompts[r]) + steps)) for r in range(b)]
    full_mask = mask
    full, _ = _forward(model, full_ids, full_mask, full_pos, None)
    diff = (full[:, -1, :] - entries[-1]).abs().max().item()
    if diff > 1e-4:
        raise RuntimeError(f"parity: cached decode differs from full recompute by {diff}")
    return entries, tokens


def write_parity(model, model_dir, sid_tokens=(), steps=5, seed=1234):
    model = model.eval().cpu()
    vocab = model.cfg.vocab
    rng = np.random.RandomState(seed)
    prompts = parity_prompts(vocab, list(sid_tokens), rng)
    entries, tokens = greedy_reference(model, prompts, steps)
    rows = len(prompts)
    if (steps + 1) * rows * vocab * 4 <= PARITY_MAX_BYTES:
        columns = None
    else:
        cols = sorted(set(int(t) for t in sid_tokens))[:256]
        have = set(cols)
        for c in np.linspace(0, vocab - 1, num=PARITY_SUBSET * 2).astype(int):
            if len(cols) >= PARITY_SUBSET:
                break
            if int(c) not in have:
                have.add(int(c))
                cols.append(int(c))
        columns = sorted(cols)
    with open(os.path.join(model_dir, "parity.bin"), "wb") as f:
        for e in entries:
            arr = e.numpy().astype("<f4")
            if columns is not None:
                arr = arr[:, columns]
            f.write(arr.tobytes())
    meta = {
        "format": 1,
        "about": "neo onnx parity fixture; see exporter/py/export.py",
        "vocab": vocab,
        "prompts": prompts,
        "steps": steps,
        "tokens": tokens,
        "columns": columns,
        "logits_file": "parity.bin",
        "logits_layout": "float32 LE [steps+1][rows][len(columns) or vocab]",
        "torch": torch.__version__,
    }
    with open(os.path.join(model_dir, "parity.json"), "w") as f:
        json.dump(meta, f)
        f.write("\n")
    return meta


def sid_token_ids(neo):
    """All SID token ids [sid_open, End) from a neo.json dict (or [])."""
    sid = (neo or {}).get("sid")
    if not sid:
        return []
    end = sid["code_base"][-1] + sid["code_count"][-1]
    return list(range(sid["sid_open"], end))


def load_checkpoint(path):
    """torch.load of a trusted checkpoint of ours. It holds RNG states (numpy
    arrays, tuples), which torch >= 2.6 refuses under its weights_only default."""
    kw = {"map_location": "cpu"}
    if "weights_only" in inspect.signature(torch.load).parameters:
        kw["weights_only"] = False
    return torch.load(path, **kw)


def load_final(model_dir):
    ck = load_checkpoint(os.path.join(model_dir, "ckpt", "final.pt"))
    model = Decoder(ModelConfig.from_json(ck["config"]))
    model.load_state_dict(ck["model"])
    return model


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", help="trained model directory (reads ckpt/final.pt and neo.json)")
    ap.add_argument("--random", action="store_true", help="export a random-weight model")
    ap.add_argument("--out", help="output directory (default: --model-dir)")
    ap.add_argument("--vocab", type=int, default=256)
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--kv-heads", type=int, default=1)
    ap.add_argument("--ffn", type=int, default=64)
    ap.add_argument("--untied", action="store_true")
    ap.add_argument("--init-scale", type=float, default=25.0, help="--random: weight scale over the std-0.02 init")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--steps", type=int, default=5, help="greedy decode steps in the parity fixture")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torchenv.use_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    out = args.out or args.model_dir
    if not out:
        ap.error("--out or --model-dir is required")
    os.makedirs(out, exist_ok=True)
    neo = None
    if args.random:
        cfg = ModelConfig(vocab=args.vocab, dim=args.dim, layers=args.layers, heads=args.heads,
                          kv_heads=args.kv_heads, ffn=args.ffn, tied=not args.untied).validate()
        model = Decoder(cfg)
        # Random init with std 0.02 gives near-uniform logits; scale the
        # weights up so that logits differ clearly and greedy tokens are not
        # decided by ties (too large a scale makes activations, and float32
        # rounding differences between runtimes, unrealistically large).
        with torch.no_grad():
            for p in model.parameters():
                if p.dim() > 1:
                    p.mul_(args.init_scale)
        sid = list(range(max(0, cfg.vocab - 64), cfg.vocab))
    else:
        if not args.model_dir:
            ap.error("--model-dir is required unless --random")
        model = load_final(args.model_dir)
        neo_path = os.path.join(args.model_dir, "neo.json")
        if os.path.exists(neo_path):
            with open(neo_path) as f:
                neo = json.load(f)
        sid = sid_token_ids(neo)
    path = export_onnx(model, os.path.join(out, "model.onnx"))
    meta = write_parity(model, out, sid, steps=args.steps)
    print(f"wrote {path} ({os.path.getsize(path)} bytes) and parity fixture "
          f"({len(meta['prompts'])} prompts, {meta['steps']} steps)")


if __name__ == "__main__":
    main()
