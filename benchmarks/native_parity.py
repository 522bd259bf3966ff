"""Parity of the native engine with PyTorch on full-size models (manual run).

CI checks small variants (tests/python/test_native.py); this script compiles each given
`.triton` file (default: the seed models `examples/basic/*.triton`: SimpleMLP, ResNet-18
(CIFAR), MobileNetV2 (224) and ViT-B/16 (224)) with the installed `triton`, exports the
entry model at its declared input shape and prints, per model and packing, the file size,
the maximum relative error of the engine against eval-mode PyTorch (float32 activations;
tolerance 1e-4) and the time of one engine run. Run:
`python benchmarks/native_parity.py [FILE.triton ...]`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import seed_models

from triton_dsl.export.packed import load_packed, save_packed

TOLERANCE = 1e-4


def main(files: list[str]) -> int:
    failed = []
    print(f"{'model':18} {'bits':>4} {'batch':>5} {'file KB':>9} {'export s':>9} "
          f"{'run ms':>9} {'rel err':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for file in files:
            name = Path(file).stem
            model, shape = seed_models.build(file)
            for bits in ("2", "1.6"):
                path = Path(tmp) / f"{name}_{bits}.tpk"
                t0 = time.perf_counter()
                report = save_packed(model, path, example_input=torch.randn(1, *shape),
                                     bits=bits)
                export_s = time.perf_counter() - t0
                engine = load_packed(path)
                for batch in (1, 2):
                    x = torch.randn(batch, *shape, generator=torch.Generator().manual_seed(7))
                    with torch.no_grad():
                        want = model(x).numpy()
                    t0 = time.perf_counter()
                    got = engine.run(x.numpy())
                    run_ms = (time.perf_counter() - t0) * 1000
                    rel = float(np.abs(got - want).max() / np.abs(want).max())
                    if not rel < TOLERANCE:
                        failed.append(f"{name}/{bits}/b{batch}")
                    print(f"{name:18} {bits:>4} {batch:5d} {report.packed_bytes / 1024:9.1f} "
                          f"{export_s:9.2f} {run_ms:9.1f} {rel:9.1e}", flush=True)
    print(f"over tolerance: {', '.join(failed)}" if failed else
          f"all within {TOLERANCE:g} relative error")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or [str(p) for p in seed_models.SEED_FILES]))
