"""The GEMM ops of a `.tpk` graph on the GPU: ternary linear and conv2d, ready to launch.

`Linear` and `Conv2d` take their `.tpk` op record and tensors once, move the weights to the
device in the GPU layout (`layout.py`) and pick the kernel per call from the input:
- linear, ternary weight: `gemv` for at most `GEMV_MAX_ROWS` rows (batch-1 inference, bound
  by the weight bytes), else `gemm` (tensor cores);
- conv2d, ternary weight: `depthwise2d` when groups = in = out channels, else the implicit
  GEMM `conv2d`;
- float32 weights (a layer exported with `quantization: "none"`): PyTorch's `F.linear` /
  `F.conv2d` in the activations' dtype.
A layer with 8-bit activations (format version 2: one float, the input scale s) quantizes
its input like the CPU engine, `q = clamp(round_half_to_even(x / s), -127, 127)` in
float32, and multiplies q exactly: int8 tensor cores in `gemm`/`conv2d` (int32 sums), exact
float32 sums of integers in `gemv`/`depthwise2d`; the epilogue scales by `s * scale[o]`.
A call may take a residual (an `add` the executor fused into this op): the GEMM and the
implicit-GEMM convolution add it in their epilogue, the other paths with PyTorch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from triton_dsl.gpu import layout
from triton_dsl.gpu.kernels.conv import conv2d
from triton_dsl.gpu.kernels.depthwise import depthwise2d
from triton_dsl.gpu.kernels.gemm import gemm
from triton_dsl.gpu.kernels.gemv import SplitKWorkspace, gemv
from triton_dsl.gpu.tpk import Ternary

GEMV_MAX_ROWS = 4


def quantize_int8(x: torch.Tensor, s: float) -> torch.Tensor:
    """The CPU engine's 8-bit activation: round half to even of a float32 division."""
    return torch.round(x.float() / s).clamp_(-127, 127).to(torch.int8)


def _f32(array, device) -> torch.Tensor:
    return torch.as_tensor(array, dtype=torch.float32).to(device)


class Linear:
    def __init__(self, weight, bias, act: int, input_scale: float | None, device,
                 dtype: torch.dtype) -> None:
        self.act = act
        self.input_scale = input_scale
        self.bias = None if bias is None else _f32(bias, device)
        self.ternary = isinstance(weight, Ternary)
        if self.ternary:
            self.n, self.k = weight.shape
            self.words = torch.from_numpy(layout.pack_kmajor(weight.codes)).to(device)
            self.scale = _f32(weight.scales, device)
            self.workspace = SplitKWorkspace()
        else:
            self.n, self.k = weight.shape
            self.weight = _f32(weight, device).to(dtype)
            self.bias_t = None if bias is None else self.bias.to(dtype)
        self.dtype = dtype
        self.ascale = None  # the 8-bit input scale as a device tensor, made on first use

    def fuses_residual(self) -> bool:
        return self.ternary

    def __call__(self, x: torch.Tensor, residual: torch.Tensor | None = None,
                 residual_act: int = 0) -> torch.Tensor:
        """act(x W^T * scale + bias), then `residual_act(. + residual)` when given."""
        lead = x.shape[:-1]
        x2 = x.reshape(-1, self.k)
        if not self.ternary:
            if self.input_scale is not None:
                x2 = (quantize_int8(x2, self.input_scale).float() * self.input_scale).to(
                    self.dtype)
            y = _torch_act(F.linear(x2.to(self.dtype), self.weight, self.bias_t), self.act)
            return _add(y.reshape(*lead, self.n), residual, residual_act)
        ascale = 1.0
        if self.input_scale is not None:
            x2 = quantize_int8(x2, self.input_scale)
            ascale = self.input_scale
        if x2.shape[0] <= GEMV_MAX_ROWS:
            y = gemv(x2, self.words, self.scale, self.bias, self.n, self.k, act=self.act,
                     ascale=ascale, workspace=self.workspace, out_dtype=self.dtype)
            return _add(y.reshape(*lead, self.n), residual, residual_act)
        if self.input_scale is not None and self.ascale is None:
            self.ascale = torch.full((1,), ascale, dtype=torch.float32, device=x2.device)
        res2 = None if residual is None else residual.reshape(-1, self.n)
        y = gemm(x2, self.words, self.scale, self.bias, self.n, self.k, act=self.act,
                 ascale=self.ascale, residual=res2, residual_act=residual_act,
                 workspace=self.workspace, out_dtype=self.dtype)
        return y.reshape(*lead, self.n)


