"""The native engine under hostile or careless use (issue 11): inputs that cannot become
float32 arrays, one engine shared by several Python threads, absurd thread counts, paths with
NUL bytes or naming directories, and `.npy` files whose header lies about their size. Every
case must end in a Python exception or a one-line error with exit status 1 or 2, never a
crash, a hang or an unbounded allocation.
"""

import os
import resource
import struct
import subprocess
import threading
import warnings

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("triton_dsl._native")

from triton_dsl import layers as L
from triton_dsl import native
from triton_dsl.export.packed import save_packed


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """A conv + MLP model big enough for the pool's parallel paths (GEMV, im2col, GEMM)."""
    torch.manual_seed(3)
    model = nn.Sequential(
        L.TernaryConv2d(in_channels=1, out_channels=16, kernel_size=3, padding=1), nn.ReLU(),
        nn.Flatten(), L.TernaryLinear(16 * 28 * 28, 256), nn.ReLU(),
        L.TernaryLinear(256, 10)).eval()
    path = tmp_path_factory.mktemp("hostile") / "m.tpk"
    save_packed(model, path, example_input=torch.zeros(2, 1, 28, 28))
    return path


@pytest.mark.parametrize("bad", [
    "abc",
    b"abc",
    np.array([object(), object()], dtype=object),
    np.array(["a", "b"]),
    torch.zeros(1, 1, 28, 28, requires_grad=True),
    [["x"]],
], ids=["str", "bytes", "object-array", "str-array", "requires-grad", "nested-str-list"])
def test_unconvertible_inputs_raise(model_path, bad):
    engine = native.load(model_path, threads=1)
    with pytest.raises((TypeError, ValueError)):
        engine.run(bad)
    with pytest.raises((TypeError, ValueError)):
        engine._handle.profile(bad)  # the extension's own entry, without the wrapper's asarray


def test_shared_engine_across_python_threads(model_path):
    engine = native.load(model_path, threads=2)
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((b, 1, 28, 28)).astype(np.float32) for b in (1, 16, 3, 64)]
    expected = [engine.run(x) for x in inputs]
    errors = []

    def worker(offset):
        try:
            for i in range(40):
                k = (i + offset) % len(inputs)
                got = engine.run(inputs[k])
                if not np.array_equal(got, expected[k]):
                    errors.append(f"thread {offset} round {i}: result differs")
        except Exception as exc:  # noqa: BLE001 (reported below; a crash would end the process)
            errors.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a run hung"
    assert errors == []


def test_thread_counts(model_path):
    hardware = os.cpu_count()
    with pytest.warns(RuntimeWarning, match="capped"):
        capped = native.load(model_path, threads=100000)
    info = capped.info()
    assert info["threads"] <= hardware and info["threads_capped"]
    assert info["requested_threads"] == 100000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert native.load(model_path, threads=None).info()["threads"] == info["threads"]
        assert native.load(model_path, threads=0).info()["threads"] == info["threads"]
        assert native.load(model_path, threads=1).info()["threads"] == 1
    for bad in (-1, 10**7, 2**70):
        with pytest.raises(ValueError):
            native.load(model_path, threads=bad)
    with pytest.raises(TypeError):
        native.load(model_path, threads="4")


def test_load_paths(model_path, tmp_path):
    with pytest.raises(ValueError, match="NUL"):
        native.load(str(model_path) + "\x00junk")
    with pytest.raises(ValueError, match="directory"):
        native.load(tmp_path)
    with pytest.raises(ValueError, match="regular file"):
        native.load("/dev/zero")


def npy_with_header(shape: str, data: bytes = b"", descr: str = "<f4") -> bytes:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + data


def limit_memory():
    # 2 GiB of address space: the old reader's 3 GB allocation for a 128-byte file fails.
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


@pytest.mark.parametrize("name,content", [
    ("huge-claim", npy_with_header("(1000000, 1, 28, 28)", b"\0" * 64)),
    ("negative-batch", npy_with_header("(-1, 1, 28, 28)", b"\0" * 64)),
    ("overflow", npy_with_header("(4611686018427387904, 4611686018427387904)", b"\0" * 64)),
    ("not-a-number", npy_with_header("(two, 1, 28, 28)", b"\0" * 64)),
    ("bad-dtype", npy_with_header("(1, 1, 28, 28)", b"\0" * 3136, descr="|O")),
])
def test_cli_rejects_lying_npy_headers(triton_compiler, model_path, tmp_path, name, content):
    path = tmp_path / f"{name}.npy"
    path.write_bytes(content)
    result = subprocess.run([str(triton_compiler), "run", str(model_path), "--input", str(path)],
                            capture_output=True, text=True, timeout=120, preexec_fn=limit_memory,
                            check=False)
    assert result.returncode in (1, 2), (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


@pytest.mark.parametrize("args,status", [
    (["--input", "/dev/zero"], 1),
    (["--threads", "-1"], 2),
    (["--threads", "lots"], 2),
    (["--bench", "-5"], 2),
])
def test_cli_rejects_bad_arguments(triton_compiler, model_path, args, status):
    if "--input" not in args:
        args = [*args, "--input", os.devnull]
    result = subprocess.run([str(triton_compiler), "run", str(model_path), *args],
                            capture_output=True, text=True, timeout=60, preexec_fn=limit_memory,
                            check=False)
    assert result.returncode == status, (result.returncode, result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_cli_caps_threads(triton_compiler, model_path, tmp_path):
    x = tmp_path / "x.npy"
    np.save(x, np.ones((2, 1, 28, 28), np.float32))
    result = subprocess.run([str(triton_compiler), "run", str(model_path), "--input", str(x),
                             "--threads", "100000"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "capped" in result.stderr and result.stdout.startswith("output [2, 10]")
