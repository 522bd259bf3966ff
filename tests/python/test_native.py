"""The native engine against PyTorch: the exported seed models must give the eval-mode
outputs within 1e-4 relative error, at several batch sizes, both packings and every kernel
level; bad files and inputs raise ValueError.

The models are compiled from `examples/basic/*.triton` (and the other examples named in
`PARITY_MODELS`) by the installed compiler (`benchmarks/seed_models.py`); small inputs
(MobileNetV2 at 64x64) and a small ViT (hyper-parameters overridden) keep this suite fast;
the full-size models are measured by `benchmarks/native_bench.py` and
`benchmarks/native_parity.py`.
"""

import os
import struct
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("triton_dsl._native")

from triton_dsl import native
from triton_dsl.export.packed import ExportError, load_packed, save_packed

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import seed_models

TOLERANCE = 1e-4
LEVELS = ["scalar", "avx2", "avx512", "amx"]


def expected_level(forced: str) -> str:
    """The level an engine runs when TRITON_RT_FORCE_ISA=forced: never above the CPU's."""
    return LEVELS[min(LEVELS.index(forced), LEVELS.index(native.detected_isa()))]


# name (of examples/*/NAME.triton) -> (hyper-parameter overrides, input shape without the
# batch; None: the declared one)
PARITY_MODELS = {
    "simple_mlp": ({}, None),
    "resnet18": ({}, (3, 16, 16)),
    "mobilenetv2": ({"num_classes": 10}, (3, 64, 64)),
    "vision_transformer": ({"num_classes": 10, "image_size": 32, "patch_size": 8,
                            "embed_dim": 64, "depth": 2, "num_heads": 4}, (3, 32, 32)),
    "keyword_spotting": ({}, None),
}


@pytest.fixture(scope="session")
def seed_dir(triton_compiler, tmp_path_factory):
    """One folder of compiled seed models for the whole session."""
    return tmp_path_factory.mktemp("seed_models")


def seed(name: str, cache_dir) -> tuple[torch.nn.Module, tuple[int, ...]]:
    hyper, shape = PARITY_MODELS[name]
    return seed_models.build(seed_models.example_file(name), shape=shape, cache_dir=cache_dir,
                             **hyper)


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-12))


@pytest.fixture(scope="module", params=list(PARITY_MODELS))
def exported(request, tmp_path_factory, seed_dir):
    name = request.param
    model, shape = seed(name, seed_dir)
    path = tmp_path_factory.mktemp(name) / f"{name}.tpk"
    report = save_packed(model, path, example_input=torch.randn(2, *shape))
    return name, model, shape, path, report


