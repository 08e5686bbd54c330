"""neo trainer: three-stage training of the Llama-style decoder on the shards
`neo export` writes, then ONNX export and the Go parity fixture.

    /usr/bin/python3 exporter/py/train.py --data EXPORT_DIR --out MODEL_DIR --preset demo
        [--steps-warmup N --steps-ground N --steps-instruct N]
        [--device auto|cpu|cuda --threads 2 --seed 1 --resume]

Stages (docs/CONTRACTS.md, DESIGN.md "Training"):
  1. warmup    all weights, next-token loss where mask=1 (catalog text)
  2. ground    backbone frozen; only the SID token rows [sid_open, End) of the
               embedding and of the output matrix train (one matrix when tied;
               the gradient of every other row is zeroed and those rows are
               restored after each step, so they stay bit-identical)
  3. instruct  all weights, loss on completions (mask=1)
Each stage: AdamW, linear warm-up then cosine decay to 10 %, gradient
clipping at 1.0, deterministic batches (a function of seed, stage and step,
so --resume continues with exactly the batches an uninterrupted run would
have used).

Checkpoints (model, optimizer, stage, step, RNG states, loss log) go to
MODEL_DIR/ckpt/last.pt every --ckpt-every steps, at the end of each stage and
on SIGINT/SIGTERM; --resume continues from there. After training: teacher-
forced top-1 accuracy of the SID tokens on the valid shard per level, then
MODEL_DIR/model.onnx, parity.json/.bin, neo.json (+model, +training) and
tokenizer.json. Final weights: MODEL_DIR/ckpt/final.pt (export.py re-exports
from it).
"""

import argparse
import hashlib
import json
import math
import os
import random
import shutil
import signal
import sys
import time

import numpy as np

import torchenv
from torchenv import torch
import torch.nn.functional as F

from export import export_onnx, load_checkpoint, sid_token_ids, write_parity  # noqa: E402
from model import Decoder, ModelConfig, count_params  # noqa: E402

STAGES = ("warmup", "ground", "instruct")

# Presets. steps = (warmup, ground, instruct); batch_tokens = padded tokens
# per batch; lr = peak learning rate per stage.
#
#   preset  dim layers heads kv ffn  steps            batch  params(V=6k) onnx
#   tiny     32   2     2    1   64  (30, 15, 30)       1024   ~0.2M      <1 MB   CI smoke, < 1 min
#   small    64   2     4    2  192  (300, 150, 300)    2048   ~0.5M      ~2 MB   quick experiments
#   demo    128   4     4    2  384  (600, 500, 5000)   4096   ~1.1M      ~4.6 MB demo model, ~27 min on 2 idle CPU cores
PRESETS = {
    "tiny": dict(dim=32, layers=2, heads=2, kv_heads=1, ffn=64, steps=(30, 15, 30), batch_tokens=1024,
                 lr=(3e-3, 5e-3, 2e-3), ckpt_every=10, log_every=5),
    "small": dict(dim=64, layers=2, heads=4, kv_heads=2, ffn=192, steps=(300, 150, 300), batch_tokens=2048,
                  lr=(2e-3, 5e-3, 1e-3), ckpt_every=100, log_every=20),
    "demo": dict(dim=128, layers=4, heads=4, kv_heads=2, ffn=384, steps=(600, 500, 5000), batch_tokens=4096,
                 lr=(1.5e-3, 5e-3, 8e-4), ckpt_every=100, log_every=20),
}
WEIGHT_DECAY = 0.1
MIN_LR_RATIO = 0.1
CLIP = 1.0
LOSS_POINTS = 50


def log(*a):
    print(*a, flush=True)


# ---------------------------------------------------------------- data


