"""Every built-in layer and function of the language through `--backend onnx` and
`--backend tflite`, checked in onnxruntime and in the TFLite interpreter (`ai-edge-litert`)
against the PyTorch program.

`CASES` holds one small model per built-in (its declarations and its forward body, over an
input x of shape [2, 4, 6, 6]); `test_every_builtin_has_a_case` fails when the compiler's
schema (`triton --dump-builtins=json`) gains a layer or function this table does not
exercise. Each case is compiled twice — to Python, whose model supplies the weights
(`--weights`, as `--export-weights` writes them), and to ONNX — and onnxruntime's output
must match PyTorch's eval output within 1e-4 relative error (integer outputs exactly).
A built-in the ONNX backend cannot express is listed in `NOT_IN_ONNX` with the reason; its
case must then fail with the backend's one-line error, so the list cannot go stale. The same
holds for TFLite and `NOT_IN_TFLITE` (TFLite graphs have a fixed batch of 1; the TFLite case
runs one sample).
"""

from __future__ import annotations

import json

import pytest
import torch
from fixtures.runtimes import load_program, relative_error, run_onnx, run_tflite

from triton_dsl.compiler import compile_file, run_compiler
from triton_dsl.errors import UserError
from triton_dsl.export.safetensors import export_tensors, write_safetensors

W4 = 'param w: Tensor[5, 6] { init: "normal", std: 0.3 }'

# name -> (declarations, forward body; the last line is the returned expression)
CASES: dict[str, tuple[str, str]] = {
    # layers
    "TernaryLinear": ("layer l: TernaryLinear { in_features: 6, out_features: 5 }", "l(x)"),
    "TernaryConv2d": ("layer l: TernaryConv2d { in_channels: 4, out_channels: 8, kernel_size: 3, padding: 1, stride: 2 }", "l(x)"),
    "TernaryConv1d": ("layer l: TernaryConv1d { in_channels: 4, out_channels: 3, kernel_size: 3, padding: 1 }",
                      "l(flatten(x, start_dim: 2))"),
    "TernaryActivation": ("layer l: TernaryActivation { method: \"ternary\" }", "l(x)"),
    "Linear": ("layer l: Linear { in_features: 6, out_features: 3 }", "l(x)"),
    "Conv2d": ("layer l: Conv2d { in_channels: 4, out_channels: 4, kernel_size: 3, groups: 4 }", "l(x)"),
    "BatchNorm1d": ("layer l: BatchNorm1d { num_features: 4 }", "l(flatten(x, start_dim: 2))"),
    "BatchNorm2d": ("layer l: BatchNorm2d { num_features: 4 }", "l(x)"),
    "LayerNorm": ("layer l: LayerNorm { normalized_shape: 6 }", "l(x)"),
    "ReLU": ("layer l: ReLU", "l(x)"),
    "ReLU6": ("layer l: ReLU6", "l(x * 4.0)"),
    "SiLU": ("layer l: SiLU", "l(x)"),
    "Sigmoid": ("layer l: Sigmoid", "l(x)"),
    "Tanh": ("layer l: Tanh", "l(x)"),
    "Identity": ("layer l: Identity", "l(x)"),
    "GELU": ("layer l: GELU { approximate: \"tanh\" }", "l(x)"),
    "Softmax": ("layer l: Softmax { dim: 1 }", "l(x)"),
    "Dropout": ("layer l: Dropout { p: 0.3 }", "l(x)"),
    "Flatten": ("layer l: Flatten", "l(x)"),
    "MaxPool2d": ("layer l: MaxPool2d { kernel_size: 3, stride: 2, padding: 1 }", "l(x)"),
    "AvgPool2d": ("layer l: AvgPool2d { kernel_size: 2 }", "l(x)"),
    "AdaptiveAvgPool2d": ("layer l: AdaptiveAvgPool2d { output_size: 1 }", "l(x)"),
    "Embedding": ("layer l: Embedding { num_embeddings: 4, embedding_dim: 3 }", "l(argmax(x, dim: 1))"),
    "Sequential": ("layer l: Sequential {\n        Conv2d { in_channels: 4, out_channels: 2, kernel_size: 1 }\n        ReLU\n    }",
                   "l(x)"),
    "MultiHeadAttention": ("layer l: MultiHeadAttention { embed_dim: 36, num_heads: 4 }",
                           "l(flatten(x, start_dim: 2))"),
    # functions
    "relu": ("", "relu(x)"),
    "leaky_relu": ("", "leaky_relu(x, negative_slope: 0.2)"),
    "hardswish": ("", "hardswish(x * 4.0)"),
    "log": ("", "log(abs(x) + 0.5)"),
    "abs": ("", "abs(x)"),
    "relu6": ("", "relu6(x * 4.0)"),
    "gelu": ("", "gelu(x)"),
    "silu": ("", "silu(x)"),
    "sigmoid": ("", "sigmoid(x)"),
    "tanh": ("", "tanh(x)"),
    "sqrt": ("", "sqrt(abs(x))"),
    "exp": ("", "exp(x)"),
    "softmax": ("", "softmax(x, dim: 2)"),
    "log_softmax": ("", "log_softmax(x)"),
    "flatten": ("", "flatten(x, start_dim: 1, end_dim: 2)"),
    "reshape": ("", "reshape(x, [-1, 4, 36])"),
    "permute": ("", "permute(x, [0, 2, 3, 1])"),
    "transpose": ("", "transpose(x, 1, 3)"),
    "concatenate": ("", "concatenate([x, relu(x)], dim: 1)"),
    "cat": ("", "cat([x, x * 2.0], dim: 3)"),
    "repeat": ('param t: Tensor[1, 4, 6, 6] { init: "normal" }', "repeat(t, x.shape[0]) + x"),
    "expand": ('param t: Tensor[1, 4, 6, 6] { init: "normal" }', "expand(t, x.shape[0], -1, -1, -1) * x"),
    "matmul": ("", "matmul(x, transpose(x, 2, 3))"),
    "mean": ("", "mean(x, dim: [2, 3])"),
    "sum": ("", "sum(x, dim: 1, keepdim: true)"),
    "adaptive_avg_pool2d": ("", "adaptive_avg_pool2d(x, [2, 3])"),
    "avg_pool2d": ("", "avg_pool2d(x, 2)"),
    "max_pool2d": ("", "max_pool2d(x, [3, 2], stride: [1, 2], padding: [1, 0])"),
    "dropout": ("", "dropout(x, p: 0.5)"),
    "squeeze": ("", "squeeze(mean(x, dim: 1, keepdim: true), dim: 1)"),
    "unsqueeze": ("", "unsqueeze(x, 1)"),
    "chunk": ("", "a, c = chunk(x, 2, dim: 1)\n        a * c"),
    "layer_norm": ("", "layer_norm(x, [6, 6])"),
    "add": ("", "add(x, 1.5)"),
    "multiply": ("", "multiply(x, x)"),
    "subtract": ("", "subtract(x, relu(x))"),
    "divide": ("", "divide(x, abs(x) + 1.0)"),
    "maximum": ("", "maximum(x, relu(x) * 0.5)"),
    "minimum": ("", "minimum(x, 0.5 - x)"),
    "pow": ("", "pow(x, 2)"),
    "where": ("", "where(x > 0.0, x, x * 0.1)"),
    "stack": ("", "stack([x, relu(x)], dim: 1)"),
    "max": ("", "max(x, dim: 1)"),
    "min": ("", "min(x, dim: [2, 3], keepdim: true)"),
    "argmax": ("", "argmax(x, dim: 3)"),
    "clamp": ("", "clamp(x, min: -0.5, max: 0.5)"),
    "linear": (W4 + '\n    param b: Tensor[5] { init: "normal" }', "linear(x, w, b)"),
    "conv2d": ('param w: Tensor[3, 4, 3, 3] { init: "normal", std: 0.2 }', "conv2d(x, w, padding: [1, 0], stride: [1, 2])"),
    "ternarize": (W4, "linear(x, ternarize(w))"),
    "sign": ("", "sign(x)"),
    "round": ("", "round(x * 4.0)"),
    "stop_gradient": ("", "stop_gradient(x) + x"),
    "floor_div": ("", "reshape(x, [x.shape[0], floor_div(144, 2), 2])"),
}

