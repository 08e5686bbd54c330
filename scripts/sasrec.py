#!/usr/bin/env python3
"""An item-ID SASRec, as a yardstick for neo's recommend numbers.

    scripts/sasrec.py DATA_DIR [--dim 128] [--layers 2] [--epochs 60] ...

Trains a standard self-attentive sequential recommender (Kang & McAuley,
2018: item-ID embeddings, causal attention, a softmax over every item, loss
on every next item) on the train interactions of DATA_DIR (the data folder
format of docs/CONTRACTS.md), and scores it with the protocol of
`neo eval`'s recommend block: for each user, the target is the `test` item
(or the `valid` one), the history is train (+ valid for test), history items
are excluded, and the whole catalog is ranked. It assumes leave-last-out
data with one item type, as `neo convert movielens` writes: it scores a
user's first target of the split only, skips users without train history,
and ranks every item (neo eval scores every target, and ranks the in-stock
items of the target's type).

It answers one question: is neo's gap to itemknn/seqknn on a dataset the
cost of generating SIDs, or what any neural sequence model of that size
reaches from scratch on that data and CPU? It is a diagnostic, not a neo
method. Every --eval-every epochs it prints one JSON line; the last line is
the summary, whose test metrics are those of the epoch with the best valid
HR@10 (chosen on valid, never on test).
"""

import argparse
import collections
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def load(data_dir):
    """Per user, item indexes (1-based; 0 pads) of each split in time order,
    ties in file order as `neo eval` orders a history; and the item count + 1.
    Events naming an item missing from the catalog are dropped."""
    items = {}
    with open(os.path.join(data_dir, "items.ndjson")) as f:
        for line in f:
            if line.strip():
                items.setdefault(json.loads(line)["id"], len(items) + 1)
    ev = collections.defaultdict(list)
    with open(os.path.join(data_dir, "interactions.ndjson")) as f:
        for pos, line in enumerate(f):
            if line.strip():
                e = json.loads(line)
                if e["item"] in items:
                    ev[e["user"]].append((e.get("ts", 0), pos, e["item"], e.get("split") or "train"))
    seqs = {}
    for u in sorted(ev):
        e = sorted(ev[u], key=lambda x: (x[0], x[1]))
        seqs[u] = {s: [items[i] for _, _, i, sp in e if sp == s] for s in ("train", "valid", "test")}
    return seqs, len(items) + 1


def attention_mask(x, heads):
    """The [B·heads, L, L] mask of nn.MultiheadAttention (True = may not
    attend) for left-padded x: causal, and no padding key. Each position may
    always see itself, so a padding query's row is never empty (NaN)."""
    n = x.shape[1]
    causal = torch.triu(torch.ones(n, n, dtype=torch.bool), 1)
    m = causal[None] | (x == 0)[:, None, :]
    m = m & ~torch.eye(n, dtype=torch.bool)[None]
    return m.repeat_interleave(heads, dim=0)


class Block(nn.Module):
    def __init__(self, dim, heads, p):
        super().__init__()
        self.n1 = nn.LayerNorm(dim)
        self.att = nn.MultiheadAttention(dim, heads, dropout=p, batch_first=True)
        self.n2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Dropout(p), nn.Linear(2 * dim, dim))
        self.drop = nn.Dropout(p)

    def forward(self, x, mask):
        h = self.n1(x)
        x = x + self.drop(self.att(h, h, h, attn_mask=mask, need_weights=False)[0])
        return x + self.drop(self.ff(self.n2(x)))


