"""`--export-mobile`: a lite-interpreter TorchScript file that loads and matches the model,
and keeps ternary weights as 2-bit codes unless `--mobile-weights float` is given.

The file written through the command line from a checkpoint is loaded with
`torch.jit.mobile._load_for_lite_interpreter` (what PyTorch Mobile runs) and its outputs
compared with the eval-mode PyTorch model on the same inputs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fixtures.programs import load_model_module, run_in_process
from torch.jit.mobile import _load_for_lite_interpreter

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["simple_mlp.py", "tiny_cnn.py"])
def test_export_mobile_loads_in_the_lite_interpreter_and_matches(tmp_path, name):
    model = load_model_module(name).Model()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    model.eval()
    checkpoint = tmp_path / "weights.pth"
    torch.save(model.state_dict(), checkpoint)
    target = tmp_path / "model.ptl"
    assert run_in_process(name, ["--export-mobile", "--checkpoint", str(checkpoint),
                                 "--output", str(target)]) == 0
    lite = _load_for_lite_interpreter(str(target))
    x = torch.randn(1, 1, 28, 28)
    with torch.no_grad():
        expected = model(x)
    torch.testing.assert_close(lite(x), expected, rtol=1e-5, atol=1e-5)


def _program(tmp_path, name):
    import importlib.util

    from triton_dsl.compiler import compile_file

    source = next((REPO / "examples").glob(f"*/{name}.triton"))
    path = compile_file(source, tmp_path / f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return path, module


def _trained_like(model):
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)
                m.weight.uniform_(-1.5, 1.5, generator=g)  # negative scales included
                m.bias.uniform_(-0.2, 0.2, generator=g)
    return model.eval()


@pytest.mark.parametrize("name", ["mobilenetv2", "keyword_spotting"])
def test_packed_mobile_file_is_small_and_matches(triton_compiler, monkeypatch, tmp_path, name):
    """The default `--export-mobile` keeps ternary weights as 2-bit codes (batch norms
    folded into their scales): MobileNetV2's file is at most 3.5 MB (8.9 MB and more with
    float weights), holds no float copy of a ternary weight, and matches PyTorch."""
    import subprocess
    import sys
    import zipfile

    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))
    program, module = _program(tmp_path, name)
    torch.manual_seed(0)
    model = _trained_like(module.Model())
    checkpoint = tmp_path / "weights.pth"
    torch.save(model.state_dict(), checkpoint)
    sizes = {}
    for weights in ("packed", "float"):
        target = tmp_path / f"{weights}.ptl"
        result = subprocess.run([sys.executable, str(program), "--export-mobile", "--checkpoint",
                                 str(checkpoint), "--output", str(target), "--mobile-weights", weights],
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
        sizes[weights] = target.stat().st_size
        lite = _load_for_lite_interpreter(str(target))
        shape = [2, *(int(d) for d in module.MODEL_INFO["inputs"][0]["shape"][1:])]
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            want = model(x)
        got = lite(x)
        assert float((got - want).abs().max() / want.abs().max()) <= 1e-4, weights
        assert float((lite(x) - want).abs().max() / want.abs().max()) <= 1e-4  # the cached weights
    ternary = sum(m.weight.numel() for m in model.modules() if getattr(m, "is_ternary", False))
    assert sizes["packed"] < sizes["float"]
    if name == "mobilenetv2":  # big enough that the weights, not the graph's code, dominate
        assert sizes["packed"] <= 3.5e6 and sizes["packed"] < sizes["float"] / 6
    with zipfile.ZipFile(tmp_path / "packed.ptl") as archive:
        stored = sum(i.file_size for i in archive.infolist() if "/data/" in i.filename)
    assert stored < ternary  # about 2 bits per ternary weight plus the float tensors
