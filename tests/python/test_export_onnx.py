"""`--export-onnx`: the written file is valid ONNX and ONNX Runtime matches PyTorch.

The fixture models are exported from a checkpoint through the command line, then run by
ONNX Runtime on a batch size other than the traced one (the batch axis is dynamic) and
compared with the eval-mode PyTorch model that loaded the same checkpoint.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from fixtures.programs import load_model_module, run_in_process

from triton_dsl.errors import UserError
from triton_dsl.export.onnx import export_onnx


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
                                 "--output", str(target)]) == 0
    onnx.checker.check_model(onnx.load(target))
    x = torch.randn(3, 1, 28, 28)
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"input": x.numpy()})
    with torch.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


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
    export_onnx(model, target, example_input=torch.randn(1, 1, 28, 28))
    assert target.is_file() and [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_a_vision_transformer_exports_loadable_by_onnx_runtime(tmp_path):
    """The class token's `repeat` traces to a Transpose with perm [-1, 0, 1], which ONNX
    Runtime refuses; the exporter writes it as [2, 0, 1]."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import seed_models

    try:
        model, shape = seed_models.build(
            seed_models.EXAMPLES / "vision_transformer.triton", shape=(3, 32, 32),
            image_size=32, embed_dim=32, depth=1, num_heads=2, num_classes=5,
            cache_dir=tmp_path / "compiled")
    except Exception as error:  # noqa: BLE001 (no compiler built here)
        pytest.skip(f"the ViT seed model cannot be compiled here: {error}")
    model.eval()
    path = export_onnx(model, tmp_path / "vit.onnx", example_input=torch.randn(1, *shape))
    perms = [list(a.ints) for n in onnx.load(path).graph.node if n.op_type == "Transpose"
             for a in n.attribute if a.name == "perm"]
    assert perms and all(p >= 0 for perm in perms for p in perm), perms
    x = torch.randn(2, *shape)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        want = model(x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
