"""Teacher-forced SID accuracy of a trained model on any export's valid shard.

    /usr/bin/python3 exporter/py/accuracy.py --model MODEL_DIR --data EXPORT_DIR

train.py prints this table for its own export when training ends; this
re-measures a model's final weights (MODEL_DIR/ckpt/final.pt) on another
export of the same catalog, e.g. one whose valid prompts leave the target's
type out. The export must use the model's tokenizer and SIDs.
"""

import argparse
import json
import os

import torchenv
from torchenv import torch

from export import load_final  # noqa: E402
from train import Shard, sid_accuracy  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="model folder with ckpt/final.pt")
    ap.add_argument("--data", required=True, help="export folder (neo.json, shards/)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-tokens", type=int, default=4096)
    ap.add_argument("--eval-max", type=int, default=2000)
    args = ap.parse_args(argv)
    torchenv.use_threads(args.threads)
    with open(os.path.join(args.data, "neo.json")) as f:
        neo = json.load(f)
    with open(os.path.join(args.data, "shards", "manifest.json")) as f:
        manifest = json.load(f)
    model = load_final(args.model)
    if model.cfg.vocab != int(manifest["vocab_size"]):
        raise SystemExit(f"model vocab {model.cfg.vocab} != export vocab {manifest['vocab_size']}: not the same export")
    shard = Shard(os.path.join(args.data, "shards"), "valid", model.cfg.vocab, int(manifest["max_seq"]))
    acc, counts = sid_accuracy(model, shard, neo, "cpu", args.batch_tokens, args.eval_max)
    vals = [a for a in acc.values() if a is not None]
    tot = sum(counts.values())
    overall = sum(acc[k] * counts[k] for k in acc if acc[k] is not None) / tot if tot else 0.0
    print(json.dumps({"sid_accuracy": acc, "targets": counts, "all_target_tokens": round(overall, 4),
                      "levels_mean": round(sum(vals) / len(vals), 4) if vals else None}))


if __name__ == "__main__":
    main()
