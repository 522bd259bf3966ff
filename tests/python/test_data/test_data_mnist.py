"""MNIST-format datasets: IDX parsing, where files are looked up, and every bad-file case.

The files are tiny IDX files written by `datafiles.write_mnist`; the loaded tensors are
compared with the arrays written. Each corrupt-file case must be a one-line UserError that
names the file.
"""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from datafiles import write_mnist

from triton_dsl.data import get_dataset
from triton_dsl.data.idx import parse_idx, read_idx, write_idx
from triton_dsl.errors import UserError


def one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("gz", [True, False])
def test_loads_both_splits_exactly(tmp_path, gz):
    arrays = write_mnist(tmp_path / "mnist", train=12, test=6, gz=gz)
    train = get_dataset("mnist", data_path=tmp_path, split="train", download=False)
    test = get_dataset("mnist", data_path=tmp_path, split="test", download=False)
    assert train.num_classes == 10 and train.input_shape == (1, 28, 28)
    assert train.in_memory and len(train) == 12 and len(test) == 6
    np.testing.assert_array_equal(train.dataset.images[:, 0].numpy(),
                                  arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(train.dataset.labels.numpy(), arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(test.dataset.images[:, 0].numpy(),
                                  arrays["t10k-images-idx3-ubyte"])
    image, label = train.dataset[3]
    assert image.shape == (1, 28, 28) and label == arrays["train-labels-idx1-ubyte"][3]
    assert train.mean == (0.1307,) and train.std == (0.3081,)


def test_root_itself_or_dataset_subdirectory(tmp_path):
    write_mnist(tmp_path / "flat", train=5)
    write_mnist(tmp_path / "nested" / "mnist", train=7)
    assert len(get_dataset("mnist", data_path=tmp_path / "flat", download=False)) == 5
    assert len(get_dataset("mnist", data_path=tmp_path / "nested", download=False)) == 7
    spec = get_dataset("mnist", data_path=tmp_path / "nested" / "mnist", download=False)
    assert spec.source == tmp_path / "nested" / "mnist"


def test_lookup_order_data_path_then_env_then_cache(tmp_path, monkeypatch, data_env):
    write_mnist(tmp_path / "arg" / "mnist", train=3)
    write_mnist(tmp_path / "env" / "mnist", train=4)
    write_mnist(data_env / "triton_dsl" / "mnist", train=5)
    monkeypatch.setenv("TRITON_DATA", str(tmp_path / "env"))
    assert len(get_dataset("mnist", data_path=tmp_path / "arg", download=False)) == 3
    assert len(get_dataset("mnist", data_path=tmp_path / "nowhere", download=False)) == 4
    monkeypatch.delenv("TRITON_DATA")
    assert len(get_dataset("mnist", download=False)) == 5


def test_fashion_mnist_directory_names_and_classes(tmp_path):
    write_mnist(tmp_path / "fashion-mnist", train=4)
    spec = get_dataset("Fashion-MNIST", data_path=tmp_path, download=False)
    assert spec.name == "fashion_mnist" and spec.classes[9] == "ankle boot"
    assert len(spec) == 4


def test_missing_offline_lists_where_it_looked_and_writes_nothing(tmp_path, data_env):
    with pytest.raises(UserError) as excinfo:
        get_dataset("mnist", data_path=tmp_path / "data", download=False)
    message = one_line_error(excinfo)
    assert "train-images-idx3-ubyte" in message and str(tmp_path / "data") in message
    assert not (tmp_path / "data").exists() and not data_env.exists()


def test_unknown_dataset_name_suggests_the_closest():
    with pytest.raises(UserError, match="unknown dataset `minst`; did you mean `mnist`"):
        get_dataset("minst")
    with pytest.raises(UserError, match="unknown split"):
        get_dataset("mnist", split="holdout")


def test_idx_round_trip_and_header_checks(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.idx", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx", ndim=3, dims=(None, 3, 4)), array)
    raw = (tmp_path / "a.idx").read_bytes()
    assert raw[:4] == b"\x00\x00\x08\x03"
    with pytest.raises(UserError, match="bad magic"):
        parse_idx(b"\x01\x02" + raw[2:], tmp_path / "a.idx")
    with pytest.raises(UserError, match="too long"):
        parse_idx(raw + b"\x00", tmp_path / "a.idx")
    with pytest.raises(UserError, match="header needs 16 bytes"):
        parse_idx(raw[:10], tmp_path / "a.idx")
    with pytest.raises(UserError, match="expected dimension 2 to be 5"):
        read_idx(tmp_path / "a.idx", ndim=3, dims=(None, 3, 5))
    with pytest.raises(UserError, match="has 3 dimensions, expected 1"):
        read_idx(tmp_path / "a.idx", ndim=1)


def _corrupt(path, how):
    data = path.read_bytes()
    if how == "truncated_gzip":
        path.write_bytes(data[: len(data) // 2])
    elif how == "truncated_content":
        content = gzip.decompress(data)
        path.write_bytes(gzip.compress(content[:-100]))
    elif how == "not_gzip":
        path.write_bytes(b"this is not a gzip stream at all")
    elif how == "bad_magic":
        content = gzip.decompress(data)
        path.write_bytes(gzip.compress(b"\x00\x00\x08\x07" + content[4:]))


@pytest.mark.parametrize("how", ["truncated_gzip", "truncated_content", "not_gzip", "bad_magic"])
def test_corrupt_file_is_one_line_naming_it(tmp_path, how):
    write_mnist(tmp_path, train=30)
    target = tmp_path / "train-images-idx3-ubyte.gz"
    _corrupt(target, how)
    before = target.read_bytes()
    with pytest.raises(UserError) as excinfo:
        get_dataset("mnist", data_path=tmp_path, download=False)
    assert str(target) in one_line_error(excinfo)
    assert target.read_bytes() == before  # nothing repaired or overwritten behind our back


def test_wrong_image_size_count_mismatch_and_bad_labels(tmp_path):
    write_mnist(tmp_path, train=6)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((6, 27, 28), np.uint8))
    with pytest.raises(UserError, match="expected dimension 1 to be 28"):
        get_dataset("mnist", data_path=tmp_path, download=False)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((5, 28, 28), np.uint8))
    with pytest.raises(UserError, match="has 6 labels but .* has 5 images"):
        get_dataset("mnist", data_path=tmp_path, download=False)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((6, 28, 28), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.full(6, 10, np.uint8))
    with pytest.raises(UserError, match="labels outside 0..9"):
        get_dataset("mnist", data_path=tmp_path, download=False)


def test_command_line_info_and_offline_fetch(tmp_path, capsys):
    from triton_dsl.data.__main__ import main

    write_mnist(tmp_path / "mnist", train=7, test=2)
    assert main(["info", "mnist", "--data-path", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "mnist train: 7 images 1x28x28, 10 classes" in out and "mnist test: 2 images" in out
    assert "normalization: mean (0.1307,)" in out
    # The mirror is a closed local port (see conftest): fetching fails in one line.
    assert main(["fetch", "fashion_mnist", "--data-path", str(tmp_path)]) == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("error: cannot download fashion_mnist file `train-images-idx3")
    assert not (tmp_path / "fashion_mnist").exists()  # the failed download left nothing


def test_mnist_directory_is_not_taken_for_fashion_mnist(tmp_path):
    write_mnist(tmp_path / "mnist", train=4)
    with pytest.raises(UserError, match="fashion_mnist train files"):
        get_dataset("fashion_mnist", data_path=tmp_path / "mnist", download=False)
    write_mnist(tmp_path / "FashionMNIST", train=3)
    with pytest.raises(UserError, match="mnist train files"):
        get_dataset("mnist", data_path=tmp_path / "FashionMNIST", download=False)
    assert len(get_dataset("mnist", data_path=tmp_path / "mnist", download=False)) == 4


def test_verify_reports_files_that_are_not_the_published_ones(tmp_path, capsys):
    from triton_dsl.data.__main__ import main

    write_mnist(tmp_path / "mnist", train=3, test=2, gz=False)
    assert main(["verify", "mnist", "--data-path", str(tmp_path)]) == 1
    lines = [line for line in capsys.readouterr().out.splitlines() if "MISMATCH" in line]
    assert len(lines) == 4 and "t10k-labels-idx1-ubyte" in lines[-1]