@pytest.mark.parametrize("batch", [1, 5])
def test_parity_with_pytorch(exported, batch):
    name, model, shape, path, _ = exported
    engine = load_packed(path)
    x = torch.randn(batch, *shape, generator=torch.Generator().manual_seed(batch))
    with torch.no_grad():
        want = model(x).numpy()
    got = engine.run(x.numpy())
    assert got.shape == want.shape
    assert relative_error(got, want) < TOLERANCE, name


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512", "amx"])
def test_every_kernel_level_agrees(exported, isa, monkeypatch):
    _, model, shape, path, _ = exported
    monkeypatch.setenv("TRITON_RT_FORCE_ISA", isa)
    engine = native.load(path, threads=2)
    assert engine.info()["isa"] == expected_level(isa)
    x = torch.randn(4, *shape, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        want = model(x).numpy()
    assert relative_error(engine.run(x.numpy()), want) < TOLERANCE


def test_base3_packing_gives_the_same_outputs(exported, tmp_path):
    name, model, shape, path, report = exported
    small = tmp_path / f"{name}_1.6.tpk"
    report3 = save_packed(model, small, example_input=torch.randn(2, *shape), bits="1.6")
    assert report3.packed_bytes < report.packed_bytes
    x = np.random.default_rng(0).standard_normal((2, *shape)).astype(np.float32)
    np.testing.assert_array_equal(load_packed(small).run(x), load_packed(path).run(x))
    assert load_packed(small).info()["bits"] == "1.6"


def test_mlp_report_and_sizes(tmp_path, seed_dir):
    model, _ = seed("simple_mlp", seed_dir)
    report = save_packed(model, tmp_path / "m.tpk", example_input=torch.randn(1, 1, 28, 28))
    assert report.packed_bytes == (tmp_path / "m.tpk").stat().st_size
    assert report.packed_bytes <= 53 * 1024
    assert report.ternary_weights == 784 * 256 + 256 * 10
    assert report.float32_bytes == 4 * sum(p.numel() for p in model.parameters())
    report3 = save_packed(model, tmp_path / "m3.tpk", example_input=torch.randn(1, 1, 28, 28),
                          bits="1.6")
    assert report3.packed_bytes <= 45 * 1024
    info = load_packed(tmp_path / "m.tpk").info()
    assert info["op_kinds"] == ["Reshape", "Linear", "Linear"]  # the ReLU is fused
    assert info["format_version"] == 1
    assert info["ternary_weights"] == report.ternary_weights


def test_batch_norm_is_folded(tmp_path, seed_dir):
    model, _ = seed("resnet18", seed_dir)
    save_packed(model, tmp_path / "r.tpk", example_input=torch.randn(1, 3, 32, 32))
    kinds = load_packed(tmp_path / "r.tpk").info()["op_kinds"]
    assert "ChannelAffine" not in kinds and "Activation" not in kinds
    assert kinds.count("Conv2d") == 20


def test_float_layers_and_unfused_ops(tmp_path):
    from triton_dsl import layers as L
    model = torch.nn.Sequential(
        L.Conv2d(in_channels=3, out_channels=4, kernel_size=3, padding=1),
        L.BatchNorm2d(num_features=4), L.SiLU(), L.MaxPool2d(kernel_size=2),
        L.TernaryConv2d(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1,
                        quantization="none"),
        L.AvgPool2d(kernel_size=2), L.Flatten(), L.Linear(in_features=24, out_features=5),
        L.Tanh(), L.Softmax(dim=-1))
    seed_models.randomize_batch_norm(model)
    save_packed(model, tmp_path / "f.tpk", example_input=torch.randn(2, 3, 16, 16))
    x = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        want = model(x).numpy()
    engine = load_packed(tmp_path / "f.tpk")
    assert engine.info()["ternary_weights"] == 0
    assert relative_error(engine.run(x.numpy()), want) < TOLERANCE


def test_ternary_activation(tmp_path):
    from triton_dsl import layers as L
    for method in ("sign", "ternary"):
        model = torch.nn.Sequential(
            L.TernaryLinear(in_features=10, out_features=8),
            L.TernaryActivation(method=method, clip_value=0.5, threshold=0.4),
            L.TernaryLinear(in_features=8, out_features=3)).eval()
        save_packed(model, tmp_path / "a.tpk", example_input=torch.randn(2, 10))
        x = torch.randn(6, 10)
        with torch.no_grad():
            want = model(x).numpy()
        assert relative_error(load_packed(tmp_path / "a.tpk").run(x.numpy()), want) < TOLERANCE


def test_unsupported_layers_are_refused(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LSTMCell(4, 4))
    with pytest.raises(ExportError, match="cannot be exported"):
        save_packed(model, tmp_path / "x.tpk", example_input=torch.randn(1, 4))


def test_bad_files_raise_value_error(tmp_path, seed_dir):
    model, _ = seed("simple_mlp", seed_dir)
    path = tmp_path / "m.tpk"
    save_packed(model, path, example_input=torch.randn(1, 1, 28, 28))
    data = path.read_bytes()
    with pytest.raises(ValueError, match="truncated"):
        native.load_bytes(data[:-10])
    with pytest.raises(ValueError, match="version 7"):
        native.load_bytes(data[:8] + struct.pack("<I", 7) + data[12:])
    with pytest.raises(ValueError, match="not a .tpk"):
        native.load_bytes(b"hello")
    with pytest.raises(ValueError, match="cannot open"):
        native.load(tmp_path / "missing.tpk")
    engine = native.load(path)
    with pytest.raises(ValueError, match="expects"):
        engine.run(np.zeros((1, 1, 27, 28), np.float32))


def test_threads_are_configurable(tmp_path, seed_dir):
    model, _ = seed("simple_mlp", seed_dir)
    save_packed(model, tmp_path / "m.tpk", example_input=torch.randn(1, 1, 28, 28))
    assert native.load(tmp_path / "m.tpk", threads=1).info()["threads"] == 1
    # More than the machine has is capped, with a warning (test_native_hostile.py).
    expected = min(3, os.cpu_count())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert native.load(tmp_path / "m.tpk", threads=3).info()["threads"] == expected


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512", "amx"])
@pytest.mark.parametrize("geometry", [
    # (in, out, kernel, stride, padding, dilation, size): output channels not a multiple of
    # 16, output sizes not a multiple of 16 columns, strided, dilated and 1x1 convolutions.
    (5, 37, 3, 1, 1, 1, 7), (8, 16, 1, 1, 0, 1, 4), (6, 20, 1, 2, 0, 1, 9),
    (3, 33, 3, 2, 2, 2, 11), (4, 17, (3, 1), 1, (0, 1), 1, 6), (16, 64, 3, 1, 1, 1, 8)])
def test_ternary_conv_geometries(tmp_path, geometry, isa, monkeypatch):
    from triton_dsl import layers as L
    cin, cout, kernel, stride, padding, dilation, size = geometry
    monkeypatch.setenv("TRITON_RT_FORCE_ISA", isa)
    model = torch.nn.Sequential(
        L.TernaryConv2d(in_channels=cin, out_channels=cout, kernel_size=kernel, stride=stride,
                        padding=padding, dilation=dilation), L.ReLU()).eval()
    save_packed(model, tmp_path / "c.tpk", example_input=torch.randn(1, cin, size, size))
    for batch, threads in ((1, 1), (1, 2), (3, 2)):
        x = torch.randn(batch, cin, size, size)
        with torch.no_grad():
            want = model(x).numpy()
        got = native.load(tmp_path / "c.tpk", threads=threads).run(x.numpy())
        assert relative_error(got, want) < TOLERANCE, (geometry, batch, threads)


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512", "amx"])
@pytest.mark.parametrize("geometry", [
    # (in, out, kernel, stride, padding, dilation, groups, length): plain, strided, dilated,
    # pointwise, depthwise at strides 1 and 2, and grouped 1-d convolutions.
    (5, 37, 3, 1, 1, 1, 1, 19), (8, 16, 5, 2, 2, 1, 1, 33), (6, 20, 3, 1, 2, 2, 1, 17),
    (16, 64, 1, 1, 0, 1, 1, 24), (12, 12, 3, 1, 1, 1, 12, 21), (12, 12, 3, 2, 1, 1, 12, 21),
    (8, 12, 3, 1, 0, 1, 4, 10)])
def test_ternary_conv1d_geometries(tmp_path, geometry, isa, monkeypatch):
    """A 1-d convolution runs as a conv2d over a height of 1, between two reshapes; the
    batch norm after it is folded into it and the ReLU fused."""
    from triton_dsl import layers as L
    cin, cout, kernel, stride, padding, dilation, groups, length = geometry
    monkeypatch.setenv("TRITON_RT_FORCE_ISA", isa)
    model = torch.nn.Sequential(
        L.TernaryConv1d(in_channels=cin, out_channels=cout, kernel_size=kernel, stride=stride,
                        padding=padding, dilation=dilation, groups=groups),
        L.BatchNorm1d(num_features=cout), L.ReLU())
    seed_models.randomize_batch_norm(model)
    save_packed(model, tmp_path / "c.tpk", example_input=torch.randn(1, cin, length))
    engine = native.load(tmp_path / "c.tpk", threads=2)
    assert engine.info()["op_kinds"] == ["Reshape", "Conv2d", "Reshape"]
    for batch in (1, 3):
        x = torch.randn(batch, cin, length)
        with torch.no_grad():
            want = model(x).numpy()
        got = engine.run(x.numpy())
        assert got.shape == want.shape
        assert relative_error(got, want) < TOLERANCE, (geometry, batch)


def test_float_conv1d_exports_with_a_2d_weight(tmp_path):
    from triton_dsl import layers as L
    model = torch.nn.Sequential(
        L.TernaryConv1d(in_channels=4, out_channels=6, kernel_size=3, padding=1,
                        quantization="none"), L.Tanh(),
        torch.nn.Conv1d(6, 5, 3, stride=2, groups=1)).eval()
    save_packed(model, tmp_path / "f.tpk", example_input=torch.randn(2, 4, 15))
    engine = load_packed(tmp_path / "f.tpk")
    assert engine.info()["ternary_weights"] == 0
    x = torch.randn(3, 4, 15)
    with torch.no_grad():
        want = model(x).numpy()
    assert relative_error(engine.run(x.numpy()), want) < TOLERANCE


@pytest.mark.parametrize("features", [(37, 70, False), (300, 301, True), (64, 9, True)])
def test_ternary_linear_small_batches(tmp_path, features):
    # Batch rows below the GEMM threshold run the GEMV per row: rows whose length is not a
    # multiple of 16 go through the padded copy; large layers split over the pool.
    from triton_dsl import layers as L
    cin, cout, bias = features
    model = torch.nn.Sequential(L.TernaryLinear(in_features=cin, out_features=cout, bias=bias),
                                L.ReLU()).eval()
    save_packed(model, tmp_path / "l.tpk", example_input=torch.randn(1, cin))
    for threads in (1, 2):
        engine = native.load(tmp_path / "l.tpk", threads=threads)
        for batch in (1, 2, 3):
            x = torch.randn(batch, cin)
            with torch.no_grad():
                want = model(x).numpy()
            assert relative_error(engine.run(x.numpy()), want) < TOLERANCE, (features, batch)


@pytest.mark.parametrize("isa", ["avx512", "amx"])
@pytest.mark.parametrize("features", [(37, 70, False), (300, 301, True), (16, 33, True)])
def test_ternary_linear_large_batches(tmp_path, features, isa, monkeypatch):
    # From 16 rows a linear layer runs on AMX tiles where the CPU has them (a 1x1
    # convolution over the rows); other levels take the GEMM. Row counts around the
    # 32-position tile block and over tokens of a 3-d input.
    from triton_dsl import layers as L
    cin, cout, bias = features
    if expected_level(isa) != isa:
        pytest.skip(f"this CPU has no {isa}")
    monkeypatch.setenv("TRITON_RT_FORCE_ISA", isa)
    model = torch.nn.Sequential(L.TernaryLinear(in_features=cin, out_features=cout, bias=bias),
                                L.ReLU()).eval()
    save_packed(model, tmp_path / "l.tpk", example_input=torch.randn(2, 5, cin))
    for threads in (1, 2):
        engine = native.load(tmp_path / "l.tpk", threads=threads)
        assert engine.info()["isa"] == isa
        # 5 tokens per entry: 15 rows (below the tile threshold), 20, 35 and 200.
        for batch in (3, 4, 7, 40):
            x = torch.randn(batch, 5, cin)
            with torch.no_grad():
                want = model(x).numpy()
            assert relative_error(engine.run(x.numpy()), want) < TOLERANCE, (features, batch)


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512", "amx"])
def test_info_names_the_kernels_of_the_level(exported, isa, monkeypatch):
    _, _, _, path, _ = exported
    monkeypatch.setenv("TRITON_RT_FORCE_ISA", isa)
    info = native.load(path, threads=1).info()
    level = expected_level(isa)
    kernels_level = "avx512" if level == "amx" else level  # amx adds tiles to the avx512 set
    for key in ("gemv_kernel", "gemm_kernel", "depthwise_kernel", "float_gemm_kernel"):
        assert f"__{kernels_level}_" in info[key], (key, info[key])
    if level == "amx":
        assert info["conv_kernel"] == "conv_t2f32__amx_bf16x3"
    else:
        assert f"__{level}_" in info["conv_kernel"], info["conv_kernel"]
