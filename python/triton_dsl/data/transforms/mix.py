"""Batch-level mixup and cutmix, on whatever device the batch is on.

torchvision.transforms.v2 has `MixUp`/`CutMix`, but they draw from the global torch RNG
and have no probability; here every random number comes from a NumPy generator the loader
seeds from (seed, epoch), so a resumed run mixes exactly as the original did, and nothing
random is drawn on the GPU, so mixing never waits on the device.

The partner of each sample is the next one in the batch (`roll(1)`), as in torchvision.
Targets come back as float32 probabilities `[N, num_classes]`, for every batch (mixed or
not) once mixing is configured, so their type does not change from batch to batch;
`torch.nn.functional.cross_entropy` takes them directly, label smoothing included.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from triton_dsl.data.transforms.config import Mix


class BatchMixer:
    """Applies mixup or cutmix (one of them, 50/50, when both are configured) to a batch."""

    def __init__(self, mixup: Mix | None, cutmix: Mix | None, num_classes: int) -> None:
        self.mixup = mixup
        self.cutmix = cutmix
        self.num_classes = num_classes

    def __bool__(self) -> bool:
        return self.mixup is not None or self.cutmix is not None

    def _soft(self, y: torch.Tensor) -> torch.Tensor:
        # scatter_ rather than F.one_hot: on CUDA one_hot checks the label range, which
        # reads the labels back to the host and stalls the pipeline.
        target = torch.zeros(y.shape[0], self.num_classes, device=y.device)
        return target.scatter_(1, y[:, None], 1.0)

    def __call__(self, x: torch.Tensor, y: torch.Tensor,
                 rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        target = self._soft(y)
        if self.mixup and self.cutmix:
            op, kind = (self.mixup, "mixup") if rng.random() < 0.5 else (self.cutmix, "cutmix")
        elif self.mixup:
            op, kind = self.mixup, "mixup"
        else:
            op, kind = self.cutmix, "cutmix"
        if x.shape[0] < 2 or rng.random() >= op.prob:
            return x, target
        lam = float(rng.beta(op.alpha, op.alpha))
        partner = x.roll(1, 0)
        if kind == "mixup":
            x = x.mul(lam).add_(partner, alpha=1.0 - lam)
        else:
            height, width = x.shape[-2:]
            cut = math.sqrt(1.0 - lam)
            cut_h, cut_w = int(height * cut), int(width * cut)
            cy, cx = int(rng.integers(height)), int(rng.integers(width))
            y0, y1 = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, height)
            x0, x1 = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, width)
            x = x.clone()
            x[..., y0:y1, x0:x1] = partner[..., y0:y1, x0:x1]
            # The label weight is the area actually kept, after clipping at the border.
            lam = 1.0 - (y1 - y0) * (x1 - x0) / (height * width)
        partner_target = target.roll(1, 0)
        target = target.mul_(lam).add_(partner_target, alpha=1.0 - lam)
        return x, target
