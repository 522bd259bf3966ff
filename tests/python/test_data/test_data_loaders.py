"""`make_loader` on both paths: coverage, seeding, resume, sharding, normalization, timing.

Labels are set to each sample's index, so a batch's labels say exactly which samples it
holds; that makes "every sample once per epoch", "same order for the same (seed, epoch)"
and "ranks partition the data" direct comparisons. Everything runs on the CPU.
"""

from __future__ import annotations

import pytest
import torch

from triton_dsl.data import ImageTensorDataset, make_loader
from triton_dsl.data.spec import DatasetSpec
from triton_dsl.errors import UserError


def indexed_spec(n=50, channels=3, size=8, num_classes=None) -> DatasetSpec:
    """A dataset whose label is the sample index (and whose pixels encode it too)."""
    images = (torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1)
              .expand(n, channels, size, size).contiguous())
    return DatasetSpec(name="toy", split="train", num_classes=num_classes or n,
                       input_shape=(channels, size, size), mean=(0.5,) * channels,
                       std=(0.25,) * channels,
                       dataset=ImageTensorDataset(images, torch.arange(n)))


def flatten(lists: list[list[int]]) -> list[int]:
    return [item for part in lists for item in part]


def epoch_labels(loader, epoch, **kwargs) -> list[list[int]]:
    loader.set_epoch(epoch, **kwargs)
    return [y.tolist() for _, y in loader]


@pytest.mark.parametrize("path", ["device", "workers"])
def test_every_sample_once_and_order_depends_only_on_seed_and_epoch(path):
    spec = indexed_spec()
    def make(seed):
        return make_loader(spec, batch_size=8, train=True, seed=seed, path=path, num_workers=0)

    a, b = make(7), make(7)
    assert a.path == path and len(a) == 7
    first = epoch_labels(a, 3)
    assert sorted(flatten(first)) == list(range(50))
    assert [len(batch) for batch in first] == [8] * 6 + [2]
    assert epoch_labels(b, 3) == first           # a fresh loader replays the epoch
    assert epoch_labels(a, 4) != first           # another epoch, another order
    assert epoch_labels(make(8), 3) != first     # another seed, another order
    assert epoch_labels(a, 3, start_batch=4) == first[4:]  # mid-epoch resume


def test_evaluation_keeps_dataset_order_and_drop_last():
    spec = indexed_spec(n=10)
    loader = make_loader(spec, batch_size=4, train=False)
    assert epoch_labels(loader, 0) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    dropping = make_loader(spec, batch_size=4, train=True, drop_last=True)
    assert len(dropping) == 2 and sum(len(b) for b in epoch_labels(dropping, 0)) == 8


@pytest.mark.parametrize("path", ["device", "workers"])
def test_ranks_partition_the_epoch_like_distributed_sampler(path):
    spec = indexed_spec(n=21)
    per_rank = [epoch_labels(make_loader(spec, batch_size=4, train=True, seed=1, rank=r,
                                         world_size=3, path=path, num_workers=0), 2)
                for r in range(3)]
    flat = [flatten(labels) for labels in per_rank]
    assert all(len(f) == 7 for f in flat)
    assert sorted(flatten(flat)) == list(range(21))


def test_normalization_dtype_and_channels_last():
    spec = indexed_spec(n=4)
    loader = make_loader(spec, batch_size=4, train=False, dtype=torch.bfloat16,
                         channels_last=True)
    (x, _), = list(loader)
    assert x.dtype == torch.bfloat16 and x.is_contiguous(memory_format=torch.channels_last)
    expected = (torch.arange(4).float() / 255 - 0.5) / 0.25
    assert torch.allclose(x[:, 1, 3, 3].float(), expected, atol=2e-2)
    custom = make_loader(spec, batch_size=4, train=False,
                         augmentation={"normalize": {"mean": [0, 0, 0], "std": [1, 1, 1]}})
    (x, _), = list(custom)
    assert torch.allclose(x[:, 0, 0, 0], torch.arange(4).float() / 255)
    raw = make_loader(spec, batch_size=4, train=False, augmentation={"normalize": False})
    (x, _), = list(raw)
    assert x.max().item() == pytest.approx(3 / 255)


def test_device_augmentation_is_seeded_and_changes_pixels():
    spec = indexed_spec(n=16, size=6)
    spec.dataset.images[:, :, :, :3] = 200  # left half bright: flips become visible
    aug = {"random_crop": {"padding": 2}, "random_horizontal_flip": True}
    a = make_loader(spec, batch_size=16, train=True, augmentation=aug, seed=3)
    b = make_loader(spec, batch_size=16, train=True, augmentation=aug, seed=3)
    plain = make_loader(spec, batch_size=16, train=True, seed=3)
    (xa, ya), = list(a)
    (xb, yb), = list(b)
    (xp, yp), = list(plain)
    assert torch.equal(xa, xb) and torch.equal(ya, yb) and torch.equal(ya, yp)
    assert not torch.equal(xa, xp)
    padded_value = (0 / 255 - 0.5) / 0.25
    assert (xa == padded_value).any()  # some crops reach into the zero padding


