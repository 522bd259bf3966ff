"""The PyTorch-style language features together, end to end on CPU: tensor methods
(`x.view(b, -1)`), sizes listed one by one, `expand` with -1, named arguments to layer calls,
a layer chosen by `if`/`else`, a shape given by a conditional expression and `return` inside
`if`. The golden source compiles with `--verify`, the generated module matches a forward
pass recomputed by hand for both values of the `deep` switch, and a few training steps
lower the loss. User `fn` functions, inlined at each call, compute what their source says.
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest
import torch
import torch.nn.functional as TF

REPO = Path(__file__).resolve().parents[2]
GOLDENS = REPO / "tests" / "compiler" / "goldens" / "pytorch"


def compile_and_load(triton: Path, directory: Path, stem: str):
    out = directory / f"{stem}.py"
    result = subprocess.run([str(triton), "compile", str(GOLDENS / f"{stem}.triton"), "--verify", "-o", str(out)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    spec = importlib.util.spec_from_file_location(f"gen_{stem}", out)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def module(triton_compiler: Path, tmp_path_factory):
    return compile_and_load(triton_compiler, tmp_path_factory.mktemp("language_features"), "pytorch_style")


def test_inlined_functions_compute_what_the_source_says(triton_compiler: Path, tmp_path: Path):
    model = compile_and_load(triton_compiler, tmp_path, "functions_fn").Model().eval()
    x = torch.randn(3, 4, 8)

    def gated(a, gate):
        return a * torch.sigmoid(gate)

    with torch.no_grad():
        h = x.mean(dim=1)
        y = gated(model.fc(h), model.g(h))
        torch.testing.assert_close(model(x), gated(y + h, h))


def by_hand(model, x: torch.Tensor) -> torch.Tensor:
    b = x.shape[0]
    h = x.reshape(b, 2, 8).permute(0, 2, 1).flatten(1)
    t = model.tok.expand(b, -1, -1).mean(dim=1)
    h = torch.relu(model.stem(h)) + t
    head = model.head
    if head.deep:
        scale = 0.5 if model.tok.shape[1] > 1 else 1.0
        return head.out(head.proj(h)) * scale
    return head.out(h)


@pytest.mark.parametrize("deep", [True, False])
def test_forward_matches_the_source(module, deep):
    torch.manual_seed(0)
    model = module.Model(deep=deep).eval()
    # The conditional shape and the layer chosen by `else` follow the switch.
    assert tuple(model.tok.shape) == ((1, 2, 8) if deep else (1, 1, 8))
    assert len(model.head.proj) == (2 if deep else 1)
    x = torch.randn(3, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(model(x), by_hand(model, x))
        assert model(x).shape == (3, 4)


def test_a_few_training_steps_lower_the_loss(module):
    torch.manual_seed(0)
    model = module.Model().train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 4, 4), torch.randint(0, 4, (16,))
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = TF.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]
    assert model.tok.grad is not None and model.tok.grad.abs().sum() > 0
