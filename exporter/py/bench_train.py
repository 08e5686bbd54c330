"""Times training steps of a train.py preset on random data, to size a
preset's step counts for a machine:

    /usr/bin/python3 exporter/py/bench_train.py --preset demo --vocab 6000 --seq 96 --threads 2

Prints seconds per step for a full-loss step (warmup), a completion-only
step (instruct, 40 % of positions) and a frozen-backbone step (ground), and
the projected time of the preset's step counts.
"""

import argparse
import time

import torchenv
from torchenv import torch

import train  # noqa: E402
from model import Decoder, ModelConfig, count_params  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="demo", choices=sorted(train.PRESETS))
    ap.add_argument("--vocab", type=int, default=6000)
    ap.add_argument("--seq", type=int, default=96, help="sequence length of the random batches")
    ap.add_argument("--steps", type=int, default=4, help="timed steps per kind (after one warm-up)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torchenv.use_threads(args.threads)
    torch.manual_seed(0)
    p = train.PRESETS[args.preset]
    cfg = ModelConfig(vocab=args.vocab, dim=p["dim"], layers=p["layers"], heads=p["heads"],
                      kv_heads=p["kv_heads"], ffn=p["ffn"])
    model = Decoder(cfg).to(args.device)
    b = max(1, p["batch_tokens"] // args.seq)
    ids = torch.randint(0, args.vocab, (b, args.seq), device=args.device)
    att = torch.ones_like(ids)
    pos = torch.arange(args.seq, device=args.device).expand(b, -1).contiguous()
    per = {}
    for stage, frac in (("warmup", 1.0), ("instruct", 0.4), ("ground", 0.4)):
        lm = (torch.rand(b, args.seq, device=args.device) < frac).float()
        opt = train.make_optimizer(model, stage, 1e-4)
        times = []
        for i in range(args.steps + 1):
            if args.device == "cuda":
                torch.cuda.synchronize()
            t = time.time()
            loss = train.lm_loss(model, ids, att, pos, lm)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if args.device == "cuda":
                torch.cuda.synchronize()
            if i:
                times.append(time.time() - t)
        per[stage] = sorted(times)[len(times) // 2]
        print(f"{stage:<9} {per[stage]:.3f} s/step  ({b}x{args.seq} tokens)", flush=True)
    total = sum(per[s] * n for s, n in zip(train.STAGES, p["steps"]))
    print(f"preset {args.preset}: {count_params(model) / 1e6:.2f}M params, steps {p['steps']}, "
          f"projected {total / 60:.1f} min on {args.threads} threads ({args.device})")


if __name__ == "__main__":
    main()
