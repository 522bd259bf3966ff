"""Initial values for the language's `param` and `state` tensors.

`param cls_token: Tensor[1, 1, dim] { init: "normal", std: 0.02 }` compiles to
`nn.Parameter(I.tensor([1, 1, dim], init="normal", std=0.02))`: one function whose keyword
arguments are the attribute names a `param` or `state` block may carry. Each `init` uses
`torch.nn.init`, so a value drawn here is what a PyTorch user would get from the same
call, including its reaction to `torch.manual_seed`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from triton_dsl.errors import UserError

INIT_METHODS = ("zeros", "ones", "constant", "normal", "uniform", "trunc_normal",
                "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal")

# Tensors fewer than two dimensions have no fan-in/fan-out for PyTorch to compute.
_NEEDS_FANS = ("xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal")


def tensor(shape: int | Sequence[int], init: str = "zeros", *, mean: float = 0.0,
           std: float = 1.0, a: float | None = None, b: float | None = None,
           low: float | None = None, high: float | None = None, value: float = 0.0,
           gain: float = 1.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """A new float32 tensor of `shape` filled by `init`.

    - "zeros", "ones"; "constant" fills with `value`
    - "normal": N(mean, std^2)
    - "uniform": U(a, b), by default U(0, 1)
    - "trunc_normal": N(mean, std^2) cut to [a, b], by default [mean - 2 std, mean + 2 std]
      (ViT's `std: 0.02` then stays within +-0.04)
    - `low` and `high` are other names for the bounds `a` and `b`
    - "xavier_uniform", "xavier_normal": Glorot, scaled by `gain`
    - "kaiming_uniform", "kaiming_normal": He, with `a` the negative slope (default 0),
      `mode` ("fan_in" | "fan_out") and `nonlinearity` as in `torch.nn.init`
    """
    size = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
    if any(s < 0 for s in size):
        raise UserError(f"tensor shape {list(size)} has a negative dimension")
    if init not in INIT_METHODS:
        options = ", ".join(f'"{m}"' for m in INIT_METHODS)
        raise UserError(f"unknown init {init!r}; expected one of {options}")
    if init in _NEEDS_FANS and len(size) < 2:
        raise UserError(f'init "{init}" needs a tensor of at least 2 dimensions, '
                        f"got shape {list(size)}")
    a = _either("a", a, "low", low)
    b = _either("b", b, "high", high)
    out = torch.empty(size, dtype=torch.float32)
    with torch.no_grad():
        if init == "zeros":
            out.zero_()
        elif init == "ones":
            out.fill_(1.0)
        elif init == "constant":
            out.fill_(value)
        elif init == "normal":
            out.normal_(mean, std)
        elif init == "uniform":
            low, high = (0.0 if a is None else a), (1.0 if b is None else b)
            if not low <= high:
                raise UserError(f'init "uniform" needs a <= b, got a={low}, b={high}')
            out.uniform_(low, high)
        elif init == "trunc_normal":
            low = mean - 2.0 * std if a is None else a
            high = mean + 2.0 * std if b is None else b
            if not low < high:
                raise UserError(f'init "trunc_normal" needs a < b, got a={low}, b={high}')
            torch.nn.init.trunc_normal_(out, mean=mean, std=std, a=low, b=high)
        elif init == "xavier_uniform":
            torch.nn.init.xavier_uniform_(out, gain=gain)
        elif init == "xavier_normal":
            torch.nn.init.xavier_normal_(out, gain=gain)
        else:
            slope = 0.0 if a is None else a
            if mode not in ("fan_in", "fan_out"):
                raise UserError(f'`mode` must be "fan_in" or "fan_out", got {mode!r}')
            fill = (torch.nn.init.kaiming_uniform_ if init == "kaiming_uniform"
                    else torch.nn.init.kaiming_normal_)
            fill(out, a=slope, mode=mode, nonlinearity=nonlinearity)
    return out


def _either(name: str, value: float | None, alias: str, alias_value: float | None
            ) -> float | None:
    if value is not None and alias_value is not None and value != alias_value:
        raise UserError(f"`{name}: {value}` and `{alias}: {alias_value}` name the same bound; "
                        "give one")
    return value if value is not None else alias_value