class Shard:
    """One stage's sequences: ids int32, mask uint8, offsets int64 (n+1)."""

    def __init__(self, folder, name, vocab, max_seq):
        p = os.path.join(folder, name)
        self.name = name
        if not os.path.exists(p + ".ids.bin"):
            self.ids = np.zeros(0, np.int32)
            self.mask = np.zeros(0, np.uint8)
            self.offsets = np.zeros(1, np.int64)
        else:
            self.ids = np.fromfile(p + ".ids.bin", dtype="<i4")
            self.mask = np.fromfile(p + ".mask.bin", dtype=np.uint8)
            self.offsets = np.fromfile(p + ".offsets.bin", dtype="<i8")
        n = len(self.ids)
        if len(self.mask) != n:
            raise SystemExit(f"shard {name}: {len(self.mask)} mask bytes for {n} ids")
        if len(self.offsets) < 1 or self.offsets[0] != 0 or self.offsets[-1] != n or np.any(np.diff(self.offsets) < 0):
            raise SystemExit(f"shard {name}: offsets do not partition the {n} ids")
        if n and (self.ids.min() < 0 or self.ids.max() >= vocab):
            raise SystemExit(f"shard {name}: token ids outside [0,{vocab})")
        self.lengths = np.minimum(np.diff(self.offsets), max_seq)
        if np.any(np.diff(self.offsets) > max_seq):
            log(f"warning: shard {name}: sequences longer than max_seq={max_seq} are truncated")

    def __len__(self):
        return len(self.offsets) - 1

    def seq(self, i):
        a = self.offsets[i]
        b = a + self.lengths[i]
        return self.ids[a:b], self.mask[a:b]


