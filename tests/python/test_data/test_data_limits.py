"""Hostile data (issue 11, item 15): every read and download is bounded and never hangs.

A gzip "bomb" (a small `.gz` that inflates far past what the dataset may hold) is refused
after reading no more than that; a mirror that sends without end, announces too much or
trickles is cut off and leaves no `.part`; a FIFO named like an image is skipped without
being opened; a data root no file system can name is one line; a norm layer's `eps` must
be a positive number. Servers run on 127.0.0.1 in a thread; every test takes a second or
less.
"""

from __future__ import annotations

import gzip
import http.server
import io
import math
import os
import struct
import tarfile
import threading
import tracemalloc
import warnings
import zlib
from pathlib import Path

import pytest
import torch
from datafiles import write_image_folder, write_mnist

from triton_dsl import functional as F
from triton_dsl.data import cifar, download, get_dataset, make_loader
from triton_dsl.data.idx import read_idx
from triton_dsl.errors import UserError
from triton_dsl.layers import BatchNorm2d, LayerNorm


def _write_bomb(path: Path, head: bytes, zeros: int) -> None:
    """`head` then `zeros` zero bytes, gzip-compressed a chunk at a time."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip container
    chunk = bytes(1 << 20)
    with path.open("wb") as f:
        f.write(compressor.compress(head))
        for _ in range(zeros // len(chunk)):
            f.write(compressor.compress(chunk))
        f.write(compressor.flush())


def _peak_bytes_of(call) -> tuple[BaseException | None, int]:
    tracemalloc.start()
    try:
        call()
        error = None
    except UserError as e:
        error = e
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return error, peak


def test_idx_gzip_bomb_is_refused_after_reading_what_the_header_promises(tmp_path):
    bomb = tmp_path / "train-images-idx3-ubyte.gz"
    _write_bomb(bomb, struct.pack(">HBB3I", 0, 0x08, 3, 10, 28, 28), 256 << 20)
    assert bomb.stat().st_size < 1 << 20  # a small file ...
    error, peak = _peak_bytes_of(lambda: read_idx(bomb, ndim=3, dims=(None, 28, 28)))
    assert error is not None and "too long" in str(error) and str(bomb) in str(error)
    assert peak < 16 << 20  # ... whose 256 MB are never held in memory


def test_idx_header_claiming_more_than_the_limit_is_refused_before_reading(tmp_path):
    claim = tmp_path / "claim.gz"
    _write_bomb(claim, struct.pack(">HBB3I", 0, 0x08, 3, 2**31, 2**16, 28), 1 << 20)
    with pytest.raises(UserError, match="claims dimensions 2147483648x65536x28"):
        read_idx(claim, ndim=3)


def test_cifar_gzip_bomb_stops_at_the_record_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(cifar, "MAX_RECORDS_PER_FILE", 100)
    bomb = tmp_path / "data_batch_1.bin.gz"
    _write_bomb(bomb, b"", 64 << 20)
    error, peak = _peak_bytes_of(lambda: cifar.read_binary_batch(bomb))
    assert error is not None and "too long" in str(error)
    assert peak < 8 << 20


def test_archive_that_would_unpack_past_the_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "DEFAULT_MAX_BYTES", 1 << 20)
    archive = tmp_path / "a.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        member = tarfile.TarInfo("cifar-10-batches-bin/data_batch_1.bin")
        member.size = 2 << 20
        tar.addfile(member, io.BytesIO(bytes(member.size)))
    with pytest.raises(UserError, match="would unpack to 2,097,152 bytes"):
        download.extract_dir(archive, "cifar-10-batches-bin", tmp_path, what="cifar10")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tar.gz"]


def test_content_digest_of_a_gzip_bomb_stops_at_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "DEFAULT_MAX_BYTES", 1 << 20)
    bomb = tmp_path / "x.gz"
    _write_bomb(bomb, b"", 8 << 20)
    problem = download.verify(bomb, download.RemoteFile("x.gz", content_md5="0" * 32))
    assert problem == "checksum mismatch (the content is too long)"


class _Hostile(http.server.BaseHTTPRequestHandler):
    """Serves `/endless` (no length, no end), `/huge` (announces 10 GB), `/trickle` (a byte
    every 0.2 s) and `/silent` (headers, then nothing) until `stop` is set."""

    stop = threading.Event()

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        if self.path.endswith("huge"):
            self.send_header("Content-Length", str(10 << 30))
        self.end_headers()
        try:
            while not self.stop.is_set():
                if self.path.endswith("endless"):
                    self.wfile.write(bytes(64 << 10))
                elif self.path.endswith("trickle"):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    self.stop.wait(0.2)
                else:
                    self.stop.wait(0.05)
        except OSError:
            pass  # the client hung up, as it should


@pytest.fixture
def hostile_url():
    _Hostile.stop = threading.Event()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    _Hostile.stop.set()
    server.shutdown()
    server.server_close()


def _fetch_within(seconds: float, remote, dest: Path, url: str) -> UserError:
    """`download.fetch` in a thread; fails the test (instead of hanging it) past `seconds`."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            download.fetch(remote, dest, [url], what="test")
            outcome.append(None)
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            outcome.append(e)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert outcome, f"the download did not end within {seconds} s"
    assert isinstance(outcome[0], UserError), outcome[0]
    assert not dest.exists() or not any(dest.iterdir())  # no `.part` left
    return outcome[0]


