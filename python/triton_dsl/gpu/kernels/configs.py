"""Which autotuning configurations the kernels are defined with.

On a GPU every kernel is `triton.autotune`d over its list, keyed on its shape arguments, so
the choice is cached per shape. Under Triton's CPU interpreter (`TRITON_INTERPRET=1`, the
CI tests) tuning would only multiply the runtime, so each kernel gets one small
configuration whose blocks are smaller than the test shapes (ragged edges, several
programs, several split-K slices). The environment variable is read when the kernels are
defined, i.e. when `triton_dsl.gpu.kernels` is first imported; Triton itself reads it then.
"""

from __future__ import annotations

import os


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def pick(*, gpu: list, interpret: list) -> list:
    return interpret if interpreting() else gpu
