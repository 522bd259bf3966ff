"""The `optimization` section of a model file: the deployment settings the program acts on.

The compiler accepts exactly the keys in `KEYS` (`triton --dump-sections=json`; a test
compares the two lists), so every key a file may write has an effect here: `fuse_bn` (fold
batch norm into the packed export's convolutions and linear layers; false keeps it as a
`channel_affine` op), `pack_bits` (the packed export's packing, 2 or 1.6, when `--bits` is
not given) and `num_threads` (the CPU threads of the latency measurement when `--threads`
is not given). Command-line flags win over the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from triton_dsl.errors import UserError

KEYS = ("fuse_bn", "pack_bits", "num_threads")
PACKINGS = {2: "2", 1.6: "1.6"}


@dataclass(frozen=True)
class Deployment:
    """How the program exports and measures a trained model."""

    bits: str = "2"
    fuse_bn: bool = True
    threads: int | None = None  # None: PyTorch's default


def deployment(optimization: dict[str, Any] | None, *, bits: str | None = None,
               threads: int | None = None) -> Deployment:
    """The section's settings with the command line's `--bits` / `--threads` laid over."""
    section = optimization or {}
    fuse_bn = section.get("fuse_bn", True)
    if not isinstance(fuse_bn, bool):
        raise UserError(f"optimization key `fuse_bn` must be true or false, got `{fuse_bn!r}`")
    if bits is None:
        pack_bits = section.get("pack_bits", 2)
        if isinstance(pack_bits, bool) or pack_bits not in PACKINGS:
            raise UserError(f"optimization key `pack_bits` must be 2 or 1.6, got `{pack_bits!r}`")
        bits = PACKINGS[pack_bits]
    if not threads:
        configured = section.get("num_threads")
        if configured is not None and (isinstance(configured, bool) or
                                       not isinstance(configured, int) or configured < 1):
            raise UserError(f"optimization key `num_threads` must be a positive whole number, "
                            f"got `{configured!r}`")
        threads = configured
    return Deployment(bits=bits, fuse_bn=fuse_bn, threads=threads)