def test_worker_path_is_identical_with_and_without_worker_processes():
    spec = indexed_spec(n=12, size=10)
    aug = {"random_resized_crop": {"scale": [0.3, 1.0]}, "color_jitter": 0.5,
           "random_horizontal_flip": True}
    inline = make_loader(spec, batch_size=6, train=True, augmentation=aug, num_workers=0)
    forked = make_loader(spec, batch_size=6, train=True, augmentation=aug, num_workers=1,
                         persistent_workers=True)
    assert inline.path == "workers"
    state = torch.get_rng_state()
    for epoch in (0, 1):
        inline.set_epoch(epoch)
        forked.set_epoch(epoch)
        for (xi, yi), (xf, yf) in zip(inline, forked, strict=True):
            assert torch.equal(yi, yf) and torch.equal(xi, xf)
    assert torch.equal(state, torch.get_rng_state())  # the caller's RNG is untouched


def test_mixup_on_the_loader_gives_soft_targets():
    spec = indexed_spec(n=8, num_classes=8)
    loader = make_loader(spec, batch_size=8, train=True, augmentation={"mixup": 1.0})
    (_, y), = list(loader)
    assert y.shape == (8, 8) and y.dtype == torch.float32
    assert torch.allclose(y.sum(1), torch.ones(8))
    evaluation = make_loader(spec, batch_size=8, train=False, augmentation={"mixup": 1.0})
    (_, y), = list(evaluation)
    assert y.dtype == torch.int64  # evaluation never mixes


def test_stats_record_the_time_spent_producing_batches():
    loader = make_loader(indexed_spec(n=20), batch_size=8, train=True)
    for _ in loader:
        pass
    assert loader.stats.batches == 3 and loader.stats.samples == 20
    assert loader.stats.wait_seconds > 0
    assert 0 < loader.stats.share(loader.stats.wait_seconds * 4) == pytest.approx(0.25)
    loader.stats.reset()
    assert loader.stats.batches == 0 and loader.stats.wait_seconds == 0


def test_bad_requests_are_user_errors():
    spec = indexed_spec(n=4)
    with pytest.raises(UserError, match="batch size must be a positive integer"):
        make_loader(spec, batch_size=0, train=True)
    with pytest.raises(UserError, match="`color_jitter` need per-sample transforms"):
        make_loader(spec, batch_size=2, train=True, path="device",
                    augmentation={"color_jitter": 0.2})
    with pytest.raises(UserError, match="3 means and 3 stds for 1-channel images"):
        make_loader(indexed_spec(n=4, channels=1), batch_size=2, train=True,
                    augmentation={"normalize": {"mean": [0.1] * 3, "std": [0.2] * 3}})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_device_path_on_cuda_never_synchronizes_with_the_host():
    spec = indexed_spec(n=300, size=8, num_classes=300)
    loader = make_loader(spec, batch_size=64, train=True, device="cuda", dtype=torch.bfloat16,
                         channels_last=True, augmentation={
                             "random_crop": {"padding": 2}, "random_horizontal_flip": True,
                             "mixup": 0.4, "cutmix": 1.0})
    assert loader.path == "device"
    torch.cuda.set_sync_debug_mode("error")  # any device-to-host sync raises
    try:
        batches = [(x, y) for x, y in loader]
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert len(batches) == 5 and batches[0][0].device.type == "cuda"
    assert batches[0][1].shape == (64, 300)


def test_cpu_batches_are_made_single_threaded_and_threads_restored():
    seen = []
    loader = make_loader(indexed_spec(n=8), batch_size=4, train=True)
    original = loader.normalizer.__call__

    def recording(x):
        seen.append(torch.get_num_threads())
        return original(x)

    loader.normalizer = recording
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for _ in loader:
            assert torch.get_num_threads() == 2  # the consumer's setting, between batches
    finally:
        torch.set_num_threads(before)
    assert seen == [1, 1]


def test_per_sample_augmentation_moves_in_memory_data_to_the_workers_path():
    spec = indexed_spec(n=6, size=8)
    aug = {"random_crop": {"padding": 2, "padding_mode": "reflect"}}
    loader = make_loader(spec, batch_size=6, train=True, augmentation=aug, num_workers=0)
    assert loader.path == "workers"
    (x, y), = list(loader)
    assert x.shape == (6, 3, 8, 8)
    # Reflection padding repeats image pixels, so every value is still the sample's own.
    own = ((y.float() / 255 - 0.5) / 0.25).view(6, 1, 1, 1)
    assert torch.allclose(x, own.expand_as(x))
    evaluation = make_loader(spec, batch_size=6, train=False, augmentation=aug)
    assert evaluation.path == "device"  # evaluation does not augment