@pytest.mark.parametrize(("name", "reason"), [("endless", "bytes allowed"),
                                              ("huge", "the server announces")])
def test_download_size_is_capped(name, reason, hostile_url, tmp_path):
    remote = download.RemoteFile(name, md5="0" * 32, size=1000)  # the cap: 2 KB + 1 MiB
    error = _fetch_within(20, remote, tmp_path / "dest", hostile_url)
    assert reason in str(error) and "\n" not in str(error)
    assert not (tmp_path / "dest").exists()  # no `.part`, and no empty folder either


def test_download_of_unknown_size_is_capped_by_the_default(hostile_url, tmp_path,
                                                          monkeypatch):
    monkeypatch.setattr(download, "DEFAULT_MAX_BYTES", 1 << 20)
    error = _fetch_within(20, download.RemoteFile("endless"), tmp_path / "d", hostile_url)
    assert "more than the 1,048,576 bytes allowed" in str(error)


@pytest.mark.parametrize(("name", "reason"), [("trickle", "stalled"), ("silent", "timed out")])
def test_stalled_download_is_abandoned(name, reason, hostile_url, tmp_path, monkeypatch):
    monkeypatch.setattr(download, "STALL_SECONDS", 1.0)
    error = _fetch_within(15, download.RemoteFile(name, md5="0" * 32), tmp_path / "dest",
                          hostile_url)
    assert reason in str(error)
    assert not (tmp_path / "dest").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_fifo_named_like_an_image_is_skipped_without_opening_it(tmp_path):
    root = tmp_path / "custom"
    write_image_folder(root / "train", {"cat": 2, "dog": 2})
    write_image_folder(root / "val", {"cat": 1, "dog": 1}, seed=1)
    fifo = root / "train" / "dog" / "9.png"
    os.mkfifo(fifo)
    result: list = []

    def load() -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            spec = get_dataset("custom", data_path=root, image_size=8)
            loader = make_loader(spec, batch_size=8, train=False, num_workers=0)
            result.append(([y for _, y in loader], [str(w.message) for w in caught]))

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(20)
    if worker.is_alive():  # blocked opening the FIFO for reading: release it, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(5)
        pytest.fail("loading blocked on a FIFO named like an image")
    labels, messages = result[0]
    assert sorted(torch.cat(labels).tolist()) == [0, 0, 1, 1]
    assert any(f"skipping `{fifo}`: not a regular file" in m for m in messages), messages


@pytest.mark.parametrize(("value", "match"), [
    ("x" * 5000, "`TRITON_DATA` is 5000 bytes long"),
    ("data/" + "y" * 300, "`TRITON_DATA` has a component longer than 255 bytes"),
])
def test_unusable_triton_data_is_one_line(value, match, monkeypatch):
    monkeypatch.setenv("TRITON_DATA", value)
    with pytest.raises(UserError, match=match) as raised:
        get_dataset("mnist", download=False)
    assert "\n" not in str(raised.value) and len(str(raised.value)) < 200


def test_a_usable_triton_data_still_works(tmp_path, monkeypatch):
    write_mnist(tmp_path / "mnist")
    monkeypatch.setenv("TRITON_DATA", str(tmp_path))
    assert len(get_dataset("mnist", download=False)) == 12


@pytest.mark.parametrize("eps", [math.nan, -1e-5, 0.0, math.inf])
def test_norm_eps_must_be_positive_and_finite(eps):
    with pytest.raises(UserError, match="positive finite `eps`"):
        LayerNorm(4, eps=eps)
    with pytest.raises(UserError, match="positive finite `eps`"):
        BatchNorm2d(4, eps=eps)
    with pytest.raises(UserError, match="`layer_norm` needs a positive finite `eps`"):
        F.layer_norm(torch.ones(2, 4), 4, eps)
    assert torch.isfinite(F.layer_norm(torch.ones(2, 4), 4, 1e-5)).all()


def test_gzip_reader_still_reads_a_genuine_file(tmp_path):
    path = tmp_path / "a.gz"
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        f.write(struct.pack(">HBB1I", 0, 0x08, 1, 3) + b"\x01\x02\x03")
    assert read_idx(path, ndim=1).tolist() == [1, 2, 3]
