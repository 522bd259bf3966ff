"""The `augmentation` map of a model's `training` section, parsed and checked.

The generated program passes `TRAINING["augmentation"]` as plain data (dicts, lists,
numbers, strings, booleans). `parse_augmentation` turns it into an `AugmentConfig` once,
so the loaders never look at raw keys: a wrong value is a UserError naming the key, and an
unknown key is a warning naming the closest known one (never a silent no-op, as the
language brief asks). The accepted forms of each key are listed in `docs/datasets.md`.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

from triton_dsl.errors import UserError


class AugmentationWarning(UserWarning):
    """An augmentation key that was not understood and therefore has no effect."""


@dataclass(frozen=True)
class RandomCrop:
    size: tuple[int, int] | None      # None: the dataset's input size
    padding: int = 0
    padding_mode: str = "constant"


@dataclass(frozen=True)
class RandomResizedCrop:
    size: tuple[int, int] | None
    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)


@dataclass(frozen=True)
class ColorJitter:
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0


@dataclass(frozen=True)
class RandAugment:
    num_ops: int = 2
    magnitude: int = 9


@dataclass(frozen=True)
class Mix:
    """Batch-level mixup or cutmix: lambda ~ Beta(alpha, alpha), applied with `prob`."""

    alpha: float
    prob: float = 1.0


@dataclass(frozen=True)
class AugmentConfig:
    """Every augmentation the loaders know, off unless the training section turned it on."""

    random_crop: RandomCrop | None = None
    random_resized_crop: RandomResizedCrop | None = None
    horizontal_flip: float = 0.0
    color_jitter: ColorJitter | None = None
    rand_augment: RandAugment | None = None
    normalize: bool = True
    mean: tuple[float, ...] | None = None   # None: the dataset's default
    std: tuple[float, ...] | None = None
    mixup: Mix | None = None
    cutmix: Mix | None = None

    @property
    def per_sample_only(self) -> tuple[str, ...]:
        """Keys that need the per-sample (DataLoader) path; the device path does the rest."""
        keys = []
        if self.random_resized_crop:
            keys.append("random_resized_crop")
        if self.color_jitter:
            keys.append("color_jitter")
        if self.rand_augment:
            keys.append("rand_augment")
        if self.random_crop and self.random_crop.padding_mode != "constant":
            keys.append("random_crop.padding_mode")
        return tuple(keys)


KNOWN_KEYS = ("random_crop", "random_resized_crop", "random_horizontal_flip", "color_jitter",
              "rand_augment", "normalize", "mixup", "cutmix")
# Spellings from other frameworks, for the did-you-mean where string similarity misleads
# ("random_flip" is closer to "random_crop" than to "random_horizontal_flip").
_SUGGESTIONS = {"random_flip": "random_horizontal_flip",
                "horizontal_flip": "random_horizontal_flip",
                "hflip": "random_horizontal_flip", "flip": "random_horizontal_flip",
                "randaugment": "rand_augment", "colour_jitter": "color_jitter",
                "mix_up": "mixup", "cut_mix": "cutmix", "crop": "random_crop",
                "random_resize_crop": "random_resized_crop", "normalization": "normalize"}


def _fail(key: str, expected: str, value) -> UserError:
    return UserError(f"augmentation `{key}`: expected {expected}, got `{value!r}`")


def _is_off(value) -> bool:
    return value is None or value is False or (isinstance(value, (int, float)) and
                                                not isinstance(value, bool) and value == 0)


def _number(key: str, value, *, low: float = 0.0, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(key, "a number", value)
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise _fail(key, f"a number {bound}", value)
    return float(value)


def _integer(key: str, value, *, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _fail(key, f"an integer of at least {low}", value)
    return value


def _size(key: str, value) -> tuple[int, int] | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return (value, value)
    if isinstance(value, (list, tuple)) and len(value) == 2 and \
            all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        return (value[0], value[1])
    raise _fail(key, "a positive size (an int or [height, width])", value)


def _pair(key: str, value) -> tuple[float, float]:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        low, high = (_number(key, v) for v in value)
        if low <= high:
            return (low, high)
    raise _fail(key, "a list [low, high] with low <= high", value)


def _options(key: str, value, allowed: tuple[str, ...]) -> Mapping:
    """A map's entries after checking that every option is one `key` understands."""
    for option in value:
        if option not in allowed:
            close = difflib.get_close_matches(str(option), allowed, n=1)
            hint = f"; did you mean `{close[0]}`?" if close else \
                f" (known: {', '.join(allowed)})"
            raise UserError(f"augmentation `{key}` has no option `{option}`{hint}")
    return value


def _parse_crop(value) -> RandomCrop:
    if value is True:
        return RandomCrop(size=None, padding=4)
    if not isinstance(value, Mapping):
        return RandomCrop(size=_size("random_crop", value))
    opts = _options("random_crop", value, ("size", "padding", "padding_mode"))
    mode = opts.get("padding_mode", "constant")
    if mode not in ("constant", "edge", "reflect", "symmetric"):
        raise _fail("random_crop.padding_mode", "constant, edge, reflect or symmetric", mode)
    return RandomCrop(size=_size("random_crop.size", opts.get("size")),
                      padding=_integer("random_crop.padding", opts.get("padding", 0)),
                      padding_mode=mode)


