"""Which autotuning configurations the kernels are defined with.

On a GPU every kernel is `triton.autotune`d over its list, keyed on its shape arguments, so
the choice is cached per shape. Under Triton's CPU interpreter (`TRITON_INTERPRET=1`, the
CI tests) tuning would only multiply the runtime, so each kernel gets one small
configuration whose blocks are smaller than the test shapes (ragged edges, several
programs, several split-K slices). The variable is read once, when this module is imported
(as Triton reads it when the kernels are defined): `INTERPRET` then tells the launchers
which mode their kernels were defined in, whatever the environment says later.
"""

from __future__ import annotations

import os

INTERPRET = os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def interpreting() -> bool:
    return INTERPRET


def pick(*, gpu: list, interpret: list) -> list:
    return interpret if INTERPRET else gpu
