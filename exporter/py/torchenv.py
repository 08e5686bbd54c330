"""The trainer's one torch set-up. Every script imports torch from here
(``from torchenv import torch``), so the environment torch needs is set once,
before it loads.

The scripts import each other as siblings (``from model import Decoder``):
run as ``python3 exporter/py/train.py`` or under ``unittest discover -s
exporter/py``, Python puts this folder on ``sys.path`` itself.
"""

import os

# Idle OpenMP threads sleep instead of spinning: on a shared 2-core machine
# spinning made training up to 20x slower. Must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402


def use_threads(n):
    """torch's intra-op threads (the scripts' --threads)."""
    if n < 1:
        raise ValueError(f"threads must be at least 1, got {n}")
    torch.set_num_threads(n)