class Conv2d:
    def __init__(self, weight, bias, ints: list[int], in_channels: int, act: int,
                 input_scale: float | None, device, dtype: torch.dtype) -> None:
        kh, kw, sh, sw, ph, pw, dh, dw, groups = ints
        self.kernel, self.stride, self.padding = (kh, kw), (sh, sw), (ph, pw)
        self.dilation, self.groups = (dh, dw), groups
        self.act = act
        self.input_scale = input_scale
        self.dtype = dtype
        self.bias = None if bias is None else _f32(bias, device)
        self.ternary = isinstance(weight, Ternary)
        self.out_channels = weight.shape[0]
        cg = in_channels // groups
        self.depthwise = (self.ternary and groups == in_channels == self.out_channels)
        if self.depthwise:
            self.codes = torch.from_numpy(layout.depthwise_codes(weight.codes, kh, kw)).to(
                device)
            self.scale = _f32(weight.scales, device)
        elif self.ternary:
            hwc = layout.conv_columns_to_hwc(weight.codes, cg, kh, kw)
            self.words = torch.from_numpy(layout.pack_kmajor(hwc)).to(device)
            self.scale = _f32(weight.scales, device)
            self.workspace = SplitKWorkspace()
        else:
            self.weight = _f32(weight, device).to(dtype).contiguous(
                memory_format=torch.channels_last)
            self.bias_t = None if bias is None else self.bias.to(dtype)

    def fuses_residual(self) -> bool:
        return self.ternary and not self.depthwise

    def __call__(self, x: torch.Tensor, residual: torch.Tensor | None = None,
                 residual_act: int = 0) -> torch.Tensor:
        """The convolution (channels-last out), then `residual_act(. + residual)`."""
        x = x.contiguous(memory_format=torch.channels_last)
        ascale = 1.0
        if self.input_scale is not None:
            q = quantize_int8(x, self.input_scale)
            ascale = self.input_scale
            if not self.ternary:
                x = (q.float() * ascale).to(self.dtype)
        if not self.ternary:
            y = F.conv2d(x.to(self.dtype), self.weight, self.bias_t, self.stride,
                         self.padding, self.dilation, self.groups)
            return _add(_torch_act(y, self.act), residual, residual_act)
        if self.depthwise:
            source = x if self.input_scale is None else q.to(self.dtype)
            y = depthwise2d(source, self.codes, self.scale, self.bias, self.kernel,
                            self.stride, self.padding, self.dilation, act=self.act,
                            ascale=ascale, out_dtype=self.dtype)
            return _add(y, residual, residual_act)
        source = x if self.input_scale is None else q
        return conv2d(source, self.words, self.scale, self.bias, self.out_channels,
                      self.kernel, self.stride, self.padding, self.dilation, self.groups,
                      act=self.act, ascale=ascale, residual=residual,
                      residual_act=residual_act, workspace=self.workspace,
                      out_dtype=self.dtype)


_ACTS = {
    0: lambda y: y, 1: torch.relu, 2: lambda y: F.hardtanh(y, 0.0, 6.0), 3: F.gelu,
    4: lambda y: F.gelu(y, approximate="tanh"), 5: F.silu, 6: torch.sigmoid, 7: torch.tanh,
}


def _torch_act(y: torch.Tensor, code: int) -> torch.Tensor:
    return _ACTS[code](y)


def _add(y: torch.Tensor, residual: torch.Tensor | None, act: int) -> torch.Tensor:
    """The residual add of paths whose kernel has none (PyTorch, GEMV, depthwise)."""
    return y if residual is None else _torch_act(y + residual, act)
