"""examples/quantization: each model compiles, its `quantization` section reaches the layers,
it trains a few steps on CPU, and its packed export runs in the native engine like PyTorch.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures.training import train_steps

from triton_dsl import native
from triton_dsl.compiler import compile_file
from triton_dsl.export.packed import save_packed

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "quantization"


def _model(tmp_path, name):
    path = compile_file(EXAMPLES / f"{name}.triton", tmp_path / f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    return module, module.Model()


def _layer_settings(model):
    return {name: (m.quantization, m.activation_bits) for name, m in model.named_modules()
            if hasattr(m, "quantization") and hasattr(m, "activation_bits")}


def test_examples_are_tested():
    assert {p.stem for p in EXAMPLES.glob("*.triton")} == set(EXPECTED)


EXPECTED = {
    # example -> (layer, (quantization, activation_bits)) pairs the section must produce
    "mixed_precision_resnet": {"stem": ("none", 32), "classifier": ("none", 32),
                               "stage1.0.conv1": ("deterministic", 8), "down": ("deterministic", 8)},
    "int8_mobilenet": {"stem": ("none", 32), "head": ("deterministic", 8),
                       "blocks.2.depthwise": ("deterministic", 8)},
    "stochastic_mlp": {"fc1": ("stochastic", 32), "fc2": ("stochastic", 32),
                       "out": ("deterministic", 32)},
    "ttq_resnet": {"stem": ("ttq", 32), "stage2.1.conv2": ("ttq", 32),
                   "classifier": ("deterministic", 32)},
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_example_trains_and_exports(triton_compiler, monkeypatch, tmp_path, name):
    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))
    module, model = _model(tmp_path, name)
    settings = _layer_settings(model)
    for layer, want in EXPECTED[name].items():
        assert settings[layer] == want, layer
    shape = [8, *(int(d) for d in module.MODEL_INFO["inputs"][0]["shape"][1:])]
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(*shape, generator=generator)
    y = torch.randint(0, 10, (8,), generator=generator)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = train_steps(model, x, y, optimizer, 4)
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    model.eval()
    target = tmp_path / f"{name}.tpk"
    report = save_packed(model, target, example_input=x[:1])
    assert report.ternary_weights > 0
    with torch.no_grad():
        want = model(x).numpy()
    got = native.load(target).run(x.numpy())
    assert float(np.abs(got - want).max() / np.abs(want).max()) < 1e-3


def test_stochastic_training_is_random_and_evaluation_is_not(triton_compiler, monkeypatch, tmp_path):
    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))
    _, model = _model(tmp_path, "stochastic_mlp")
    x = torch.randn(4, 1, 28, 28)
    model.train()
    assert not torch.equal(model(x), model(x))
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
