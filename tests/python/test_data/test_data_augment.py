"""The `augmentation` map: parsing, the device crop/flip, mixup/cutmix, per-sample pipelines.

The device crop and flip are checked against a direct slicing reference (pad, slice the
window at the given offset, flip), sample by sample; mixup and cutmix against their
definitions (convex combination, pasted box, label weights from the kept area).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from triton_dsl.data import AugmentationWarning, ImageTensorDataset, parse_augmentation
from triton_dsl.data.gpu import crop_and_flip
from triton_dsl.data.spec import DatasetSpec
from triton_dsl.data.transforms.augment import sample_transform
from triton_dsl.data.transforms.config import Mix
from triton_dsl.data.transforms.mix import BatchMixer
from triton_dsl.errors import UserError


def test_parse_every_key_in_its_short_and_long_forms():
    cfg = parse_augmentation({
        "random_crop": {"size": 32, "padding": 4},
        "random_horizontal_flip": True,
        "color_jitter": 0.3,
        "rand_augment": {"num_ops": 3, "magnitude": 7},
        "normalize": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
        "mixup": 0.2,
        "cutmix": {"alpha": 1.0, "prob": 0.5},
    })
    assert cfg.random_crop.size == (32, 32) and cfg.random_crop.padding == 4
    assert cfg.horizontal_flip == 0.5
    assert cfg.color_jitter.brightness == 0.3 and cfg.color_jitter.hue == 0.0
    assert cfg.rand_augment.num_ops == 3 and cfg.mean == (0.5,) * 3 and cfg.std == (0.25,) * 3
    assert cfg.mixup == Mix(alpha=0.2, prob=1.0) and cfg.cutmix == Mix(alpha=1.0, prob=0.5)
    assert cfg.per_sample_only == ("color_jitter", "rand_augment")
    short = parse_augmentation({"random_crop": True, "random_resized_crop": False,
                                "random_horizontal_flip": 0.25, "normalize": False})
    assert short.random_crop.size is None and short.random_crop.padding == 4
    assert short.random_resized_crop is None and short.horizontal_flip == 0.25
    assert not short.normalize and short.per_sample_only == ()
    rrc = parse_augmentation({"random_resized_crop": {"size": 224, "scale": [0.35, 1]}})
    assert rrc.random_resized_crop.scale == (0.35, 1.0)
    assert parse_augmentation(None) == parse_augmentation({})


def test_unknown_key_warns_with_the_closest_known_key():
    with pytest.warns(AugmentationWarning, match="`random_flip` is ignored; did you mean "
                                                 "`random_horizontal_flip`"):
        parse_augmentation({"random_flip": True})


@pytest.mark.parametrize("section, message", [
    ({"random_crop": {"padding": -1}}, "`random_crop.padding`: expected an integer"),
    ({"random_crop": {"pading": 4}}, "no option `pading`; did you mean `padding`"),
    ({"random_horizontal_flip": 2}, "between 0.0 and 1.0"),
    ({"mixup": "lots"}, "`mixup`: expected a number"),
    ({"normalize": {"mean": [0.5]}}, "needs both `mean` and `std`"),
    ({"normalize": {"mean": [0.5], "std": [0]}}, "positive numbers"),
    ({"random_crop": 32, "random_resized_crop": 32}, "keep one"),
    ([1, 2], "must be a map"),
])
def test_bad_values_are_user_errors(section, message):
    with pytest.raises(UserError, match=message):
        parse_augmentation(section)


def reference_crop_flip(x, size, padding, offsets, flips):
    padded = F.pad(x, (padding,) * 4)
    out = []
    for i in range(x.shape[0]):
        top, left = offsets[i].tolist()
        window = padded[i, :, top:top + size[0], left:left + size[1]]
        out.append(window.flip(-1) if flips[i] else window)
    return torch.stack(out)


def test_device_crop_and_flip_match_slicing_reference():
    x = torch.randint(0, 256, (6, 3, 9, 7), dtype=torch.uint8)
    offsets = torch.stack([torch.randint(0, 5, (6,)), torch.randint(0, 3, (6,))], dim=1)
    flips = torch.tensor([True, False, True, True, False, False])
    got = crop_and_flip(x, size=(8, 6), padding=2, offsets=offsets, flips=flips)
    assert torch.equal(got, reference_crop_flip(x, (8, 6), 2, offsets, flips))
    flipped = crop_and_flip(x, size=(9, 7), padding=0, offsets=None, flips=flips)
    assert torch.equal(flipped, torch.where(flips[:, None, None, None], x.flip(-1), x))


def test_mixup_is_a_convex_combination_with_matching_targets():
    x = torch.randn(4, 1, 3, 3)
    y = torch.tensor([0, 1, 2, 1])
    mixer = BatchMixer(Mix(alpha=0.4), None, num_classes=3)
    out, target = mixer(x, y, np.random.default_rng(5))
    replay = np.random.default_rng(5)
    assert replay.random() < 1.0  # the probability draw comes first
    lam = float(replay.beta(0.4, 0.4))
    assert torch.allclose(out, lam * x + (1 - lam) * x.roll(1, 0), atol=1e-6)
    expected = lam * F.one_hot(y, 3) + (1 - lam) * F.one_hot(y.roll(1), 3)
    assert torch.allclose(target, expected.float(), atol=1e-6)


def test_cutmix_pastes_a_box_and_weights_labels_by_area():
    x = torch.arange(2 * 16 * 16, dtype=torch.float32).reshape(2, 1, 16, 16)
    y = torch.tensor([0, 1])
    mixer = BatchMixer(None, Mix(alpha=1.0), num_classes=2)
    out, target = mixer(x, y, np.random.default_rng(3))
    from_partner = (out[0] == x[1]).float().mean().item()
    assert 0 < from_partner < 1
    assert target[0].tolist() == pytest.approx([1 - from_partner, from_partner])
    assert torch.allclose(target.sum(1), torch.ones(2))


def test_mix_probability_zero_leaves_batch_unchanged():
    x, y = torch.randn(4, 1, 2, 2), torch.tensor([0, 1, 0, 1])
    out, target = BatchMixer(Mix(alpha=1.0, prob=0.0), None, 2)(x, y, np.random.default_rng(0))
    assert torch.equal(out, x) and torch.equal(target, F.one_hot(y, 2).float())


def _tensor_spec(channels=3, size=16, n=4):
    images = torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8)
    return DatasetSpec(name="toy", split="train", num_classes=2, mean=(0.5,) * channels,
                       std=(0.5,) * channels, input_shape=(channels, size, size),
                       dataset=ImageTensorDataset(images, torch.zeros(n, dtype=torch.int64)))


def test_sample_pipeline_keeps_uint8_and_input_size():
    spec = _tensor_spec()
    cfg = parse_augmentation({"random_resized_crop": {"scale": [0.5, 1]}, "color_jitter": 0.4,
                              "rand_augment": True, "random_horizontal_flip": True})
    transform = sample_transform(cfg, spec, train=True)
    image = spec.dataset[0][0]
    torch.manual_seed(1)
    first = transform(image)
    torch.manual_seed(1)
    assert torch.equal(first, transform(image))  # the global RNG is the only randomness
    assert first.dtype == torch.uint8 and first.shape == (3, 16, 16)
    assert torch.equal(sample_transform(cfg, spec, train=False)(image), image)


def test_crop_size_other_than_input_size_is_rejected():
    cfg = parse_augmentation({"random_crop": {"size": 12, "padding": 2}})
    with pytest.raises(UserError, match=r"size \[12, 12\] differs from the input size \[16, 16\]"):
        sample_transform(cfg, _tensor_spec(), train=True)


# The augmentation sections of examples/basic/*.triton, as the compiler hands them over.
SEED_MODEL_SECTIONS = {
    "simple_mlp": {"normalize": {"mean": [0.1307], "std": [0.3081]}},
    "resnet18": {"random_crop": {"size": 32, "padding": 4}, "random_horizontal_flip": True,
                 "normalize": {"mean": [0.4914, 0.4822, 0.4465],
                               "std": [0.2470, 0.2435, 0.2616]}},
    "mobilenetv2": {"random_resized_crop": {"size": 224}, "random_horizontal_flip": True,
                    "normalize": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}},
    "vision_transformer": {"random_resized_crop": {"size": 224}, "random_horizontal_flip": True,
                           "rand_augment": {"num_ops": 2, "magnitude": 9},
                           "mixup": {"alpha": 0.8}, "cutmix": {"alpha": 1.0},
                           "normalize": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}},
}


@pytest.mark.parametrize("model", sorted(SEED_MODEL_SECTIONS))
def test_seed_model_sections_parse_without_warnings(model, recwarn):
    cfg = parse_augmentation(SEED_MODEL_SECTIONS[model])
    assert not [w for w in recwarn if issubclass(w.category, AugmentationWarning)]
    assert cfg.mean is not None and len(cfg.mean) == len(cfg.std)
    device_capable = not cfg.per_sample_only
    assert device_capable == (model in ("simple_mlp", "resnet18"))
