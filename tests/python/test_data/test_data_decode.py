"""The decode-on-device loader for JPEG folders, run on the CPU.

The same code decodes with nvJPEG on CUDA; here `torchvision.io.decode_jpeg` decodes on
the CPU. Batches are compared with the workers path (Pillow): with the same seeds both draw
the same crops and flips, and only resampling differs, by a few grey levels at most.
"""

from __future__ import annotations

import pytest
import torch
from datafiles import write_image_folder

from triton_dsl.data import CorruptImageWarning, get_dataset, make_loader
from triton_dsl.errors import UserError


@pytest.fixture
def jpeg_root(tmp_path):
    root = tmp_path / "photos"
    write_image_folder(root / "train", {"a": 3, "b": 2}, size=(60, 80), fmt="jpg")
    return root


def batches(loader, epoch=0):
    loader.set_epoch(epoch)
    return list(loader)


def test_evaluation_matches_the_workers_path_closely(jpeg_root):
    spec = get_dataset("custom", data_path=jpeg_root, image_size=32)
    decoded = make_loader(spec, batch_size=8, train=False, path="decode", num_workers=0)
    reference = make_loader(spec, batch_size=8, train=False, path="workers", num_workers=0)
    assert decoded.path == "decode"
    (x, y), = batches(decoded)
    (x_ref, y_ref), = batches(reference)
    assert x.shape == x_ref.shape == (5, 3, 32, 32) and torch.equal(y, y_ref)
    # Normalized units (std 0.229 of 255): 0.05 is about 3 grey levels; measured 0.017.
    assert (x - x_ref).abs().max() < 0.05


def test_training_crops_are_seeded_per_sample(jpeg_root):
    spec = get_dataset("custom", data_path=jpeg_root, image_size=24)
    aug = {"random_resized_crop": {"scale": [0.2, 1.0]}, "random_horizontal_flip": True}
    def make(seed):
        return make_loader(spec, batch_size=5, train=True, augmentation=aug, path="decode",
                           num_workers=0, seed=seed)

    (x1, y1), = batches(make(4))
    (x2, y2), = batches(make(4))
    (x3, _), = batches(make(5))
    assert torch.equal(x1, x2) and torch.equal(y1, y2) and not torch.equal(x1, x3)
    assert x1.shape == (5, 3, 24, 24)
    assert sorted(y1.tolist()) == [0, 0, 0, 1, 1]
    # Same seeds, same draws: the workers path crops and flips identically.
    workers = make_loader(spec, batch_size=5, train=True, augmentation=aug, path="workers",
                          num_workers=0, seed=4)
    (x_ref, y_ref), = batches(workers)
    assert torch.equal(y1, y_ref) and (x1 - x_ref).abs().max() < 0.05


def test_png_named_jpg_is_decoded_and_corrupt_file_skipped(jpeg_root):
    train = jpeg_root / "train"
    write_image_folder(train / "tmp", {"x": 1}, size=(40, 40))
    (train / "tmp" / "x" / "0.png").rename(train / "b" / "9.jpg")
    (train / "a" / "1.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    spec = get_dataset("custom", data_path=jpeg_root, image_size=16)
    loader = make_loader(spec, batch_size=16, train=False, path="decode", num_workers=0)
    with pytest.warns(CorruptImageWarning, match="1.jpg"):
        (x, y), = batches(loader)
    assert x.shape == (5, 3, 16, 16) and y.tolist() == [0, 0, 1, 1, 1]


def test_decode_path_refuses_what_it_cannot_do(jpeg_root):
    spec = get_dataset("custom", data_path=jpeg_root, image_size=16)
    with pytest.raises(UserError, match="decode-on-device loader cannot serve"):
        make_loader(spec, batch_size=2, train=True, path="decode",
                    augmentation={"color_jitter": 0.3})
    auto = make_loader(spec, batch_size=2, train=True, num_workers=0)
    assert auto.path == "workers"  # the decode path is opt-in


def test_flip_without_crop_still_flips_in_training(jpeg_root):
    spec = get_dataset("custom", data_path=jpeg_root, image_size=16)
    flipping = make_loader(spec, batch_size=8, train=True, path="decode", num_workers=0,
                           shuffle=False, augmentation={"random_horizontal_flip": 1.0})
    plain = make_loader(spec, batch_size=8, train=False, path="decode", num_workers=0)
    (x, _), = batches(flipping)
    (x_plain, _), = batches(plain)
    assert torch.allclose(x, x_plain.flip(-1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_decoding_matches_cpu_decoding(jpeg_root):
    spec = get_dataset("custom", data_path=jpeg_root, image_size=32)
    aug = {"random_resized_crop": True, "random_horizontal_flip": True}
    cuda = make_loader(spec, batch_size=8, train=True, augmentation=aug, device="cuda",
                       path="decode", num_workers=0)
    cpu = make_loader(spec, batch_size=8, train=True, augmentation=aug, path="decode",
                      num_workers=0)
    assert cuda.path == "decode"
    (x, y), = batches(cuda)
    (x_cpu, y_cpu), = batches(cpu)
    assert x.device.type == "cuda" and torch.equal(y.cpu(), y_cpu)
    # nvJPEG and libjpeg may differ by a grey level or two after IDCT and upsampling.
    assert (x.cpu() - x_cpu).abs().mean() < 0.05
