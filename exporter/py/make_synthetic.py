"""Writes a small synthetic export folder in the layout `neo export` produces
(docs/CONTRACTS.md "Training shards"), for trainer smoke tests:

    /usr/bin/python3 exporter/py/make_synthetic.py --out /tmp/neo-syn [--items 60 --seed 1]

OUT/neo.json        vocab_size, max_seq, special token ids, a fake SID layout
                    (2 types, 3 semantic levels of 4 codes + a collision level of 2)
OUT/tokenizer.json  a word-level Hugging Face tokenizer over the fake words
OUT/shards/{warmup,ground,instruct,valid}.{ids,mask,offsets}.bin, manifest.json

Items are random "titles" of fake words. warmup: titles as plain text;
ground: title -> SID and SID -> title pairs; instruct: a query of some
title words -> SID (completion-only loss); valid: held-out query -> SID.
"""

import argparse
import hashlib
import json
import os
import random

import numpy as np

N_WORDS = 120
SPECIALS = ["<|bos|>", "<|eos|>", "<|user|>", "<|assistant|>", "<|fmt:ids|>", "<|fmt:text|>", "<|fmt:mixed|>"]
TYPES = ["handbag", "shoe"]
CODE_COUNT = [4, 4, 4, 2]  # 3 semantic levels + collision level
MAX_SEQ = 48


def layout():
    words = [f"w{i}" for i in range(N_WORDS)]
    vocab = ["<|pad|>", "<|unk|>"] + words
    special = {"<|pad|>": 0, "<|unk|>": 1}
    for s in SPECIALS:
        special[s] = len(vocab)
        vocab.append(s)
    sid_open = len(vocab)
    vocab += ["[SID]", "[/SID]"]
    type_base = len(vocab)
    vocab += [f"<type:{t}>" for t in TYPES]
    code_base = []
    for lvl, n in enumerate(CODE_COUNT):
        code_base.append(len(vocab))
        vocab += [f"<l{lvl}:{c}>" for c in range(n)]
    sid = {"sid_open": sid_open, "sid_close": sid_open + 1, "types": TYPES, "type_base": type_base,
           "code_base": code_base, "code_count": CODE_COUNT}
    special["[SID]"] = sid_open
    special["[/SID]"] = sid_open + 1
    return vocab, special, sid


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--items", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    vocab, special, sid = layout()
    word_ids = list(range(2, 2 + N_WORDS))
    S = special

    items, used = [], {}
    while len(items) < args.items:
        t = rng.randrange(len(TYPES))
        codes = [rng.randrange(n) for n in CODE_COUNT[:-1]]
        key = (t, *codes)
        coll = used.get(key, 0)  # collision level numbers items sharing codes
        if coll >= CODE_COUNT[-1]:
            continue
        used[key] = coll + 1
        title = [rng.choice(word_ids) for _ in range(rng.randint(3, 7))]
        items.append({"type": t, "codes": codes + [coll], "title": title})

    def span(it):
        toks = [sid["sid_open"], sid["type_base"] + it["type"]]
        toks += [sid["code_base"][l] + c for l, c in enumerate(it["codes"])]
        return toks + [sid["sid_close"]]

    def seq(prompt, completion):
        ids = [S["<|bos|>"], S["<|user|>"]] + prompt + [S["<|fmt:ids|>"], S["<|assistant|>"]]
        mask = [0] * len(ids)
        ids += completion + [S["<|eos|>"]]
        mask += [1] * (len(completion) + 1)
        return ids, mask

    stages = {"warmup": [], "ground": [], "instruct": [], "valid": []}
    for it in items:
        t = [S["<|bos|>"]] + it["title"] + [S["<|eos|>"]]
        stages["warmup"].append((t, [0] + [1] * (len(t) - 1)))
        stages["ground"].append(seq(it["title"], span(it)))
        stages["ground"].append(seq(span(it), it["title"]))
        for _ in range(2):
            q = rng.sample(it["title"], k=min(len(it["title"]), 2))
            stages["instruct"].append(seq(q, span(it)))
        q = rng.sample(it["title"], k=min(len(it["title"]), 3))
        stages["valid"].append(seq(q, span(it)))

    shards = os.path.join(args.out, "shards")
    os.makedirs(shards, exist_ok=True)
    manifest = {"stages": {}, "vocab_size": len(vocab), "max_seq": MAX_SEQ}
    h = hashlib.sha256()
    for name, seqs in stages.items():
        ids = np.array([x for s, _ in seqs for x in s], dtype="<i4")
        mask = np.array([x for _, m in seqs for x in m], dtype=np.uint8)
        offsets = np.zeros(len(seqs) + 1, dtype="<i8")
        offsets[1:] = np.cumsum([len(s) for s, _ in seqs])
        assert max(len(s) for s, _ in seqs) <= MAX_SEQ
        ids.tofile(os.path.join(shards, f"{name}.ids.bin"))
        mask.tofile(os.path.join(shards, f"{name}.mask.bin"))
        offsets.tofile(os.path.join(shards, f"{name}.offsets.bin"))
        h.update(ids.tobytes())
        manifest["stages"][name] = {"sequences": len(seqs), "tokens": int(len(ids)), "loss_tokens": int(mask.sum())}
    manifest["input_hash"] = "sha256:" + h.hexdigest()
    with open(os.path.join(shards, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)

    neo = {
        "format_version": 1,
        "prompt_version": 1,
        "vocab_size": len(vocab),
        "special": special,
        "sid": sid,
        "sid_levels": len(CODE_COUNT) - 1,
        "templates": {"search": ["{query}"], "recommend": ["{history}"], "explain": ["{history}"], "mixed": ["{query}"]},
        "max_seq": MAX_SEQ,
    }
    with open(os.path.join(args.out, "neo.json"), "w") as f:
        json.dump(neo, f, indent=1)
    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": v, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, v in enumerate(vocab) if not v.startswith("w")],
        "normalizer": None, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": None, "decoder": None,
        "model": {"type": "WordLevel", "vocab": {v: i for i, v in enumerate(vocab)}, "unk_token": "<|unk|>"},
    }
    with open(os.path.join(args.out, "tokenizer.json"), "w") as f:
        json.dump(tok, f)
    print(f"wrote {args.out}: vocab {len(vocab)}, {len(items)} items, "
          + ", ".join(f"{k} {v['sequences']}" for k, v in manifest["stages"].items()))


if __name__ == "__main__":
    main()
