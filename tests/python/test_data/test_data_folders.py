"""Image-folder datasets (ImageNet layout, custom data) and `--test-dataset`.

Covers the class list coming from the folder, resizing to the input size, corrupt images
(skipped with a warning naming the file), empty folders, and evaluation on another
dataset or folder checked against the training spec.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from datafiles import write_image_folder, write_mnist

from triton_dsl.data import (
    CorruptImageWarning,
    ImageTensorDataset,
    get_dataset,
    get_test_dataset,
    make_loader,
)
from triton_dsl.data.spec import DatasetSpec
from triton_dsl.errors import UserError


@pytest.fixture
def folder_root(tmp_path):
    root = tmp_path / "pets"
    write_image_folder(root / "train", {"cat": 3, "dog": 2, "fish": 2})
    write_image_folder(root / "val", {"cat": 1, "fish": 1}, seed=1)
    return root


def test_classes_from_folder_and_batches_at_input_size(folder_root):
    spec = get_dataset("custom", data_path=folder_root, split="train", image_size=16)
    assert spec.num_classes == 3 and spec.classes == ("cat", "dog", "fish")
    assert spec.input_shape == (3, 16, 16) and not spec.in_memory
    loader = make_loader(spec, batch_size=4, train=False, num_workers=0)
    assert loader.path == "workers" and len(loader) == 2
    batches = list(loader)
    assert [x.shape for x, _ in batches] == [(4, 3, 16, 16), (3, 3, 16, 16)]
    assert torch.cat([y for _, y in batches]).tolist() == [0, 0, 0, 1, 1, 2, 2]


def test_validation_split_uses_training_class_indices(folder_root):
    val = get_dataset("custom", data_path=folder_root, split="val", image_size=16)
    assert val.num_classes == 3  # "dog" has no validation image but keeps its index
    labels = [label for _, label in val.dataset]
    assert labels == [0, 2]


def test_imagenet_looked_up_under_dataset_directory(tmp_path, monkeypatch):
    write_image_folder(tmp_path / "imagenet" / "train", {"n01": 1, "n02": 1})
    monkeypatch.setenv("TRITON_DATA", str(tmp_path))
    spec = get_dataset("imagenet")
    assert spec.num_classes == 2 and spec.input_shape == (3, 224, 224)
    assert spec.mean == (0.485, 0.456, 0.406)


def test_corrupt_image_is_skipped_with_a_warning_naming_it(folder_root):
    bad = folder_root / "train" / "dog" / "1.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    spec = get_dataset("custom", data_path=folder_root, image_size=8)
    loader = make_loader(spec, batch_size=8, train=True, num_workers=0,
                         augmentation={"random_resized_crop": True})
    with pytest.warns(CorruptImageWarning, match=str(bad)):
        (x, y), = list(loader)
    assert x.shape == (6, 3, 8, 8) and sorted(y.tolist()) == [0, 0, 0, 1, 2, 2]


def test_empty_folders_and_missing_split(tmp_path):
    (tmp_path / "a" / "train").mkdir(parents=True)
    with pytest.raises(UserError, match="is empty: expected one subdirectory per class"):
        get_dataset("custom", data_path=tmp_path / "a")
    (tmp_path / "b" / "train" / "cat").mkdir(parents=True)
    (tmp_path / "b" / "train" / "cat" / "notes.txt").write_text("no images here")
    with pytest.raises(UserError, match="holds no images"):
        get_dataset("custom", data_path=tmp_path / "b")
    with pytest.raises(UserError, match="custom val folder `val/` or `test/` not found"):
        get_dataset("custom", data_path=tmp_path / "b", split="val")


def test_validation_class_unknown_to_training_is_an_error(folder_root):
    write_image_folder(folder_root / "val", {"bird": 1})
    with pytest.raises(UserError, match="classes the training folder .* lacks: bird"):
        get_dataset("custom", data_path=folder_root, split="val")


def test_test_dataset_folder_matches_training_classes_and_shape(tmp_path):
    write_mnist(tmp_path / "mnist", train=4)
    train = get_dataset("mnist", data_path=tmp_path, download=False)
    write_image_folder(tmp_path / "digits", {"3": 2, "7": 1})
    test = get_test_dataset(tmp_path / "digits", like=train)
    assert test.input_shape == (1, 28, 28) and test.num_classes == 10
    assert test.mean == train.mean and [label for _, label in test.dataset] == [3, 3, 7]
    (x, y), = list(make_loader(test, batch_size=8, train=False, num_workers=0))
    assert x.shape == (3, 1, 28, 28) and y.tolist() == [3, 3, 7]


def test_test_dataset_by_name_and_mismatches(tmp_path):
    write_mnist(tmp_path / "mnist", train=4, test=2)
    write_mnist(tmp_path / "fashion_mnist", train=4, test=5, seed=3)
    train = get_dataset("mnist", data_path=tmp_path, download=False)
    other = get_test_dataset("fashion_mnist", like=train, data_path=tmp_path, download=False)
    assert other.name == "fashion_mnist" and len(other) == 5 and other.mean == train.mean
    write_image_folder(tmp_path / "two", {"a": 1, "b": 1})
    with pytest.raises(UserError, match="has 2 classes, the training dataset mnist has 10"):
        get_test_dataset(tmp_path / "two", like=train)
    rgb32 = DatasetSpec(name="toy", split="train", num_classes=10, input_shape=(3, 32, 32),
                        mean=(0.5,) * 3, std=(0.5,) * 3,
                        dataset=ImageTensorDataset(torch.zeros(1, 3, 32, 32, dtype=torch.uint8),
                                                   torch.zeros(1, dtype=torch.int64)))
    with pytest.raises(UserError, match=r"gives \[1, 28, 28\] images, the model was trained on"):
        get_test_dataset("fashion_mnist", like=rgb32, data_path=tmp_path, download=False)
    with pytest.raises(UserError, match="test dataset folder `./nowhere` does not exist"):
        get_test_dataset("./nowhere", like=train)


def test_grayscale_folder_images_for_one_channel_models(tmp_path):
    write_image_folder(tmp_path / "g", {"0": 1})
    like = DatasetSpec(name="toy", split="train", num_classes=1, input_shape=(1, 8, 8),
                       mean=(0.0,), std=(1.0,), classes=("0",),
                       dataset=ImageTensorDataset(torch.zeros(1, 1, 8, 8, dtype=torch.uint8),
                                                  torch.zeros(1, dtype=torch.int64)))
    spec = get_test_dataset(tmp_path / "g", like=like)
    image, _ = spec.dataset[0]
    assert image.mode == "L"
    assert np.asarray(image).ndim == 2
