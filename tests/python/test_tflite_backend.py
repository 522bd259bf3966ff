"""`triton compile --backend tflite`: the compiler's TFLite model computes what PyTorch computes.

The TFLite writer converts the ONNX backend's graph (int8 ternary codes), so this suite
mirrors test_onnx_backend.py: each model of the registry is compiled to Python (the PyTorch
model, given trained-like normalization statistics) and to TFLite with that model's weights
(`--weights`, the safetensors file `--export-weights` writes). The TFLite interpreter
(PyPI `ai-edge-litert`) runs the file on seeded inputs, and its output must match the
eval-mode PyTorch output within 1e-4 relative error (max |diff| over max |reference|).
TFLite shapes are static with a batch of 1, so each sample of the batch is run on its own.
The ternary weights stay int8 codes + per-channel scales, which is checked by size for
ResNet-18.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures.programs import FIXTURES, load_model_module, run_in_process
from fixtures.runtimes import PARITY_MODELS, compile_pair, relative_error, run_tflite

from triton_dsl.compiler import compile_file, load_module
from triton_dsl.errors import UserError
from triton_dsl.export.safetensors import export_tensors, write_safetensors
from triton_dsl.export.tflite import export_tflite

litert = pytest.importorskip("ai_edge_litert.interpreter")

REPO = Path(__file__).resolve().parents[2]
ONNX_GOLDENS = REPO / "tests/compiler/goldens/onnx"
TFLITE_GOLDENS = REPO / "tests/compiler/goldens/tflite"

# name -> (source, batch size); inputs are the shapes the models declare.
# The parity models, with the TFLite golden of the functions (it adds softmax over an axis
# and `where`).
MODELS = {**PARITY_MODELS, "functions": (TFLITE_GOLDENS / "functions.triton", 3)}
TOLERANCE = 1e-4


@pytest.fixture(autouse=True)
def _compiler(triton_compiler, monkeypatch):
    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))


def _compile_pair(name: str, directory: Path, *flags: str):
    return compile_pair(MODELS, name, directory, "tflite", *flags)


def _relative_error(target: Path, model: torch.nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad():
        want = model(x).numpy()
    return relative_error(run_tflite(target, x.numpy()), want)


@pytest.mark.parametrize("name", list(MODELS))
def test_tflite_interpreter_matches_pytorch(tmp_path, name):
    model, target, x = _compile_pair(name, tmp_path)
    error = _relative_error(target, model, x)
    print(f"{name}: {target.stat().st_size / 1e6:.2f} MB, max relative error {error:.2e}")
    assert error <= TOLERANCE


@pytest.mark.parametrize("name", ["resnet18", "mobilenetv2", "keyword_spotting", "small_convnet",
                                  "tiny_transformer"])
def test_unfolded_batch_norms_keep_the_answers(tmp_path, name):
    """-O0 keeps the batch norms: they become MUL + ADD with per-channel constants."""
    model, target, x = _compile_pair(name, tmp_path, "-O0")
    assert _relative_error(target, model, x) <= TOLERANCE


def test_resnet18_keeps_the_compression(tmp_path):
    """Float32 weights would take 44.7 MB; int8 codes + per-channel scales about 11.2 MB."""
    _, target, _ = _compile_pair("resnet18", tmp_path)
    size = target.stat().st_size
    print(f"resnet18.tflite: {size / 1e6:.2f} MB")
    assert size <= 12.5e6


def test_ternary_weights_are_int8_codes_with_per_channel_scales(tmp_path):
    _, target, _ = _compile_pair("small_convnet", tmp_path)
    interpreter = litert.Interpreter(model_path=str(target))
    details = {t["name"]: t for t in interpreter.get_tensor_details()}
    codes = [t for name, t in details.items() if name.startswith("conv.weight.codes")]
    assert len(codes) == 1
    (conv,) = codes
    assert conv["dtype"] == np.int8
    assert list(conv["shape"]) == [24, 3, 3, 12]  # OHWI
    quantization = conv["quantization_parameters"]
    assert len(quantization["scales"]) == 24 and quantization["quantized_dimension"] == 0
    assert not np.any(quantization["zero_points"])
    names = set(details)
    assert not any(name.startswith("conv.weight") and details[name]["dtype"] == np.float32
                   and "perm" not in name for name in names if name.endswith(".codes"))


@pytest.mark.parametrize("name, convolutions", [("resnet18", 20), ("mobilenetv2", 52),
                                                 ("keyword_spotting", 9)])
def test_a_conv_chain_does_not_transpose_between_ops(tmp_path, name, convolutions):
    """One TRANSPOSE into NHWC at the input; none between the convolutions, the residual
    additions and the pooling (the flatten after global pooling is a RESHAPE)."""
    source, _ = MODELS[name]
    text = compile_file(source, tmp_path / "m.txt", "--emit=tflite-text").read_text()
    assert text.count("= TRANSPOSE(") == 1
    assert text.count("= CONV_2D(") + text.count("= DEPTHWISE_CONV_2D(") == convolutions


def test_without_weights_the_model_is_seeded_and_deterministic(tmp_path):
    source, _ = MODELS["simple_mlp"]
    first = compile_file(source, tmp_path / "a.tflite", "--backend", "tflite")
    second = compile_file(source, tmp_path / "b.tflite", "--backend", "tflite")
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes()[4:8] == b"TFL3"
    out = run_tflite(first, np.ones((2, 1, 28, 28), np.float32))
    assert out.shape == (2, 10) and np.isfinite(out).all() and np.abs(out).max() > 0


def test_malformed_weights_are_a_one_line_error_and_no_file(tmp_path):
    source, _ = MODELS["simple_mlp"]
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(UserError) as info:
        compile_file(source, tmp_path / "m.tflite", "--backend", "tflite", "--weights", str(bad))
    assert len(str(info.value).strip().splitlines()) == 1
    assert not (tmp_path / "m.tflite").exists()


def test_a_weights_file_of_another_shape_is_a_user_error(tmp_path):
    source, _ = MODELS["simple_mlp"]
    module = load_module(source, tmp_path / "py")
    weights = write_safetensors(export_tensors(module.Model(num_classes=3)),
                                tmp_path / "w.safetensors")
    with pytest.raises(UserError, match=r"fc2\.weight"):
        compile_file(source, tmp_path / "m.tflite", "--backend", "tflite", "--weights",
                     str(weights))
    assert not (tmp_path / "m.tflite").exists()


def test_the_erf_form_of_gelu_becomes_one_gelu(tmp_path):
    """x * 0.5 * (1 + erf(x / sqrt 2)) in the ViT's MLPs is TFLite's GELU (exact form)."""
    source, _ = MODELS["vision_transformer"]
    text = compile_file(source, tmp_path / "v.txt", "--emit=tflite-text").read_text()
    assert text.count("= GELU(") == 12
    assert "approximate: false" in text


def test_export_tflite_from_a_checkpoint_matches_pytorch(tmp_path):
    """The generated program's --export-tflite: checkpoint -> safetensors -> the compiler."""
    model = load_model_module("tiny_cnn.py").Model()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    model.eval()
    checkpoint = tmp_path / "weights.pth"
    torch.save(model.state_dict(), checkpoint)
    target = tmp_path / "model.tflite"
    assert run_in_process("tiny_cnn.py", ["--export-tflite", "--checkpoint", str(checkpoint),
                                          "--output", str(target)]) == 0
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(run_tflite(target, x.numpy()), expected, rtol=1e-4, atol=1e-4)