def _parse_resized_crop(value) -> RandomResizedCrop:
    if value is True:
        return RandomResizedCrop(size=None)
    if not isinstance(value, Mapping):
        return RandomResizedCrop(size=_size("random_resized_crop", value))
    opts = _options("random_resized_crop", value, ("size", "scale", "ratio"))
    return RandomResizedCrop(
        size=_size("random_resized_crop.size", opts.get("size")),
        scale=_pair("random_resized_crop.scale", opts.get("scale", (0.08, 1.0))),
        ratio=_pair("random_resized_crop.ratio", opts.get("ratio", (3 / 4, 4 / 3))))


def _parse_flip(value) -> float:
    if value is True:
        return 0.5
    if isinstance(value, Mapping):
        opts = _options("random_horizontal_flip", value, ("p", "prob"))
        value = opts.get("p", opts.get("prob", 0.5))
    return _number("random_horizontal_flip", value, high=1.0)


def _parse_jitter(value) -> ColorJitter:
    if value is True:
        value = 0.4
    if not isinstance(value, Mapping):
        strength = _number("color_jitter", value)
        return ColorJitter(brightness=strength, contrast=strength, saturation=strength)
    opts = _options("color_jitter", value, ("brightness", "contrast", "saturation", "hue"))
    return ColorJitter(
        brightness=_number("color_jitter.brightness", opts.get("brightness", 0.0)),
        contrast=_number("color_jitter.contrast", opts.get("contrast", 0.0)),
        saturation=_number("color_jitter.saturation", opts.get("saturation", 0.0)),
        hue=_number("color_jitter.hue", opts.get("hue", 0.0), high=0.5))


def _parse_rand_augment(value) -> RandAugment:
    if value is True:
        return RandAugment()
    if not isinstance(value, Mapping):
        raise _fail("rand_augment", "true or a map with `num_ops`, `magnitude`", value)
    opts = _options("rand_augment", value, ("num_ops", "magnitude"))
    return RandAugment(num_ops=_integer("rand_augment.num_ops", opts.get("num_ops", 2), low=1),
                       magnitude=_integer("rand_augment.magnitude", opts.get("magnitude", 9)))


def _parse_mix(key: str, value, default_alpha: float) -> Mix:
    if value is True:
        return Mix(alpha=default_alpha)
    if not isinstance(value, Mapping):
        return Mix(alpha=_number(key, value))
    opts = _options(key, value, ("alpha", "prob", "p"))
    alpha = _number(f"{key}.alpha", opts.get("alpha", default_alpha))
    if alpha <= 0:
        raise _fail(f"{key}.alpha", "a positive number", alpha)
    return Mix(alpha=alpha, prob=_number(f"{key}.prob", opts.get("prob", opts.get("p", 1.0)),
                                         high=1.0))


def _parse_stats(key: str, value) -> tuple[float, ...]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (float(value),)
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return tuple(float(v) for v in value)
    raise _fail(key, "a number or a list of numbers, one per channel", value)


def parse_augmentation(section: Mapping | None) -> AugmentConfig:
    """Parse the `augmentation` map (None or {} means no augmentation, default normalize)."""
    if section is None:
        return AugmentConfig()
    if isinstance(section, AugmentConfig):
        return section
    if not isinstance(section, Mapping):
        raise UserError(f"`augmentation` must be a map of augmentation names, got `{section!r}`")
    fields: dict = {}
    for key, value in section.items():
        if key not in KNOWN_KEYS:
            close = [_SUGGESTIONS[key]] if key in _SUGGESTIONS else \
                difflib.get_close_matches(str(key), KNOWN_KEYS, n=1)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            warnings.warn(f"unknown augmentation `{key}` is ignored{hint}", AugmentationWarning,
                          stacklevel=2)
            continue
        if key == "normalize":
            if isinstance(value, bool) or value is None:
                fields["normalize"] = bool(value)
            elif isinstance(value, Mapping):
                opts = _options("normalize", value, ("mean", "std"))
                if ("mean" in opts) != ("std" in opts):
                    raise UserError("augmentation `normalize` needs both `mean` and `std`")
                if "mean" in opts:
                    fields["mean"] = _parse_stats("normalize.mean", opts["mean"])
                    fields["std"] = _parse_stats("normalize.std", opts["std"])
                    if len(fields["mean"]) != len(fields["std"]):
                        raise UserError("augmentation `normalize`: `mean` and `std` have "
                                        "different lengths")
                    if any(s <= 0 for s in fields["std"]):
                        raise _fail("normalize.std", "positive numbers", opts["std"])
            else:
                raise _fail("normalize", "true, false or a map with `mean` and `std`", value)
            continue
        if _is_off(value):
            continue
        if key == "random_crop":
            fields["random_crop"] = _parse_crop(value)
        elif key == "random_resized_crop":
            fields["random_resized_crop"] = _parse_resized_crop(value)
        elif key == "random_horizontal_flip":
            fields["horizontal_flip"] = _parse_flip(value)
        elif key == "color_jitter":
            fields["color_jitter"] = _parse_jitter(value)
        elif key == "rand_augment":
            fields["rand_augment"] = _parse_rand_augment(value)
        elif key == "mixup":
            fields["mixup"] = _parse_mix("mixup", value, 0.2)
        elif key == "cutmix":
            fields["cutmix"] = _parse_mix("cutmix", value, 1.0)
    if "random_crop" in fields and "random_resized_crop" in fields:
        raise UserError("augmentation has both `random_crop` and `random_resized_crop`; "
                        "keep one")
    return AugmentConfig(**fields)
