"""`triton compile --backend onnx`: the compiler's ONNX graph computes what PyTorch computes.

Each model of the registry below is compiled twice from its `.triton` file: to Python (the
PyTorch model, given non-trivial normalization statistics and affine parameters as after
training) and to ONNX with that model's weights (`--weights`, the safetensors file that
`--export-weights` writes). ONNX Runtime then runs the graph on a seeded input, and its
output must match the eval-mode PyTorch output within 1e-4 relative error (max |diff| over
max |reference|). The ternary weights stay int4 codes + per-channel scales in the file,
which is checked by size for ResNet-18.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from fixtures.runtimes import PARITY_MODELS, compile_pair, relative_error, run_onnx, trained_like

from triton_dsl.compiler import compile_file, load_module
from triton_dsl.errors import UserError
from triton_dsl.export.safetensors import export_tensors, read_safetensors, write_safetensors

REPO = Path(__file__).resolve().parents[2]
# Models written for these tests; their ONNX text dumps are goldens of the compiler.
ONNX_GOLDENS = REPO / "tests/compiler/goldens/onnx"

# name -> (source, batch size); inputs are the shapes the models declare.
MODELS = PARITY_MODELS
TOLERANCE = 1e-4


@pytest.fixture(autouse=True)
def _compiler(triton_compiler, monkeypatch):
    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))


def _compile_pair(name: str, directory: Path, *flags: str):
    return compile_pair(MODELS, name, directory, "onnx", *flags)


def _relative_error(target: Path, model: torch.nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad():
        want = model(x).numpy()
    return relative_error(run_onnx(target, x.numpy()), want)


@pytest.mark.parametrize("name", list(MODELS))
def test_onnx_runtime_matches_pytorch(tmp_path, name):
    model, target, x = _compile_pair(name, tmp_path)
    onnx.checker.check_model(str(target))
    error = _relative_error(target, model, x)
    print(f"{name}: {target.stat().st_size / 1e6:.2f} MB, max relative error {error:.2e}")
    assert error <= TOLERANCE


def test_resnet18_keeps_the_compression(tmp_path):
    """Float32 weights would take 44.7 MB; files with int8 codes 11.3 MB, int4 5.7, int2 2.9."""
    sizes = {}
    for codes in ("int8", "int4", "int2"):
        model, target, x = _compile_pair("resnet18", tmp_path / codes, "--weight-codes", codes)
        sizes[codes] = target.stat().st_size
        print(f"resnet18 with {codes} codes: {sizes[codes] / 1e6:.2f} MB")
        assert _relative_error(target, model, x) <= TOLERANCE
    assert sizes["int8"] <= 12.5e6
    assert sizes["int4"] <= 6.0e6
    assert sizes["int2"] <= 3.2e6


def test_without_weights_the_graph_is_seeded_and_deterministic(tmp_path):
    source, _ = MODELS["simple_mlp"]
    first = compile_file(source, tmp_path / "a.onnx", "--backend", "onnx")
    second = compile_file(source, tmp_path / "b.onnx", "--backend", "onnx")
    assert first.read_bytes() == second.read_bytes()
    onnx.checker.check_model(str(first))
    session = ort.InferenceSession(str(first), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"x": np.ones((2, 1, 28, 28), np.float32)})
    assert out.shape == (2, 10) and np.isfinite(out).all() and np.abs(out).max() > 0


def test_ternary_weights_are_stored_as_codes_and_scales(tmp_path):
    _, target, _ = _compile_pair("simple_mlp", tmp_path)
    graph = onnx.load(str(target)).graph
    kinds = {t.name: t.data_type for t in graph.initializer}
    assert kinds["fc1.weight.codes"] == onnx.TensorProto.INT4
    assert kinds["fc1.weight.scales"] == onnx.TensorProto.FLOAT
    assert "fc1.weight" not in kinds  # no float copy of a ternary weight
    assert [n.op_type for n in graph.node].count("DequantizeLinear") == 2


def test_safetensors_round_trip(tmp_path):
    tensors = {"a": torch.randn(3, 4), "b": torch.tensor([-1, 0, 1], dtype=torch.int8),
               "c": torch.tensor(5, dtype=torch.int64), "empty": torch.zeros(0)}
    back = read_safetensors(write_safetensors(tensors, tmp_path / "t.safetensors"))
    assert back.keys() == tensors.keys()
    for name, value in tensors.items():
        assert back[name].dtype == value.dtype and torch.equal(back[name], value)


def test_a_weights_file_of_another_shape_is_a_user_error(tmp_path):
    source, _ = MODELS["simple_mlp"]
    module = load_module(source, tmp_path / "py")
    model = module.Model(num_classes=3)
    weights = write_safetensors(export_tensors(model), tmp_path / "w.safetensors")
    with pytest.raises(UserError, match=r"fc2\.weight"):
        compile_file(source, tmp_path / "m.onnx", "--backend", "onnx", "--weights", str(weights))
    assert not (tmp_path / "m.onnx").exists()


def _op_types(target: Path) -> list[str]:
    return [node.op_type for node in onnx.load(str(target)).graph.node]


@pytest.mark.parametrize("name", ["resnet18", "mobilenetv2", "keyword_spotting", "small_convnet"])
def test_batch_norm_folding_keeps_the_answers(tmp_path, name):
    """-O2 folds every batch norm after a convolution into its scales and bias (the IR's
    `call_fused`); -O0 keeps BatchNormalization nodes. Both match PyTorch, and so does a
    model whose norms have negative scales (the folded codes flip sign)."""
    model0, o0, x = _compile_pair(name, tmp_path / "o0", "-O0")
    model2, o2, _ = _compile_pair(name, tmp_path / "o2", "-O2")
    assert "BatchNormalization" in _op_types(o0)
    assert "BatchNormalization" not in _op_types(o2)
    assert o2.stat().st_size < o0.stat().st_size
    assert _relative_error(o0, model0, x) <= TOLERANCE
    assert _relative_error(o2, model2, x) <= TOLERANCE


def test_batch_norm_folding_with_negative_scales(tmp_path):
    source, batch = MODELS["small_convnet"]
    module = load_module(source, tmp_path / "py")
    model = trained_like(module.Model())
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.weight.mul_(torch.where(torch.arange(m.num_features) % 2 == 0, -1.0, 1.0))
    weights = write_safetensors(export_tensors(model), tmp_path / "w.safetensors")
    shape = [batch, *(int(d) for d in module.MODEL_INFO["inputs"][0]["shape"][1:])]
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(3))
    for codes in ("int8", "int2"):
        target = compile_file(source, tmp_path / f"{codes}.onnx", "--backend", "onnx", "--weights",
                              str(weights), "--weight-codes", codes)
        assert "BatchNormalization" not in _op_types(target)
        assert _relative_error(target, model, x) <= TOLERANCE


def test_fuse_bn_false_keeps_the_norms(tmp_path):
    """The optimization section's `fuse_bn: false` turns batch-norm folding off."""
    source = (REPO / "examples/basic/resnet18.triton").read_text()
    assert "fuse_bn: true" in source
    path = tmp_path / "resnet18.triton"
    path.write_text(source.replace("fuse_bn: true", "fuse_bn: false"))
    target = compile_file(path, tmp_path / "r.onnx", "--backend", "onnx")
    assert "BatchNormalization" in _op_types(target)