# Built-ins the ONNX backend does not lower, and why (their cases must fail cleanly).
NOT_IN_ONNX: dict[str, str] = {}
NOT_IN_TFLITE: dict[str, str] = {}


def _source(name: str) -> str:
    declarations, body = CASES[name]
    *statements, result = body.split("\n")
    lines = [f"    {declarations}" if declarations else ""]
    return (f"// The built-in `{name}` alone.\nmodel Case {{\n" + "\n".join(lines) + "\n"
            "    forward(x: Tensor[batch, 4, 6, 6]) -> Tensor {\n"
            + "".join(f"{s}\n" for s in statements)
            + f"        return {result.strip()}\n    }}\n}}\n")


@pytest.fixture(autouse=True)
def _compiler(triton_compiler, monkeypatch):
    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))


def test_every_builtin_has_a_case():
    result = run_compiler("--dump-builtins=json")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    names = {entry["name"] for entry in schema["layers"]} | {entry["name"] for entry in schema["functions"]}
    assert names - set(CASES) == set(), "built-ins without an ONNX case"
    assert set(CASES) - names == set(), "cases for names the compiler does not know"


def _case(tmp_path, name):
    """The case's source, its PyTorch model (eval mode, trained-like norms) and weights."""
    source = tmp_path / "case.triton"
    source.write_text(_source(name))
    module = load_program(compile_file(source, tmp_path / "case.py"))
    torch.manual_seed(0)
    model = module.Model()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    model.eval()
    weights = write_safetensors(export_tensors(model), tmp_path / "case.safetensors")
    return source, model, weights


@pytest.mark.parametrize("name", list(CASES))
def test_builtin_runs_in_onnxruntime_like_pytorch(tmp_path, name):
    source, model, weights = _case(tmp_path, name)
    target = tmp_path / "case.onnx"
    if name in NOT_IN_ONNX:
        with pytest.raises(UserError):
            compile_file(source, target, "--backend", "onnx", "--weights", str(weights))
        assert not target.exists()
        return
    compile_file(source, target, "--backend", "onnx", "--weights", str(weights))
    x = torch.randn(2, 4, 6, 6, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = model(x).numpy()
    assert relative_error(run_onnx(target, x.numpy()), want) <= 1e-4


@pytest.mark.parametrize("name", list(CASES))
def test_builtin_runs_in_tflite_like_pytorch(tmp_path, name):
    pytest.importorskip("ai_edge_litert.interpreter")
    source, model, weights = _case(tmp_path, name)
    target = tmp_path / "case.tflite"
    if name in NOT_IN_TFLITE:
        with pytest.raises(UserError):
            compile_file(source, target, "--backend", "tflite", "--weights", str(weights))
        assert not target.exists()
        return
    compile_file(source, target, "--backend", "tflite", "--weights", str(weights))
    x = torch.randn(1, 4, 6, 6, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = model(x).numpy()
    assert relative_error(run_tflite(target, x.numpy()), want) <= 1e-4
