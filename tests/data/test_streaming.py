"""Decoded samples in memory or on disk: the same batches, an atomic cache, damage decoded again."""

import logging

import numpy as np
import pytest

from segcore.data.augment import AugmentConfig
from segcore.data.channels import samples_input
from segcore.data.dataset import load_dataset
from segcore.data.pipeline import load_arrays, train_dataset
from segcore.data.streaming import (
    DiskSource,
    MemorySource,
    Preprocess,
    decode_sample,
    source_dataset,
)
from segcore.data.synthetic import make_synthetic


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = make_synthetic(tmp_path_factory.mktemp("stream") / "d", count=6, size=(40, 56))
    dataset = load_dataset(root)
    samples = dataset.samples("train") + dataset.samples("val")
    return dataset, samples, samples_input(samples)


def disk_source(data, folder, prep=None):
    dataset, samples, spec = data
    return DiskSource(samples, dataset.class_map, prep or Preprocess(spec=spec), folder,
                      dataset.fingerprint())


def test_the_disk_cache_holds_the_decoded_arrays_and_is_read_memory_mapped(data, tmp_path):
    dataset, samples, spec = data
    source = disk_source(data, tmp_path)
    for index, sample in enumerate(samples):
        image, mask = source.get(index)
        expected = decode_sample(sample, dataset.class_map, Preprocess(spec=spec))
        np.testing.assert_array_equal(image, expected[0])
        np.testing.assert_array_equal(mask, expected[1])
        assert all(path.is_file() for path in source.paths(index))
    assert not list(source.folder.glob(".*.tmp"))  # every write was renamed into place
    again = disk_source(data, tmp_path)
    assert again.folder == source.folder
    image, mask = again.get(2)
    assert isinstance(image, np.memmap) and isinstance(mask, np.memmap)
    other = disk_source(data, tmp_path, Preprocess(scale=0.5, spec=spec))
    assert other.folder != source.folder  # another preprocessing, another cache


@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong shape", "empty"])
def test_a_damaged_cache_file_is_decoded_again_with_a_warning(data, tmp_path, caplog, damage):
    dataset, samples, spec = data
    source = disk_source(data, tmp_path)
    expected = source.get(1)
    expected = (np.array(expected[0]), np.array(expected[1]))
    image_path, mask_path = source.paths(1)
    if damage == "truncate":
        image_path.write_bytes(image_path.read_bytes()[:200])
    elif damage == "garbage":
        mask_path.write_bytes(b"not a numpy file at all" * 10)
    elif damage == "wrong shape":
        np.save(mask_path, np.zeros((3, 3), np.uint8))
    else:
        image_path.write_bytes(b"")
    fresh = disk_source(data, tmp_path)
    with caplog.at_level(logging.WARNING, logger="segcore.data"):
        image, mask = fresh.get(1)
    np.testing.assert_array_equal(image, expected[0])
    np.testing.assert_array_equal(mask, expected[1])
    assert samples[1].image.name in caplog.text or str(image_path) in caplog.text
    # The file was written again: the next read is a clean memory map.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="segcore.data"):
        again = fresh.get(1)
    assert isinstance(again[0], np.memmap) and not caplog.text


def test_an_unwritable_cache_decodes_every_time_with_one_warning(data, tmp_path, caplog):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would go")
    with caplog.at_level(logging.WARNING, logger="segcore.data"):
        source = disk_source(data, blocked)
        image, mask = source.get(3)
    assert image.shape[:2] == mask.shape and caplog.text.count("cannot write") == 1


def batches(dataset):
    return [(images.numpy(), masks.numpy()) for images, masks in dataset]


def assert_same_batches(first, second):
    assert len(first) == len(second) > 0
    for (a_images, a_masks), (b_images, b_masks) in zip(first, second):
        np.testing.assert_array_equal(a_images, b_images)
        np.testing.assert_array_equal(a_masks, b_masks)


def test_disk_and_memory_sources_give_the_same_patch_batches(data, tmp_path):
    dataset, samples, spec = data
    prep = Preprocess(spec=spec)
    augment = AugmentConfig(hflip=True, vflip=True, brightness=0.1)
    args = dict(batch_size=2, augment=augment, seed=4, epoch=1, patch=(32, 32), oversample=0.5)
    in_memory = batches(source_dataset(MemorySource(samples, dataset.class_map, prep), **args))
    on_disk = batches(source_dataset(disk_source(data, tmp_path), **args))
    assert_same_batches(in_memory, on_disk)
    assert in_memory[0][0].shape == (2, 32, 32, 3)
    assert_same_batches(on_disk, batches(source_dataset(disk_source(data, tmp_path), **args)))
    other_epoch = batches(source_dataset(disk_source(data, tmp_path), **{**args, "epoch": 2}))
    assert not np.array_equal(other_epoch[0][0], on_disk[0][0])
    # A dataset of several epochs gives each one's batches in turn (the patches too).
    both = batches(source_dataset(disk_source(data, tmp_path), **args, epochs=2))
    assert_same_batches(both, on_disk + other_epoch)


def test_streamed_resized_images_give_the_in_memory_pipelines_batches(data, tmp_path):
    dataset, samples, spec = data
    prep = Preprocess(size=(32, 32), spec=spec)
    augment = AugmentConfig(hflip=True, scale_min=0.7, contrast=0.2)
    images, masks = load_arrays(samples, dataset.class_map, (32, 32), spec)
    in_memory = batches(train_dataset(images, masks, 2, augment, seed=9, epoch=3, crop=(16, 16)))
    streamed = batches(source_dataset(disk_source(data, tmp_path, prep), 2, augment, seed=9,
                                      epoch=3, out_size=(16, 16)))
    assert_same_batches(in_memory, streamed)
    pasted = batches(train_dataset(images, masks, 2, augment, seed=9, epoch=3, crop=(16, 16),
                                   paste=(1,)))
    assert_same_batches(pasted, batches(source_dataset(
        disk_source(data, tmp_path, prep), 2, augment, seed=9, epoch=3, out_size=(16, 16),
        paste=(1,))))
