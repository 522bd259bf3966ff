"""Models for the native engine's benchmarks and parity checks, built from `.triton` files.

Every model here is what the compiler emits: `build(path)` compiles the file with the
installed `triton` (`triton_dsl.compiler.load_module`, cached in a folder per process),
instantiates its entry model with optional hyper-parameter overrides, and gives every
batch norm non-trivial statistics so folding them is actually tested. An 8-bit-activation
model gets its activation ranges calibrated first. `benchmarks/native_bench.py`,
`benchmarks/native_parity.py` and `tests/python/test_native.py` share it; any `.triton`
file can be passed to them.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from triton_dsl.compiler import load_module

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "basic"
SEED_FILES = sorted(EXAMPLES.glob("*.triton"))


def example_file(name: str) -> Path:
    """`examples/<folder>/<name>.triton`: a seed model, or an example of another folder
    (`examples/sequence/keyword_spotting.triton`)."""
    found = sorted((REPO / "examples").glob(f"*/{name}.triton"))
    if len(found) != 1:
        raise FileNotFoundError(f"expected one examples/*/{name}.triton, found {len(found)}")
    return found[0]

_cache_dir: Path | None = None


def _cache() -> Path:
    global _cache_dir
    if _cache_dir is None:
        _cache_dir = Path(tempfile.mkdtemp(prefix="triton-seed-models-"))
        atexit.register(shutil.rmtree, _cache_dir, ignore_errors=True)
    return _cache_dir


def module_for(path: str | Path, cache_dir: str | Path | None = None):
    """The generated Python module of `path` (compiled once per cache folder)."""
    return load_module(path, cache_dir if cache_dir is not None else _cache())


def input_shape(module) -> tuple[int, ...]:
    """The example input's shape without the batch, as the model's `forward` declares it."""
    return tuple(int(d) for d in module.MODEL_INFO["inputs"][0]["shape"][1:])


def randomize_batch_norm(model: nn.Module, seed: int = 0) -> nn.Module:
    """Gives every batch norm non-trivial statistics and affine parameters, as training
    would, so that folding them is actually tested."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                m.weight.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)
    return model.eval()


def calibrated(model: nn.Module, shape: tuple[int, ...]) -> nn.Module:
    """Sets the input_amax of 8-bit layers from a few training-mode passes on random inputs."""
    if not any(getattr(m, "activation_bits", 32) == 8 for m in model.modules()):
        return model
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(torch.randn(16, *shape))
    return model


def build(path: str | Path, *, seed: int = 0, shape: tuple[int, ...] | None = None,
          cache_dir: str | Path | None = None, **hyper: Any) -> tuple[nn.Module, tuple[int, ...]]:
    """The entry model of `path` (hyper-parameters `hyper` overridden) in eval mode, and
    its input shape without the batch: `shape`, else the one `forward` declares (a smaller
    image for a model with global pooling, or the image size a ViT override implies)."""
    module = module_for(path, cache_dir)
    shape = tuple(shape) if shape is not None else input_shape(module)
    torch.manual_seed(seed)
    model = calibrated(module.Model(**hyper), shape)
    return randomize_batch_norm(model, seed), shape
