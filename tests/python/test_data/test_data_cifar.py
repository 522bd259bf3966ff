"""CIFAR-10 in its three accepted layouts, compared pixel for pixel with what was written.

The binary record layout (label byte, then the R, G and B planes) is checked by reading
back known planes; the python version goes through torchvision's CIFAR10 reader.
"""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from datafiles import write_cifar100, write_cifar_binary, write_cifar_python

from triton_dsl.data import get_dataset
from triton_dsl.errors import UserError


def test_binary_batches_directory(tmp_path):
    written = write_cifar_binary(tmp_path / "cifar10" / "cifar-10-batches-bin", per_batch=4)
    (tmp_path / "cifar10" / "cifar-10-batches-bin" / "batches.meta.txt").write_text(
        "\n".join(f"name{i}" for i in range(10)) + "\n")
    train = get_dataset("cifar10", data_path=tmp_path, split="train", download=False)
    test = get_dataset("CIFAR-10", data_path=tmp_path, split="val", download=False)
    assert len(train) == 20 and len(test) == 4
    assert train.input_shape == (3, 32, 32) and train.num_classes == 10
    expected = np.concatenate([written[f"data_batch_{k}"][0] for k in range(1, 6)])
    np.testing.assert_array_equal(train.dataset.images.numpy(), expected)
    np.testing.assert_array_equal(test.dataset.labels.numpy(), written["test_batch"][1])
    assert train.classes[3] == "name3"


def test_flat_gzip_batches(tmp_path):
    written = write_cifar_binary(tmp_path, per_batch=2, gz=True)
    spec = get_dataset("cifar10", data_path=tmp_path, split="test", download=False)
    np.testing.assert_array_equal(spec.dataset.images.numpy(), written["test_batch"][0])
    assert spec.classes[0] == "airplane"


def test_record_layout_is_label_then_rgb_planes(tmp_path):
    record = np.concatenate([[7], np.full(1024, 10), np.full(1024, 20), np.full(1024, 30)])
    for stem in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
        (tmp_path / f"{stem}.bin").write_bytes(record.astype(np.uint8).tobytes())
    spec = get_dataset("cifar10", data_path=tmp_path, split="test", download=False)
    image, label = spec.dataset[0]
    assert label == 7 and image[:, 5, 9].tolist() == [10, 20, 30]


def test_python_version_through_torchvision(tmp_path):
    written = write_cifar_python(tmp_path / "cifar10", per_batch=3)
    train = get_dataset("cifar10", data_path=tmp_path, split="train", download=False)
    test = get_dataset("cifar10", data_path=tmp_path, split="test", download=False)
    assert len(train) == 15
    np.testing.assert_array_equal(test.dataset.images.numpy(), written["test_batch"][0])
    np.testing.assert_array_equal(test.dataset.labels.numpy(), written["test_batch"][1])


def test_truncated_batch_names_the_file(tmp_path):
    write_cifar_binary(tmp_path, per_batch=2, gz=True)
    target = tmp_path / "data_batch_3.bin.gz"
    target.write_bytes(gzip.compress(gzip.decompress(target.read_bytes())[:-5]))
    with pytest.raises(UserError, match="is truncated") as excinfo:
        get_dataset("cifar10", data_path=tmp_path, download=False)
    assert str(target) in str(excinfo.value) and "\n" not in str(excinfo.value)


def test_labels_out_of_range_and_broken_pickle(tmp_path):
    write_cifar_binary(tmp_path / "a", per_batch=2)
    batch = tmp_path / "a" / "test_batch.bin"
    batch.write_bytes(b"\x0c" + batch.read_bytes()[1:])  # label 12 in the first record
    with pytest.raises(UserError, match="labels outside 0..9"):
        get_dataset("cifar10", data_path=tmp_path / "a", split="test", download=False)
    write_cifar_python(tmp_path / "b", per_batch=2)
    (tmp_path / "b" / "cifar-10-batches-py" / "test_batch").write_bytes(b"\x80\x04garbage")
    with pytest.raises(UserError, match="cannot read cifar10 python batches"):
        get_dataset("cifar10", data_path=tmp_path / "b", split="test", download=False)


def test_missing_offline(tmp_path):
    with pytest.raises(UserError, match="cifar10 train batches .* not found in"):
        get_dataset("cifar10", data_path=tmp_path, download=False)


@pytest.mark.parametrize("python", [False, True])
def test_cifar100_fine_labels_in_both_versions(tmp_path, python):
    written = write_cifar100(tmp_path / "cifar-100", python=python)
    train = get_dataset("CIFAR-100", data_path=tmp_path, download=False)
    test = get_dataset("cifar100", data_path=tmp_path, split="test", download=False)
    assert train.num_classes == 100 and len(train) == 5 and len(test) == 3
    np.testing.assert_array_equal(train.dataset.images.numpy(), written["train"][0])
    np.testing.assert_array_equal(train.dataset.labels.numpy(), written["train"][1])
    assert train.mean == (0.5071, 0.4865, 0.4409)
    assert train.classes[7] == ("fine7" if python else "7")


def test_cifar10_files_are_not_cifar100(tmp_path):
    write_cifar_binary(tmp_path, per_batch=2)
    with pytest.raises(UserError, match="cifar100 train batches .* not found"):
        get_dataset("cifar100", data_path=tmp_path, download=False)
