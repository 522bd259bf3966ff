"""`--export-onnx`: the written file is valid ONNX and ONNX Runtime matches PyTorch.

The fixture models are exported from a checkpoint through the command line (which runs the
compiler's ONNX backend on the model's `.triton` source with the checkpoint's weights),
then run by ONNX Runtime on several batch sizes (the batch axis is dynamic) and compared
with the eval-mode PyTorch model that loaded the same checkpoint.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from fixtures.programs import FIXTURES, load_model_module, run_in_process

from triton_dsl.errors import UserError
from triton_dsl.export.onnx import export_onnx

EXAMPLES = FIXTURES.parents[2] / "examples" / "basic"
# The fixture programs' sources: tiny_cnn.triton sits beside its program, simple_mlp's is
# the seed model.
SOURCES = {"simple_mlp.py": ["--source", str(EXAMPLES / "simple_mlp.triton")], "tiny_cnn.py": []}


@pytest.fixture(autouse=True)
def _compiler(triton_compiler, monkeypatch):
    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))


def _trained_like(name: str) -> torch.nn.Module:
    """The fixture model with non-trivial batch-norm statistics, as after training."""
    model = load_model_module(name).Model()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model.eval()


@pytest.mark.parametrize("name", ["simple_mlp.py", "tiny_cnn.py"])
def test_export_onnx_from_a_checkpoint_matches_pytorch(tmp_path, name):
    model = _trained_like(name)
    checkpoint = tmp_path / "weights.pth"
    torch.save(model.state_dict(), checkpoint)
    target = tmp_path / "model.onnx"
    assert run_in_process(name, ["--export-onnx", "--checkpoint", str(checkpoint),
                                 "--output", str(target), *SOURCES[name]]) == 0
    onnx.checker.check_model(onnx.load(target))
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        x = torch.randn(batch, 1, 28, 28)
        (got,) = session.run(None, {"x": x.numpy()})
        with torch.no_grad():
            expected = model(x).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_export_weights_writes_what_the_compiler_reads(tmp_path):
    from triton_dsl.export.safetensors import read_safetensors

    model = _trained_like("tiny_cnn.py")
    checkpoint = tmp_path / "weights.pth"
    torch.save(model.state_dict(), checkpoint)
    target = tmp_path / "w.safetensors"
    assert run_in_process("tiny_cnn.py", ["--export-weights", "--checkpoint", str(checkpoint),
                                          "--output", str(target)]) == 0
    tensors = read_safetensors(target)
    assert torch.equal(tensors["bn.running_mean"], model.bn.running_mean)
    codes, scales = model.stem.ternary_weight()
    assert torch.equal(tensors["stem.weight.codes"], codes)
    assert torch.equal(tensors["stem.weight.scales"], scales)


def test_export_onnx_without_the_source_says_how_to_give_it(tmp_path):
    model = _trained_like("simple_mlp.py")
    checkpoint = tmp_path / "weights.pth"
    torch.save(model.state_dict(), checkpoint)
    with pytest.raises(UserError, match="--source"):
        run_in_process("simple_mlp.py", ["--export-onnx", "--checkpoint", str(checkpoint),
                                         "--output", str(tmp_path / "m.onnx")])


def test_export_onnx_leaves_no_file_when_the_target_directory_is_missing(tmp_path):
    model = _trained_like("simple_mlp.py")
    checkpoint = tmp_path / "weights.pth"
    torch.save(model.state_dict(), checkpoint)
    with pytest.raises(UserError, match="does not exist"):
        run_in_process("simple_mlp.py", ["--export-onnx", "--checkpoint", str(checkpoint),
                                         "--output", str(tmp_path / "no" / "model.onnx")])


def test_export_onnx_library_call_writes_atomically(tmp_path):
    model = _trained_like("tiny_cnn.py")
    target = tmp_path / "m.onnx"
    export_onnx(model, target, source=FIXTURES / "tiny_cnn.triton")
    assert target.is_file() and [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_a_vision_transformer_exports_loadable_by_onnx_runtime(tmp_path):
    """The class token's `repeat` becomes a Tile by a size read from the input's shape, and
    every Transpose has a non-negative `perm` (ONNX Runtime refuses negative entries)."""
    from triton_dsl.compiler import load_module

    vit = tmp_path / "vit.triton"
    vit.write_text((EXAMPLES / "vision_transformer.triton").read_text()
                   .replace("image_size: 224", "image_size: 32")
                   .replace("embed_dim: 768", "embed_dim: 32").replace("depth: 12", "depth: 1")
                   .replace("num_heads: 12", "num_heads: 2")
                   .replace("num_classes: 1000", "num_classes: 5")
                   .replace("Tensor[batch, 3, 224, 224]", "Tensor[batch, 3, 32, 32]"))
    model = load_module(vit, tmp_path / "py").Model().eval()
    path = export_onnx(model, tmp_path / "vit.onnx", source=vit)
    graph = onnx.load(path).graph
    perms = [list(a.ints) for n in graph.node if n.op_type == "Transpose"
             for a in n.attribute if a.name == "perm"]
    assert perms and all(p >= 0 for perm in perms for p in perm), perms
    assert "Tile" in [n.op_type for n in graph.node]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 2):
        x = torch.randn(batch, 3, 32, 32)
        got = session.run(None, {"x": x.numpy()})[0]
        with torch.no_grad():
            want = model(x).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
