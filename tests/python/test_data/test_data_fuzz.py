"""Arbitrary bytes and arbitrary augmentation maps: a UserError or a result, nothing else.

Property tests (hypothesis) over the parsers that read user input: IDX files, CIFAR binary
batches and the `augmentation` map. Whatever they are given, they either return something
well-formed or raise `UserError` with a one-line message; a `struct.error`, a NumPy
reshape error or a `TypeError` would reach the user as a traceback.
"""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from triton_dsl.data import AugmentConfig, parse_augmentation
from triton_dsl.data.cifar import CIFAR10, CIFAR100, read_binary_batch
from triton_dsl.data.idx import parse_idx
from triton_dsl.errors import UserError

# No example database: failures are reproduced from the printed example instead.
FAST = settings(max_examples=80, deadline=None, database=None)


def idx_like() -> st.SearchStrategy[bytes]:
    """Mostly plausible IDX headers (so the checks past the magic run), some pure noise."""
    header = st.builds(lambda code, dims: struct.pack(f">HBB{len(dims)}I", 0, code, len(dims),
                                                      *dims),
                       st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x07]),
                       st.lists(st.integers(0, 6), min_size=0, max_size=3))
    return st.one_of(st.binary(max_size=64),
                     st.tuples(header, st.binary(max_size=200)).map(lambda t: t[0] + t[1]))


@FAST
@given(idx_like())
def test_idx_parser_never_crashes(data):
    try:
        array = parse_idx(data, Path("fuzz.idx"))
    except UserError as e:
        assert "\n" not in str(e) and "fuzz.idx" in str(e)
        return
    assert isinstance(array, np.ndarray) and array.ndim >= 1


@FAST
@given(st.binary(max_size=4 * 3074), st.sampled_from([CIFAR10, CIFAR100]))
def test_cifar_batch_reader_never_crashes(tmp_path_factory, data, info):
    path = tmp_path_factory.mktemp("cifar") / "batch.bin"
    path.write_bytes(data)
    try:
        images, labels = read_binary_batch(path, info)
    except UserError as e:
        assert "\n" not in str(e) and str(path) in str(e)
        return
    assert images.shape == (len(labels), 3, 32, 32) and int(labels.max()) < info.num_classes


values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 300), st.floats(-2, 2),
              st.sampled_from(["", "reflect", "constant", "lots"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(
                                ["size", "padding", "p", "alpha", "prob", "mean", "std",
                                 "scale", "ratio", "num_ops", "magnitude", "brightness",
                                 "hue", "padding_mode", "bogus"]), inner, max_size=3)),
    max_leaves=6)
keys = st.sampled_from(["random_crop", "random_resized_crop", "random_horizontal_flip",
                        "color_jitter", "rand_augment", "normalize", "mixup", "cutmix",
                        "random_flip"])


@FAST
@given(st.dictionaries(keys, values, max_size=4))
def test_augmentation_parser_never_crashes(section):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cfg = parse_augmentation(section)
        except UserError as e:
            assert "\n" not in str(e)
            return
    assert isinstance(cfg, AugmentConfig)