def test_export_tflite_library_call_needs_an_existing_directory(tmp_path):
    model = load_model_module("tiny_cnn.py").Model().eval()
    with pytest.raises(UserError, match="does not exist"):
        export_tflite(model, tmp_path / "missing" / "m.tflite", source=FIXTURES / "tiny_cnn.triton")


def test_an_operator_without_a_lowering_is_a_one_line_error_and_no_file(tmp_path):
    source = TFLITE_GOLDENS / "fail_tflite_unsupported.triton"
    target = tmp_path / "grouped.tflite"
    with pytest.raises(UserError) as info:
        compile_file(source, target, "--backend", "tflite")
    assert info.value.returncode == 1
    assert info.value.diagnostics.splitlines() == [
        ("fail_tflite_unsupported.triton: error: the TFLite backend cannot lower a grouped "
         "convolution that is not depthwise (`Conv` in `conv`)")]
    assert not target.exists()


def test_the_default_output_is_the_input_with_a_tflite_extension(tmp_path, triton_compiler):
    source = tmp_path / "simple_mlp.triton"
    source.write_text(MODELS["simple_mlp"][0].read_text())
    result = subprocess.run([str(triton_compiler), "compile", str(source), "--backend", "tflite"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "simple_mlp.tflite").read_bytes()[4:8] == b"TFL3"