def epoch_batches(shard, batch_tokens, seed):
    """One epoch of batches (lists of sequence indices): a seeded
    permutation, cut into chunks that are sorted by length (little padding)
    and split by a padded-token budget; batch order then shuffled."""
    rng = np.random.RandomState(seed)
    perm = rng.permutation(len(shard))
    chunk = 64 * max(1, batch_tokens // max(1, int(shard.lengths.max())))
    batches = []
    for c in range(0, len(perm), chunk):
        part = sorted(perm[c:c + chunk], key=lambda i: (shard.lengths[i], i))
        cur, longest = [], 0
        for i in part:
            longest2 = max(longest, int(shard.lengths[i]))
            if cur and longest2 * (len(cur) + 1) > batch_tokens:
                batches.append(cur)
                cur, longest2 = [], int(shard.lengths[i])
            cur.append(int(i))
            longest = longest2
        if cur:
            batches.append(cur)
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


class Schedule:
    """Batch for step k of a stage, deterministic in (seed, stage, k)."""

    def __init__(self, shard, batch_tokens, seed, stage_index):
        self.shard, self.batch_tokens = shard, batch_tokens
        self.seed = seed * 1000 + stage_index * 100
        self.batches, self.epochs = [], 0

    def batch(self, k):
        while k >= len(self.batches):
            self.batches += epoch_batches(self.shard, self.batch_tokens, self.seed + self.epochs)
            self.epochs += 1
        return self.batches[k]


def collate(shard, idx, device):
    """Right-padded tensors: ids, attention mask, positions, loss mask."""
    n = max(int(shard.lengths[i]) for i in idx)
    ids = np.zeros((len(idx), n), np.int64)
    att = np.zeros((len(idx), n), np.int64)
    loss = np.zeros((len(idx), n), np.float32)
    for r, i in enumerate(idx):
        s, m = shard.seq(i)
        ids[r, :len(s)] = s
        att[r, :len(s)] = 1
        loss[r, :len(s)] = m
    pos = np.broadcast_to(np.arange(n, dtype=np.int64), (len(idx), n)).copy()
    t = lambda a: torch.from_numpy(a).to(device)  # noqa: E731
    return t(ids), t(att), t(pos), t(loss)


def lm_loss(model, ids, att, pos, lossmask):
    """Mean cross-entropy over positions whose token has mask 1: the hidden
    state at t-1 predicts token t. Only those positions are projected to the
    vocabulary (the projection dominates the cost on small models)."""
    h, _ = model.hidden(ids, att, pos)
    sel = lossmask[:, 1:] > 0
    hs = h[:, :-1][sel]
    if hs.shape[0] == 0:
        return None
    logits = F.linear(hs, model.output_weight())
    return F.cross_entropy(logits.float(), ids[:, 1:][sel])


# ---------------------------------------------------------------- training


def lr_at(step, total, peak):
    warm = max(1, min(100, total // 10))
    if step < warm:
        return peak * (step + 1) / warm
    p = (step - warm) / max(1, total - warm)
    return peak * (MIN_LR_RATIO + (1 - MIN_LR_RATIO) * 0.5 * (1 + math.cos(math.pi * min(1.0, p))))


def sid_range(neo):
    sid = neo["sid"]
    return sid["sid_open"], sid["code_base"][-1] + sid["code_count"][-1]


def stage_params(model, stage):
    """Parameters trained in a stage (and requires_grad set accordingly)."""
    frozen = stage == "ground"
    for p in model.parameters():
        p.requires_grad_(not frozen)
    if not frozen:
        decay = [p for p in model.parameters() if p.dim() >= 2]
        other = [p for p in model.parameters() if p.dim() < 2]
        return [{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": other, "weight_decay": 0.0}]
    rows = [model.embed.weight] + ([] if model.lm_head is None else [model.lm_head.weight])
    for p in rows:
        p.requires_grad_(True)
    return [{"params": rows, "weight_decay": 0.0}]


def make_optimizer(model, stage, lr):
    return torch.optim.AdamW(stage_params(model, stage), lr=lr, betas=(0.9, 0.95), eps=1e-8)


def rng_state():
    st = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_state(st):
    torch.set_rng_state(st["torch"])
    np.random.set_state(st["numpy"])
    random.setstate(st["python"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def save_ckpt(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)  # atomic: an interrupted save never corrupts last.pt


class Stop(Exception):
    pass


def sample_curve(losses, points=LOSS_POINTS):
    """~points (step, mean loss of the window ending there) pairs."""
    n = len(losses)
    if n == 0:
        return []
    w = max(1, math.ceil(n / points))
    out = []
    for end in range(w, n + w, w):
        end = min(end, n)
        win = [x for x in losses[max(0, end - w):end] if x == x]  # drop NaN (batch without loss tokens)
        if win:
            out.append([end, round(float(sum(win) / len(win)), 5)])
    return out


def stage_log(name, losses, seconds, tokens, lr):
    k = min(10, len(losses))
    return {
        "name": name,
        "steps": len(losses),
        "seconds": round(seconds, 2),
        "tokens": int(tokens),
        "peak_lr": lr,
        "start_loss": round(float(np.nanmean(losses[:k])), 5) if k else None,
        "end_loss": round(float(np.nanmean(losses[-k:])), 5) if k else None,
        "loss": sample_curve(losses),
    }


# ---------------------------------------------------------------- evaluation


@torch.no_grad()
def sid_accuracy(model, shard, neo, device, batch_tokens, max_seqs):
    """Teacher-forced top-1 accuracy on SID target tokens (mask=1), per
    level: the type token, then each code level l0..lN."""
    sid = neo["sid"]
    levels = ["type"] + [f"l{i}" for i in range(len(sid["code_base"]))]
    bounds = [sid["type_base"]] + list(sid["code_base"]) + [sid["code_base"][-1] + sid["code_count"][-1]]
    bounds_t = torch.tensor(bounds, device=device)
    hit = np.zeros(len(levels), np.int64)
    tot = np.zeros(len(levels), np.int64)
    model.eval()
    n = min(len(shard), max_seqs)
    idx = sorted(range(n), key=lambda i: shard.lengths[i])
    longest = int(shard.lengths[:n].max()) if n else 1
    per = max(1, batch_tokens // longest)
    for b in range(0, n, per):
        ids, att, pos, lossmask = collate(shard, idx[b:b + per], device)
        logits, _ = model(ids, att, pos)
        pred = logits[:, :-1].argmax(-1)
        tgt = ids[:, 1:]
        sel = lossmask[:, 1:] > 0
        # level index of each target: bucket by the SID block boundaries
        lvl = torch.bucketize(tgt.contiguous(), bounds_t, right=True) - 1
        ok = sel & (tgt >= bounds[0]) & (tgt < bounds[-1])
        for l in range(len(levels)):
            m = ok & (lvl == l)
            tot[l] += int(m.sum())
            hit[l] += int((m & (pred == tgt)).sum())
    model.train()
    acc = {lv: (round(float(hit[i] / tot[i]), 4) if tot[i] else None) for i, lv in enumerate(levels)}
    counts = {lv: int(tot[i]) for i, lv in enumerate(levels)}
    return acc, counts


# ---------------------------------------------------------------- main


def parse(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="export folder (neo.json, tokenizer.json, shards/)")
    ap.add_argument("--out", required=True, help="model folder to write")
    ap.add_argument("--preset", default="demo", choices=sorted(PRESETS))
    for s in STAGES:
        ap.add_argument(f"--steps-{s}", type=int, default=None, help=f"{s} steps (preset default)")
    ap.add_argument("--batch-tokens", type=int, default=None, help="padded tokens per batch (preset default)")
    ap.add_argument("--lr", default=None, help="peak learning rates per stage, 'W,G,I' (preset default)")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--resume", action="store_true", help="continue from MODEL_DIR/ckpt/last.pt")
    ap.add_argument("--ckpt-every", type=int, default=None)
    ap.add_argument("--log-every", type=int, default=None)
    ap.add_argument("--eval-max", type=int, default=2000, help="valid sequences evaluated")
    ap.add_argument("--dropout", type=float, default=0.0,
                    help="dropout probability while training (embeddings, residual branches); "
                         "regularises small data sets, changes nothing in the exported model")
    ap.add_argument("--untied", action="store_true", help="separate output matrix")
    ap.add_argument("--stop-after", type=int, default=0,
                    help="testing: checkpoint and stop after this many steps in this run, as if interrupted")
    ap.add_argument("--no-export", action="store_true", help="skip model.onnx and the parity fixture")
    ap.add_argument("--from", dest="init_from", default=None, metavar="MODEL_DIR",
                    help="warm start from a trained model directory (its ckpt/final.pt) of the same preset on a "
                         "changed catalog: token rows are copied by token text, new rows start from the mean of "
                         "their kind (the SID level, or text); pair with short --steps-* (e.g. 0,200,1000)")
    return ap.parse_args(argv)


def token_texts(path):
    """The token text of every id of a tokenizer.json (BPE vocabulary and
    added tokens)."""
    with open(path) as f:
        t = json.load(f)
    out = {}
    for text, i in t["model"]["vocab"].items():
        out[int(i)] = text
    for a in t.get("added_tokens", []):
        out[int(a["id"])] = a["content"]
    return out


def token_kind(text):
    """The family a new token's row starts from: an SID level, the SID type
    tokens, or text."""
    if text.startswith("<l") and ":" in text and text.endswith(">"):
        return text.split(":")[0]
    if text.startswith("<type:"):
        return "type"
    return "text"


def warm_start(model, from_dir, data_dir):
    """Loads the weights of from_dir's final checkpoint into model, whose
    vocabulary is the export's: every row of a token the old vocabulary has
    is copied (by its text), the others start from the mean of the old rows
    of their kind. Returns a summary for neo.json."""
    path = os.path.join(from_dir, "ckpt", "final.pt")
    if not os.path.exists(path):
        raise SystemExit(f"--from: no {path} (a model trained by neo train keeps its final weights there)")
    ck = load_checkpoint(path)
    old_cfg, new_cfg = ck["config"], model.cfg.to_json()
    for k in ("dim", "layers", "heads", "kv_heads", "ffn", "tied"):
        if old_cfg.get(k) != new_cfg.get(k):
            raise SystemExit(f"--from: {from_dir} has {k} {old_cfg.get(k)}, this preset {new_cfg.get(k)}")
    old_text = token_texts(os.path.join(from_dir, "tokenizer.json"))
    new_text = token_texts(os.path.join(data_dir, "tokenizer.json"))
    old_id = {t: i for i, t in old_text.items()}
    old, new = ck["model"], model.state_dict()
    rows = [k for k in ("embed.weight", "lm_head.weight") if k in old and k in new]
    copied = 0
    with torch.no_grad():
        for name, t in old.items():
            if name in rows or name not in new:
                continue
            if new[name].shape != t.shape:
                raise SystemExit(f"--from: weight {name} has shape {tuple(t.shape)}, this model {tuple(new[name].shape)}")
            new[name].copy_(t)
        for name in rows:
            src, dst = old[name], new[name]
            means = {}
            for kind in {token_kind(t) for t in old_text.values()}:
                ids = [i for i, t in old_text.items() if token_kind(t) == kind and i < src.shape[0]]
                if ids:
                    means[kind] = src[ids].mean(0)
            copied = 0
            for i in range(dst.shape[0]):
                t = new_text.get(i)
                if t is not None and t in old_id and old_id[t] < src.shape[0]:
                    dst[i].copy_(src[old_id[t]])
                    copied += 1
                elif t is not None and token_kind(t) in means:
                    dst[i].copy_(means[token_kind(t)])
    model.load_state_dict(new)
    log(f"--from {from_dir}: {copied} of {len(new_text)} token rows copied by text, the rest from their kind's mean")
    return {"from": os.path.abspath(from_dir), "rows_copied": copied, "rows": len(new_text)}


def main(argv=None):
    args = parse(argv)
    preset = PRESETS[args.preset]
    torchenv.use_threads(args.threads)
    if args.device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    else:
        device = args.device
        if device == "cuda" and not torch.cuda.is_available():
            raise SystemExit("--device cuda: CUDA is not available")

    with open(os.path.join(args.data, "neo.json")) as f:
        neo = json.load(f)
    shards_dir = os.path.join(args.data, "shards")
    with open(os.path.join(shards_dir, "manifest.json")) as f:
        manifest = json.load(f)
    vocab = int(neo.get("vocab_size") or manifest["vocab_size"])
    max_seq = int(manifest.get("max_seq") or neo.get("max_seq") or 256)
    data_hash = manifest.get("input_hash") or hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
    sid_lo, sid_hi = sid_range(neo)
    shards = {s: Shard(shards_dir, s, vocab, max_seq) for s in STAGES + ("valid",)}
    steps = {s: (getattr(args, f"steps_{s}") if getattr(args, f"steps_{s}") is not None else preset["steps"][i])
             for i, s in enumerate(STAGES)}
    batch_tokens = args.batch_tokens or preset["batch_tokens"]
    ckpt_every = args.ckpt_every or preset["ckpt_every"]
    log_every = args.log_every or preset["log_every"]

    cfg = ModelConfig(vocab=vocab, dim=preset["dim"], layers=preset["layers"], heads=preset["heads"],
                      kv_heads=preset["kv_heads"], ffn=preset["ffn"], max_seq=max_seq,
                      tied=not args.untied).validate()
    ckpt_dir = os.path.join(args.out, "ckpt")
    last = os.path.join(ckpt_dir, "last.pt")
    os.makedirs(args.out, exist_ok=True)

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    model = Decoder(cfg)
    model.set_dropout(args.dropout)
    stage_i, step, logs, losses, seconds, tokens = 0, 0, [], [], 0.0, 0
    opt_state = None
    warm = None
    if args.init_from and not (args.resume and os.path.exists(last)):
        warm = warm_start(model, args.init_from, args.data)
    if args.resume and os.path.exists(last):
        ck = load_checkpoint(last)
        if ck["config"] != cfg.to_json():
            raise SystemExit(f"--resume: checkpoint {last} has model {ck['config']}, preset gives {cfg.to_json()}")
        if ck["data_hash"] != data_hash:
            raise SystemExit(f"--resume: checkpoint {last} was trained on other data ({ck['data_hash']}); drop --resume")
        if ck.get("dropout", 0.0) != args.dropout:
            raise SystemExit(f"--resume: checkpoint was trained with --dropout {ck.get('dropout', 0.0)}, "
                             f"this run asks for {args.dropout}")
        if ck["steps"] != steps or ck["seed"] != args.seed:
            raise SystemExit(f"--resume: checkpoint has steps {ck['steps']} seed {ck['seed']}, "
                             f"this run asks for {steps} seed {args.seed}")
        model.load_state_dict(ck["model"])
        stage_i, step, logs = ck["stage"], ck["step"], ck["logs"]
        losses, seconds, tokens = ck["losses"], ck["seconds"], ck["tokens"]
        opt_state = ck["optimizer"]
        set_rng_state(ck["rng"])
        where = STAGES[stage_i] if stage_i < len(STAGES) else "done"
        log(f"resuming from {last}: stage {where}, step {step}")
    elif args.resume:
        log(f"--resume: no checkpoint at {last}, starting fresh")
    model.to(device).train()
    log(f"neo train: preset {args.preset}, {count_params(model) / 1e6:.2f}M params, vocab {vocab}, "
        f"max_seq {max_seq}, device {device}, threads {args.threads}, seed {args.seed}")
    log("  " + ", ".join(f"{s} {steps[s]} steps / {len(shards[s])} seqs" for s in STAGES)
        + f", valid {len(shards['valid'])} seqs, batch {batch_tokens} tokens")

    # Interrupts finish the current step, checkpoint and exit (resumable).
    stop = {"sig": None}

    def on_signal(sig, _frame):
        if stop["sig"] is not None:
            raise KeyboardInterrupt
        stop["sig"] = sig
        log(f"signal {sig}: checkpointing after this step (again to abort)")

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    def checkpoint(opt):
        save_ckpt(last, {
            "config": cfg.to_json(), "preset": args.preset, "seed": args.seed, "steps": steps,
            "dropout": args.dropout, "data_hash": data_hash, "model": model.state_dict(),
            "optimizer": opt.state_dict() if opt is not None else None,
            "stage": stage_i, "step": step, "logs": logs, "losses": losses,
            "seconds": seconds, "tokens": tokens, "rng": rng_state(),
        })

    run_steps = 0
    while stage_i < len(STAGES):
        name = STAGES[stage_i]
        lrs = [float(x) for x in args.lr.split(",")] if args.lr else preset["lr"]
        shard, total, peak = shards[name], steps[name], lrs[stage_i]
        if len(shard) == 0 or total == 0:
            if step == 0:
                log(f"[{name}] skipped ({len(shard)} sequences, {total} steps)")
            logs.append(stage_log(name, [], 0, 0, peak))
            stage_i, step, losses, seconds, tokens, opt_state = stage_i + 1, 0, [], 0.0, 0, None
            continue
        opt = make_optimizer(model, name, peak)
        if opt_state is not None:
            opt.load_state_dict(opt_state)
            opt_state = None
        sched = Schedule(shard, batch_tokens, args.seed, stage_i)
        freeze_rows = None
        if name == "ground":
            w = model.output_weight()
            freeze_rows = [(p, p.detach().clone()) for p in {id(q): q for q in [model.embed.weight, w]}.values()]
        t_log, tok_log = time.time(), 0
        while step < total:
            t0 = time.time()
            lr = lr_at(step, total, peak)
            for g in opt.param_groups:
                g["lr"] = lr
            ids, att, pos, lm = collate(shard, sched.batch(step), device)
            loss = lm_loss(model, ids, att, pos, lm)
            opt.zero_grad(set_to_none=True)
            if loss is not None:
                loss.backward()
                if freeze_rows:
                    for p, _ in freeze_rows:
                        p.grad[:sid_lo].zero_()
                        p.grad[sid_hi:].zero_()
                torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], CLIP)
                opt.step()
                if freeze_rows:
                    with torch.no_grad():
                        for p, orig in freeze_rows:
                            p[:sid_lo] = orig[:sid_lo]
                            p[sid_hi:] = orig[sid_hi:]
            lv = float(loss.item()) if loss is not None else float("nan")
            losses.append(lv)
            ntok = int(att.sum())
            tokens += ntok
            tok_log += ntok
            step += 1
            run_steps += 1
            seconds += time.time() - t0
            if step % log_every == 0 or step == total:
                now = time.time()
                tps = tok_log / max(1e-9, now - t_log)
                t_log, tok_log = now, 0
                recent = losses[-log_every:]
                log(f"[{name}] step {step}/{total} loss {np.mean(recent):.4f} lr {lr:.2e} "
                    f"tok/s {tps:,.0f} elapsed {seconds:.0f}s")
            interrupted = stop["sig"] is not None or (args.stop_after and run_steps >= args.stop_after)
            if step % ckpt_every == 0 or interrupted:
                checkpoint(opt)
            if interrupted:
                log(f"stopped at stage {name} step {step}; continue with --resume")
                if stop["sig"] is not None:
                    sys.exit(128 + stop["sig"])
                sys.exit(0)
        logs.append(stage_log(name, losses, seconds, tokens, peak))
        log(f"[{name}] done: {step} steps, {seconds:.1f}s, loss {logs[-1]['start_loss']} -> {logs[-1]['end_loss']}")
        stage_i, step, losses, seconds, tokens = stage_i + 1, 0, [], 0.0, 0
        checkpoint(None)

    # Evaluation, weights, export.
    acc, counts = sid_accuracy(model, shards["valid"], neo, device, batch_tokens, args.eval_max)
    log("SID teacher-forced top-1 accuracy on valid:")
    log(f"  {'level':<6} {'targets':>8} {'accuracy':>9}")
    for lv in acc:
        a = "-" if acc[lv] is None else f"{acc[lv]:.4f}"
        log(f"  {lv:<6} {counts[lv]:>8} {a:>9}")
    model = model.cpu().eval()
    save_ckpt(os.path.join(ckpt_dir, "final.pt"), {"config": cfg.to_json(), "model": model.state_dict()})
    out_neo = dict(neo)
    out_neo["model"] = {"layers": cfg.layers, "heads": cfg.heads, "kv_heads": cfg.kv_heads, "dim": cfg.dim,
                        "head_dim": cfg.head_dim, "ffn": cfg.ffn, "tied": cfg.tied, "rope_theta": cfg.rope_theta,
                        "vocab": cfg.vocab, "max_seq": cfg.max_seq, "norm_eps": cfg.norm_eps,
                        "params": count_params(model)}
    out_neo["training"] = {
        "preset": args.preset, "seed": args.seed, "data_hash": data_hash, "device": device,
        "threads": args.threads, "torch": torch.__version__, "batch_tokens": batch_tokens,
        "stages": logs, "sid_accuracy": acc, "sid_accuracy_targets": counts,
    }
    if args.dropout > 0:  # absent at 0, so dropout-free models keep their neo.json
        out_neo["training"]["dropout"] = args.dropout
    if warm is not None:
        out_neo["training"]["warm_start"] = warm
    if not args.no_export:
        t0 = time.time()
        export_onnx(model, os.path.join(args.out, "model.onnx"))
        write_parity(model, args.out, sid_token_ids(neo))
        log(f"exported {os.path.join(args.out, 'model.onnx')} "
            f"({os.path.getsize(os.path.join(args.out, 'model.onnx')) / 1e6:.2f} MB) in {time.time() - t0:.1f}s")
    # the tokenizer and the items' SIDs travel with the model: serving must
    # use exactly the SIDs the model was trained on
    for name in ("tokenizer.json", "sids.tsv"):
        src = os.path.join(args.data, name)
        if os.path.exists(src) and os.path.abspath(src) != os.path.abspath(os.path.join(args.out, name)):
            shutil.copyfile(src, os.path.join(args.out, name))
    with open(os.path.join(args.out, "neo.json.tmp"), "w") as f:
        json.dump(out_neo, f, indent=1)
        f.write("\n")
    os.replace(os.path.join(args.out, "neo.json.tmp"), os.path.join(args.out, "neo.json"))
    log(f"wrote {args.out}/neo.json")


if __name__ == "__main__":
    main()