class SASRec(nn.Module):
    def __init__(self, n_items, dim, layers, heads, maxlen, p):
        super().__init__()
        self.dim, self.heads = dim, heads
        self.emb = nn.Embedding(n_items, dim, padding_idx=0)
        # The table is also the output layer: at N(0, 1) the initial logits
        # would have a standard deviation of sqrt(dim), far too confident.
        nn.init.normal_(self.emb.weight, std=dim ** -0.5)
        with torch.no_grad():
            self.emb.weight[0].zero_()
        self.pos = nn.Embedding(maxlen, dim)
        self.blocks = nn.ModuleList(Block(dim, heads, p) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.drop = nn.Dropout(p)

    def forward(self, x):
        """Hidden states [B, L, dim] of left-padded item indexes x [B, L]."""
        n = x.shape[1]
        # Positions count back from the newest item, so an item's position
        # does not depend on how long the batch's longest history is.
        pos = self.pos(torch.arange(n - 1, -1, -1))[None]
        h = self.drop(self.emb(x) * math.sqrt(self.dim) + pos)
        h = h * (x > 0).unsqueeze(-1)  # padding carries nothing
        mask = attention_mask(x, self.heads)
        for blk in self.blocks:
            h = blk(h, mask)
        return self.norm(h)

    def scores(self, h):
        return h @ self.emb.weight.T  # tied output: one vector per item


def left_pad(rows):
    n = max(len(r) for r in rows)
    return torch.tensor([[0] * (n - len(r)) + r for r in rows], dtype=torch.long)


def evaluate(model, seqs, split, maxlen, k=10):
    """HR@k, NDCG@k and their count over users with a target in split."""
    model.eval()
    hr = ndcg = 0.0
    n = 0
    users = [u for u in seqs if seqs[u][split] and seqs[u]["train"]]
    with torch.no_grad():
        for i in range(0, len(users), 64):
            batch = users[i:i + 64]
            hists = [seqs[u]["train"] + (seqs[u]["valid"] if split == "test" else []) for u in batch]
            sc = model.scores(model(left_pad([h[-maxlen:] for h in hists]))[:, -1])
            sc[:, 0] = -math.inf
            for r, (u, h) in enumerate(zip(batch, hists)):
                n += 1
                target = seqs[u][split][0]
                if target in h:  # a repeat cannot be recommended: a miss
                    continue
                row = sc[r]
                row[h] = -math.inf
                # Float scores: a tie with the target is practically
                # impossible; if one happens it counts for the target.
                rank = int((row > row[target]).sum())
                if rank < k:
                    hr += 1
                    ndcg += 1 / math.log2(rank + 2)
    model.train()
    return (hr / n if n else 0.0), (ndcg / n if n else 0.0), n


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data_dir")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--maxlen", type=int, default=200, help="history items the model reads")
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=32, help="users per step")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--eval-every", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    for name in ("dim", "layers", "heads", "maxlen", "batch", "epochs", "eval_every", "threads"):
        if getattr(a, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")
    if a.dim % a.heads:
        ap.error("--dim must be a multiple of --heads")
    if not 0 <= a.dropout < 1:
        ap.error("--dropout must be in [0, 1)")
    if a.lr <= 0:
        ap.error("--lr must be positive")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    seqs, n_items = load(a.data_dir)
    train_users = [u for u in seqs if len(seqs[u]["train"]) >= 2]
    if not train_users:
        sys.exit("sasrec: no user has two train interactions")
    model = SASRec(n_items, a.dim, a.layers, a.heads, a.maxlen, a.dropout)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    params = sum(p.numel() for p in model.parameters())
    best = None
    t0 = time.time()
    steps = 0
    for ep in range(1, a.epochs + 1):
        rng.shuffle(train_users)
        total, batches = 0.0, 0
        for i in range(0, len(train_users), a.batch):
            rows = []
            for u in train_users[i:i + a.batch]:
                s = seqs[u]["train"]
                if len(s) > a.maxlen + 1:  # a random window of long histories
                    st = rng.randint(0, len(s) - a.maxlen - 1)
                    s = s[st:st + a.maxlen + 1]
                rows.append(s)
            x, y = left_pad([r[:-1] for r in rows]), left_pad([r[1:] for r in rows])
            sel = y > 0
            loss = F.cross_entropy(model.scores(model(x)[sel]), y[sel])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss)
            batches += 1
            steps += 1
        if ep % a.eval_every == 0 or ep == a.epochs:
            v = evaluate(model, seqs, "valid", a.maxlen)
            t = evaluate(model, seqs, "test", a.maxlen)
            row = {"epoch": ep, "steps": steps, "loss": round(total / batches, 4),
                   "valid_hr@10": round(v[0], 4), "test_hr@10": round(t[0], 4), "test_ndcg@10": round(t[1], 4),
                   "test_hr@10_se": round(math.sqrt(t[0] * (1 - t[0]) / max(1, t[2])), 4),
                   "seconds": round(time.time() - t0, 1)}
            print(json.dumps(row), flush=True)
            if best is None or row["valid_hr@10"] > best["valid_hr@10"]:
                best = row
    print(json.dumps({"summary": True, "params": params, "config": vars(a), "best_by_valid": best,
                      "seconds": round(time.time() - t0, 1)}), flush=True)


if __name__ == "__main__":
    main()
