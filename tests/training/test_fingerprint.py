"""The dataset fingerprint `--auto` chooses from: sizes, channels, class shares, thin and small classes."""

import json

import numpy as np
import pytest

from helpers import write_lines_dataset
from segcore.training.auto import choose_settings, fingerprint_folder
from segcore.training.auto.fingerprint import region_sizes, thin_share, typical_size


def test_object_sizes_are_the_region_a_typical_pixel_lies_in():
    mask = np.zeros((100, 100), np.uint8)
    mask[:10, :10] = mask[20:30, 20:30] = 1  # two objects of 1% of the image
    mask[50:, :] = 2  # one of half the image
    assert list(region_sizes(mask, 1)) == [0.01, 0.01]
    assert typical_size([0.01, 0.01, 0.5]) == 0.5 and typical_size([]) == 0.0
    assert typical_size([0.01, 0.01, 0.01, 0.02]) == 0.01


def test_thin_share_counts_the_pixels_near_an_edge():
    mask = np.zeros((40, 40), np.uint8)
    mask[10, 5:35] = 1  # a 1-pixel line: all of it near its edge
    mask[15:35, 10:30] = 2  # a 20x20 square: a 2-pixel rim of 144 pixels
    assert thin_share(mask, 1) == (30, 30)
    assert thin_share(mask, 2) == (144, 400)
    assert thin_share(mask, 3) == (0, 0)
    full = np.ones((8, 8), np.uint8)
    assert thin_share(full, 1) == (0, 64)  # the image's edge is no boundary


def test_fingerprint_of_a_generated_dataset(tmp_path):
    data = write_lines_dataset(tmp_path / "lines", size=(48, 64))
    fp = fingerprint_folder(data, split="contiguous", val_fraction=0.25)
    assert (fp.train_images, fp.val_images) == (6, 2)
    assert fp.median_size == fp.min_size == fp.max_size == (48, 64)
    assert fp.channels == 1 and fp.num_classes == 3
    assert fp.thin_classes == (1,)
    assert abs(sum(fp.class_shares) - 1) < 1e-9 and fp.class_shares[2] == pytest.approx(0.5)
    assert fp.object_sizes[2] == pytest.approx(0.5)  # the lower half, one region
    assert 0 < fp.object_sizes[1] < 0.1  # lines of a row (two, where neighbours touch)
    rgb = fingerprint_folder(write_lines_dataset(tmp_path / "rgb", gray=False), max_masks=3)
    assert rgb.channels == 3 and rgb.sampled_masks == 3
    json.dumps(fp.to_json())


def test_fingerprint_counts_the_bands_of_multi_channel_images(tmp_path):
    import tifffile

    data = write_lines_dataset(tmp_path / "bands", count=4)
    for index in range(4):
        (data / "images" / f"{index}.png").unlink()
        bands = np.random.default_rng(index).integers(0, 4000, (48, 64, 5), dtype=np.uint16)
        tifffile.imwrite(data / "images" / f"{index}.tif", bands, photometric="minisblack",
                         planarconfig="contig")
    fp = fingerprint_folder(data)
    assert fp.channels == 5 and not fp.pretrained_available
    vflip = next(c for c in choose_settings(fp, 5, 2) if c.path == "augment.vflip")
    assert vflip.value is True
