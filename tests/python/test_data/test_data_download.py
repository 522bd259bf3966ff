"""Downloads against a local HTTP server on 127.0.0.1: success, checksum mismatch, refusal.

The server (`http_root` fixture) serves files written into a temporary directory. Success
cases use the digests of those files; the real MNIST digests are used to show that a
mirror serving something else is rejected without leaving any file behind.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from dataclasses import replace

import pytest
from datafiles import closed_port_url, write_cifar_binary, write_mnist

from triton_dsl.data import cifar, download, get_dataset, mnist
from triton_dsl.errors import UserError


def md5_of(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def listing(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_fetch_verifies_md5_and_renames_into_place(tmp_path, http_root):
    served, url = http_root
    (served / "blob.bin").write_bytes(b"payload" * 1000)
    remote = download.RemoteFile("blob.bin", md5=md5_of(served / "blob.bin"))
    path = download.fetch(remote, tmp_path / "dest", [url], what="test")
    assert path.read_bytes() == b"payload" * 1000
    assert listing(tmp_path / "dest") == ["blob.bin"]  # no temporary left behind


def test_sha256_and_decompressed_content_md5_are_accepted(tmp_path, http_root):
    served, url = http_root
    content = b"IDX content" * 100
    (served / "x.gz").write_bytes(gzip.compress(content, mtime=0))
    sha = hashlib.sha256((served / "x.gz").read_bytes()).hexdigest()
    download.fetch(download.RemoteFile("x.gz", sha256=sha), tmp_path / "a", [url], what="t")
    # A recompressed copy: the .gz digest differs, the content digest still matches.
    recompressed = download.RemoteFile("x.gz", md5="0" * 32,
                                       content_md5=hashlib.md5(content).hexdigest())
    assert download.fetch(recompressed, tmp_path / "b", [url], what="t").exists()


def test_checksum_mismatch_leaves_nothing(tmp_path, http_root):
    served, url = http_root
    (served / "blob.bin").write_bytes(b"tampered")
    remote = download.RemoteFile("blob.bin", md5="0" * 32)
    with pytest.raises(UserError, match="cannot download test file `blob.bin`: checksum mismatch"):
        download.fetch(remote, tmp_path / "dest", [url], what="test")
    assert listing(tmp_path / "dest") == []


def test_connection_refused_and_http_errors_are_one_line(tmp_path, http_root):
    _, url = http_root
    remote = download.RemoteFile("missing.bin", md5="0" * 32)
    with pytest.raises(UserError, match="connection refused") as excinfo:
        download.fetch(remote, tmp_path / "dest", [closed_port_url()], what="test")
    assert "\n" not in str(excinfo.value) and "--data-path" in str(excinfo.value)
    with pytest.raises(UserError, match="HTTP 404"):
        download.fetch(remote, tmp_path / "dest", [url], what="test")
    assert listing(tmp_path / "dest") == []


def test_second_mirror_used_when_first_fails(tmp_path, http_root):
    served, url = http_root
    (served / "blob.bin").write_bytes(b"ok")
    remote = download.RemoteFile("blob.bin", md5=md5_of(served / "blob.bin"))
    path = download.fetch(remote, tmp_path, [closed_port_url(), url], what="t")
    assert path.read_bytes() == b"ok"


def test_existing_file_is_never_overwritten(tmp_path):
    (tmp_path / "blob.bin").write_bytes(b"mine")
    remote = download.RemoteFile("blob.bin", md5="0" * 32)
    # The mirror is a closed port: returning at all proves no download was attempted.
    assert download.fetch(remote, tmp_path, [closed_port_url()], what="t").read_bytes() == b"mine"


def test_mnist_downloads_into_data_path_then_loads(tmp_path, http_root):
    served, url = http_root
    arrays = write_mnist(served, train=9, test=3)
    info = mnist.IdxDatasetInfo(
        name="mnist", dir_names=("mnist",), mirrors=(url,), classes=mnist.MNIST.classes,
        mean=mnist.MNIST.mean, std=mnist.MNIST.std,
        remotes={stem: download.RemoteFile(stem + ".gz", md5=md5_of(served / (stem + ".gz")))
                 for stem in arrays})
    spec = mnist.load(info, data_path=tmp_path / "data", split="train", download_missing=True,
                      mirrors=[url])
    assert len(spec) == 9 and spec.source == tmp_path / "data" / "mnist"
    assert listing(tmp_path / "data" / "mnist") == ["train-images-idx3-ubyte.gz",
                                                    "train-labels-idx1-ubyte.gz"]


def test_real_mnist_checksums_reject_a_wrong_mirror(http_root, data_env, monkeypatch):
    served, url = http_root
    write_mnist(served, train=4)  # valid IDX files, but not the real MNIST
    monkeypatch.setenv("TRITON_DATA_MIRROR", url)
    with pytest.raises(UserError, match="checksum mismatch") as excinfo:
        get_dataset("mnist", download=True)
    assert "train-images-idx3-ubyte.gz" in str(excinfo.value)
    assert listing(data_env / "triton_dsl" / "mnist") == []


def test_offline_download_is_one_clear_line(data_env):
    with pytest.raises(UserError, match="cannot download cifar10 file .*connection refused"):
        get_dataset("cifar10", download=True)


def _cifar_tarball(tmp_path, served, extra_member: str | None = None) -> str:
    write_cifar_binary(tmp_path / "src" / "cifar-10-batches-bin", per_batch=3)
    archive = served / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-bin", arcname="cifar-10-batches-bin")
        if extra_member:
            info = tarfile.TarInfo(extra_member)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
    return md5_of(archive)


def test_cifar_archive_download_and_extraction(tmp_path, http_root):
    served, url = http_root
    digest = _cifar_tarball(tmp_path, served, extra_member="../outside.txt")
    info = replace(cifar.CIFAR10,
                   archive=download.RemoteFile("cifar-10-binary.tar.gz", md5=digest))
    spec = cifar.load(info, data_path=tmp_path / "data", split="test", download_missing=True,
                      mirrors=[url])
    assert len(spec) == 3 and spec.input_shape == (3, 32, 32)
    # Only the batches directory is unpacked; the archive is removed afterwards.
    assert listing(tmp_path / "data" / "cifar10") == ["cifar-10-batches-bin"]
    assert not (tmp_path / "data" / "outside.txt").exists()


def test_extraction_keeps_an_existing_copy_and_cleans_up_after_a_broken_archive(tmp_path):
    (tmp_path / "dest" / "cifar-10-batches-bin").mkdir(parents=True)
    (tmp_path / "dest" / "cifar-10-batches-bin" / "data_batch_1.bin").write_bytes(b"x")
    (tmp_path / "broken.tar.gz").write_bytes(b"not a tar archive")
    target = download.extract_dir(tmp_path / "broken.tar.gz", "cifar-10-batches-bin",
                                  tmp_path / "dest", what="cifar10")
    assert (target / "data_batch_1.bin").read_bytes() == b"x"
    with pytest.raises(UserError, match="cannot unpack cifar10 archive"):
        download.extract_dir(tmp_path / "broken.tar.gz", "other", tmp_path / "dest",
                             what="cifar10")
    assert listing(tmp_path / "dest") == ["cifar-10-batches-bin"]  # no staging left behind


def test_content_md5_also_matches_an_uncompressed_copy(tmp_path):
    content = b"the decompressed IDX bytes"
    (tmp_path / "plain").write_bytes(content)
    (tmp_path / "packed.gz").write_bytes(gzip.compress(content, mtime=0))
    remote = download.RemoteFile("x.gz", md5="0" * 32, content_md5=hashlib.md5(content).hexdigest())
    assert download.verify(tmp_path / "plain", remote) is None
    assert download.verify(tmp_path / "packed.gz", remote) is None
    (tmp_path / "plain").write_bytes(content + b"!")
    assert download.verify(tmp_path / "plain", remote).startswith("checksum mismatch")