@pytest.mark.parametrize("damage", ["truncated", "not_safetensors", "missing", "other_model", "wrong_dtype"])
def test_malformed_weights_give_one_line_and_no_file(tmp_path, damage):
    """A weights file that cannot be this model's: the compiler prints one `error:` line
    naming the file (and the tensor, where one is at fault) and writes nothing."""
    source, _ = MODELS["simple_mlp"]
    module = load_module(source, tmp_path / "py")
    tensors = export_tensors(module.Model())
    path = tmp_path / "w.safetensors"
    if damage == "other_model":
        other = load_module(MODELS["small_convnet"][0], tmp_path / "py2")
        write_safetensors(export_tensors(other.Model()), path)
    elif damage == "wrong_dtype":
        tensors["fc1.bias"] = tensors["fc1.bias"].double()
        write_safetensors(tensors, path)
    else:
        write_safetensors(tensors, path)
        data = path.read_bytes()
        if damage == "truncated":
            path.write_bytes(data[: len(data) - 1000])
        elif damage == "not_safetensors":
            path.write_bytes(b"PK\x03\x04" + data[4:])
        else:
            path.unlink()
    target = tmp_path / "m.onnx"
    with pytest.raises(UserError) as failure:
        compile_file(source, target, "--backend", "onnx", "--weights", str(path))
    message = str(failure.value).strip()
    assert len(message.splitlines()) == 1, message
    assert "w.safetensors" in message and "error" in message
    assert not target.exists()


def test_8bit_activations_are_an_int8_qdq_pair(tmp_path):
    """A layer with `activation_bits: 8` reads its input through Max(-127 s) ->
    QuantizeLinear -> DequantizeLinear with an int8 zero point of 0 and the scale
    s = amax / 127, the form ONNX runtimes select integer kernels by; inputs beyond amax (the
    seeded input has some) saturate at -127 and 127 as in PyTorch."""
    model, target, x = _compile_pair("simple_mlp_int8", tmp_path, "--weight-codes", "int8")
    graph = onnx.load(str(target)).graph
    initializers = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer}
    quantize = [n for n in graph.node if n.op_type == "QuantizeLinear"]
    assert len(quantize) == 2
    for node in quantize:
        scale, zero_point = initializers[node.input[1]], initializers[node.input[2]]
        assert zero_point.dtype == np.int8 and int(zero_point) == 0
        assert np.isclose(float(scale), 3.0 / 127.0)
        (floor,) = [n for n in graph.node if n.output[0] == node.input[0]]
        assert floor.op_type == "Max"
        assert np.isclose(float(initializers[floor.input[1]]), -3.0)
    assert np.abs(x.numpy()).max() > 3.0
    assert _relative_error(target, model, x) <= TOLERANCE
