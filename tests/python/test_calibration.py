"""Post-training calibration (`triton_dsl.export.calibration`) and `--export-packed --calibrate`.

Calibration switches every ternary layer with float activations to 8-bit activations with
a measured input range; the native engine must then compute what PyTorch eval computes
(the tolerance of test_int8_activations.py: float rounding, plus at most 1% of outputs
moved by a quantization step that flipped on a rounding boundary). The command line is run
end to end on a real MNIST subset: the shared datasets folder of the development checkout
(found through $TRITON_DATA or beside the checkout); without it those tests skip.
"""

from __future__ import annotations

import gzip
import os
import re
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures.programs import copy_model, run_model
from test_int8_activations import MAX_FLIPPED_FRACTION, parity_numbers
from torch import nn

from triton_dsl import layers as L
from triton_dsl.errors import UserError
from triton_dsl.export.calibration import calibratable_layers, calibrate_activations
from triton_dsl.export.packed import save_packed
from triton_dsl.fusion import fused

REPO_ROOT = Path(__file__).resolve().parents[2]


class _Mixed(nn.Module):
    """Every kind of layer calibration meets: ternary conv and linear layers with float
    activations, a float-weight (`quantization: "none"`) layer, a layer trained with 8-bit
    activations, and attention's projections."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = L.TernaryConv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.dw = L.TernaryConv2d(8, 8, 3, padding=1, groups=8)
        self.kept_float = L.TernaryLinear(8, 16, quantization="none")
        self.trained8 = L.TernaryLinear(16, 16, activation_bits=8)
        self.attention = L.MultiHeadAttention(16, 2)
        self.head = L.TernaryLinear(16, 5)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        x = torch.relu(self.dw(x))
        x = x.flatten(2).transpose(1, 2)                 # [batch, 36, 8]
        x = torch.relu(self.trained8(torch.relu(self.kept_float(x))))
        x = self.attention(x)
        return self.head(x.mean(dim=1))


def _trained_mixed() -> nn.Module:
    model = _Mixed()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for step in range(6):
        x = torch.randn(16, 3, 6, 6, generator=torch.Generator().manual_seed(step))
        loss = nn.functional.cross_entropy(model(x), torch.arange(16) % 5)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def _batches(count: int, shape=(3, 6, 6), size: int = 16) -> list[torch.Tensor]:
    return [torch.randn(size, *shape, generator=torch.Generator().manual_seed(50 + i))
            for i in range(count)]


def test_every_ternary_layer_with_float_activations_gets_a_range():
    model = _trained_mixed()
    learned = float(model.trained8.input_amax)
    expected = ["conv", "dw", "attention.qkv", "attention.proj", "head"]
    assert [name for name, _ in calibratable_layers(model)] == expected
    model.train()
    assert calibrate_activations(model, _batches(3)) == len(expected)
    assert model.training  # the mode is restored
    for name in expected:
        layer = model.get_submodule(name)
        assert layer.activation_bits == 8, name
        assert float(layer.input_amax) > 0, name
        assert f"{name}.input_amax" in model.state_dict()
    assert model.kept_float.activation_bits == 32  # float weights stay float on purpose
    assert float(model.trained8.input_amax) == learned  # QAT ranges are kept
    assert calibratable_layers(model) == []
    assert calibrate_activations(model, _batches(1)) == 0


class _Chain(nn.Module):
    """conv -> bn -> relu twice and a head, fused as an -O2 program writes it
    (`fusion.fused`), or as the plain chain of an -O0 program; plus a layer the forward never
    reaches."""

    def __init__(self, fuse: bool) -> None:
        super().__init__()
        self.fuse = fuse
        self.conv1, self.bn1 = L.TernaryConv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.conv2, self.bn2 = L.TernaryConv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.head = L.TernaryLinear(8, 5)
        self.unused = L.TernaryLinear(8, 5)

    def forward(self, x):
        for conv, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2)):
            x = fused(conv, x, norm=bn, activation="relu") if self.fuse else torch.relu(bn(conv(x)))
        return self.head(x.mean(dim=(2, 3)))


def test_fused_programs_calibrate_like_unfused_ones():
    # The folded evaluation path of `F.fused` calls neither the layer nor its hooks; the
    # calibration must still see every layer's input (it once saw none and set ranges of 0).
    plain = _Chain(fuse=False)
    for bn in (plain.bn1, plain.bn2):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    fused_model = _Chain(fuse=True)
    fused_model.load_state_dict(plain.state_dict())
    counts = [calibrate_activations(m.eval(), _batches(2)) for m in (plain, fused_model)]
    assert counts == [3, 3]  # conv1, conv2, head; `unused` never ran
    for name in ("conv1", "conv2", "head"):
        want = float(plain.get_submodule(name).input_amax)
        assert want > 0, name
        assert float(fused_model.get_submodule(name).input_amax) == pytest.approx(want, rel=1e-5), name
    assert fused_model.unused.activation_bits == 32  # never reached: keeps float activations
    x = _batches(1)[0]
    with torch.no_grad():
        torch.testing.assert_close(fused_model(x), plain(x), rtol=1e-4, atol=1e-5)


def _inputs_of(model: nn.Module, name: str, batches) -> torch.Tensor:
    seen = []
    hook = model.get_submodule(name).register_forward_pre_hook(
        lambda m, args: seen.append(args[0].detach().abs().flatten()))
    with torch.no_grad():
        for x in batches:
            model(x)
    hook.remove()
    return torch.cat(seen)


@pytest.mark.parametrize("method", ["max", "percentile", "mse"])
def test_estimators_follow_the_observed_distribution(method):
    torch.manual_seed(0)
    model = nn.Sequential(L.TernaryLinear(32, 4)).eval()
    # Batches of growing range (the histogram doubles its range twice) and one outlier.
    batches = [torch.randn(256, 32) * scale for scale in (1.0, 3.0, 9.0)]
    batches[1][0, 0] = 400.0
    values = _inputs_of(model, "0", batches)
    calibrate_activations(model, batches, method=method, percentile=99.9)
    amax = float(model[0].input_amax)
    top = float(values.max())
    if method == "max":
        assert amax == pytest.approx(top)
    elif method == "percentile":
        # The empirical quantile, up to one histogram bin (4096 bins over a range of at
        # most twice the max): 99.9% of the values are within amax, not within a bin less.
        width = 2 * top / 4096
        assert float((values <= amax).double().mean()) >= 0.999
        assert float((values <= amax - width).double().mean()) < 0.999
    else:
        # Nearly the least squared error of any range (the search works on bin centres).
        def error(a: float) -> float:
            step = a / 127
            q = torch.clamp(torch.round(values.double() / step), max=127) * step
            return float(((values.double() - q) ** 2).sum())

        best = min(error(a) for a in np.linspace(top / 400, top, 400))
        assert error(amax) <= 1.02 * best


def test_percentile_clips_where_max_does_not():
    model = nn.Sequential(L.TernaryLinear(8, 2)).eval()
    x = torch.rand(4096, 8)
    x[0, 0] = 50.0
    for method, check in (("max", lambda a: a == pytest.approx(50.0)),
                          ("percentile", lambda a: a < 1.1)):
        clone = nn.Sequential(L.TernaryLinear(8, 2)).eval()
        clone.load_state_dict(model.state_dict())
        calibrate_activations(clone, [x], method=method)
        assert check(float(clone[0].input_amax)), method


def test_bad_arguments_and_empty_data_are_user_errors():
    model = nn.Sequential(L.TernaryLinear(4, 2))
    with pytest.raises(UserError, match="calibration method must be one of"):
        calibrate_activations(model, _batches(1, (4,)), method="entropy")
    with pytest.raises(UserError, match="percentile must be in"):
        calibrate_activations(model, _batches(1, (4,)), method="percentile", percentile=0)
    with pytest.raises(UserError, match="at least one batch"):
        calibrate_activations(model, [])
    with pytest.raises(UserError, match="tensor or an \\(input, target\\) pair"):
        calibrate_activations(model, ["not a tensor"])
    assert model[0].activation_bits == 32  # nothing switched by a failed calibration
    nan = torch.full((2, 4), float("nan"))
    with pytest.raises(UserError, match="non-finite"):
        calibrate_activations(model, [nan])


def test_batches_may_be_input_target_pairs():
    model = nn.Sequential(L.TernaryLinear(4, 2))
    pairs = [(x, torch.zeros(len(x), dtype=torch.long)) for x in _batches(2, (4,))]
    assert calibrate_activations(model, pairs, method="max") == 1
    assert float(model[0].input_amax) == pytest.approx(
        max(float(x.abs().max()) for x, _ in pairs))


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
def test_calibrated_engine_matches_pytorch_eval(tmp_path, monkeypatch, isa):
    native = pytest.importorskip("triton_dsl.native")
    monkeypatch.setenv("TRITON_RT_FORCE_ISA", isa)
    model = _trained_mixed()
    calibrate_activations(model, _batches(4))
    path = tmp_path / "calibrated.tpk"
    save_packed(model, path, example_input=torch.randn(2, 3, 6, 6))
    assert path.read_bytes()[8] == 2  # the file carries the activation scales
    engine = native.load(path, threads=2)
    for batch in (1, 5, 32):
        x = torch.randn(batch, 3, 6, 6, generator=torch.Generator().manual_seed(batch))
        with torch.no_grad():
            want = model(x).numpy()
        numbers = parity_numbers(engine.run(x.numpy()), want)
        assert numbers["off_fraction"] <= MAX_FLIPPED_FRACTION, numbers
        assert numbers["max_rel"] < 0.05, numbers


# -- the command line -------------------------------------------------------------------------

@pytest.mark.parametrize("count", ["0", "-3"])
def test_bad_batch_count_is_a_one_line_error(tmp_path, count):
    script = copy_model("simple_mlp.py", tmp_path)
    result = run_model(script, "--export-packed", "--calibrate", count)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: --calibrate must be at least 1, got {count}"]
    assert not (tmp_path / "simple_mlp.tpk").exists()


def _shared_mnist() -> Path | None:
    """The real MNIST files: $TRITON_DATA/mnist, else `shared/datasets/mnist` beside the
    checkout (beside the main checkout for a git worktree)."""
    candidates = []
    if os.environ.get("TRITON_DATA"):
        candidates.append(Path(os.environ["TRITON_DATA"]) / "mnist")
    roots = [REPO_ROOT]
    try:
        common = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--git-common-dir"],
                                capture_output=True, text=True, timeout=10, check=True)
        roots.append((REPO_ROOT / common.stdout.strip()).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        pass
    candidates += [root.parent / "shared" / "datasets" / "mnist" for root in roots]
    for path in candidates:
        if (path / "t10k-labels-idx1-ubyte.gz").is_file():
            return path
    return None


def _write_subset(source: Path, target: Path, train: int, test: int) -> Path:
    """The first `train` / `test` records of the real MNIST files, as MNIST files."""
    target.mkdir(parents=True)
    for prefix, count in (("train", train), ("t10k", test)):
        for kind, record in (("images-idx3", 784), ("labels-idx1", 1)):
            name = f"{prefix}-{kind}-ubyte.gz"
            with gzip.open(source / name, "rb") as handle:
                header_size = 16 if record == 784 else 8
                header = bytearray(handle.read(header_size))
                body = handle.read(count * record)
            struct.pack_into(">I", header, 4, count)
            with gzip.GzipFile(target / name, "wb", mtime=0) as out:
                out.write(bytes(header) + body)
    return target


@pytest.fixture(scope="module")
def mnist_subset(tmp_path_factory) -> Path:
    source = _shared_mnist()
    if source is None:
        pytest.skip("the real MNIST files are not at hand (set TRITON_DATA)")
    return _write_subset(source, tmp_path_factory.mktemp("mnist") / "mnist", 2048, 500)


def test_export_packed_calibrate_reports_float_and_engine_accuracy(tmp_path, mnist_subset):
    pytest.importorskip("triton_dsl.native")
    script = copy_model("simple_mlp.py", tmp_path)
    data = ["--dataset", "mnist", "--data-path", str(mnist_subset), "--no-download"]
    trained = run_model(script, "--train", "--epochs", "1", "--batch-size", "64",
                        "--no-progress", *data)
    assert trained.returncode == 0, trained.stderr
    result = run_model(script, "--export-packed", "--calibrate", "4", "--output",
                       str(tmp_path / "int8.tpk"), *data)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "calibrated 2 layers to 8-bit activations on 4 training batches of 128" in out
    rows = {}
    for line in out.splitlines():
        m = re.match(r"(PyTorch eval, float activations|PyTorch eval, calibrated 8-bit|"
                     r"native engine, calibrated 8-bit)\s*\|\s*([\d.]+)%\s*\|\s*(\d+)/500", line)
        if m:
            rows[m.group(1)] = int(m.group(3))
    assert len(rows) == 3, out
    assert rows["PyTorch eval, float activations"] > 300  # it learned something
    # The engine computes what calibrated PyTorch computes; calibration costs little.
    assert abs(rows["native engine, calibrated 8-bit"] - rows["PyTorch eval, calibrated 8-bit"]) <= 2
    assert abs(rows["native engine, calibrated 8-bit"] - rows["PyTorch eval, float activations"]) <= 10
    assert (tmp_path / "int8.tpk").read_bytes()[8] == 2
