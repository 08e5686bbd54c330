#!/usr/bin/env python3
"""How predictable is the first SID level of a user's next item?

    scripts/sid_markov.py DATA_DIR SIDS.tsv [SIDS.tsv ...]

DATA_DIR holds interactions.ndjson (the data folder format of
docs/CONTRACTS.md); each SIDS.tsv is an id<TAB>sid table, as a model
directory's sids.tsv or `neo sids --tsv FILE` writes it. For every table it
prints, for level 0 of the SIDs:

  H        entropy of the next item's code over train transitions (nats;
           log(codebook) when codes are used evenly);
  MI       mutual information between consecutive train items' codes;
  markov5  top-1 / top-3 accuracy of a first-order Markov chain on codes,
           fitted on train transitions and scoring each valid and test
           target from the user's last 5 earlier items (the mean of their
           transition rows).

A decoder cannot place the next item without its first code, so this is a
cheap way to compare SID designs for recommendation before training on
them; it says nothing about search. Standard library only.
"""

import collections
import json
import math
import os
import sys


def load_events(data_dir):
    users = collections.defaultdict(list)
    with open(os.path.join(data_dir, "interactions.ndjson")) as f:
        for line in f:
            if line.strip():
                e = json.loads(line)
                users[e["user"]].append((e.get("ts", 0), e["item"], e.get("split") or "train"))
    for ev in users.values():
        ev.sort(key=lambda x: (x[0], x[1], x[2]))  # as the exporter orders ties
    return users


def load_codes(path):
    codes = {}
    with open(path) as f:
        for line in f:
            item, key = line.rstrip("\n").split("\t")
            codes[item] = int(key.rsplit("-", 4)[1])  # type-l0-l1-l2-collision
    return codes


def analyse(users, code):
    trans = collections.defaultdict(collections.Counter)
    pairs = collections.Counter()
    for ev in users.values():
        seq = [code[i] for _, i, s in ev if s == "train" and i in code]
        for a, b in zip(seq, seq[1:]):
            trans[a][b] += 1
            pairs[a, b] += 1
    n = sum(pairs.values())
    pa, pb = collections.Counter(), collections.Counter()
    for (a, b), k in pairs.items():
        pa[a] += k
        pb[b] += k
    h = -sum(k / n * math.log(k / n) for k in pb.values())
    mi = sum(k / n * math.log(k * n / (pa[a] * pb[b])) for (a, b), k in pairs.items())
    top1 = top3 = total = 0
    for ev in users.values():
        hist = [code[i] for _, i, s in ev if s == "train" and i in code]
        for split in ("valid", "test"):
            target = [code[i] for _, i, s in ev if s == split and i in code]
            if not target or not hist:
                continue
            score = collections.Counter()
            for a in hist[-5:]:
                row = trans[a]
                tot = sum(row.values())
                for b, k in row.items():
                    score[b] += k / tot
            ranked = [b for b, _ in score.most_common(3)]
            total += 1
            top1 += bool(ranked) and target[0] == ranked[0]
            top3 += target[0] in ranked
            if split == "valid":
                hist = hist + target  # the test target may see the valid item
    return h, mi, top1 / max(total, 1), top3 / max(total, 1), total


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    users = load_events(argv[0])
    print(f"{'sids':<40} {'H':>6} {'MI':>7} {'markov5 top1':>13} {'top3':>6} {'targets':>8}")
    for path in argv[1:]:
        h, mi, t1, t3, n = analyse(users, load_codes(path))
        print(f"{path:<40} {h:6.3f} {mi:7.4f} {t1:13.3f} {t3:6.3f} {n:8d}")


if __name__ == "__main__":
    main(sys.argv[1:])
