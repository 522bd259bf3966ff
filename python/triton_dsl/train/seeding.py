"""Deterministic seeding of every generator a training run draws from.

Python's `random`, NumPy and PyTorch (CPU and every GPU) are seeded from one number, so two
runs with the same seed initialize the same weights; data order is seeded separately by
`triton_dsl.data` from (seed, epoch), which is what makes `--resume` exact.
"""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
