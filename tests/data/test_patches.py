"""Native-resolution patches: shapes, void padding, determinism and rare-class oversampling."""

import numpy as np
import pytest

from segcore.data.classes import IGNORE_LABEL
from segcore.data.patches import rescale_pair, sample_patch
from segcore.data.streaming import compact, expand, parse_memory
from segcore.errors import ConfigError
from segcore.training.config import RunConfig


def image_and_mask(height, width, channels=3):
    rng = np.random.default_rng(0)
    image = rng.random((height, width, channels)).astype(np.float32)
    mask = rng.integers(0, 3, (height, width)).astype(np.uint8)
    return image, mask


@pytest.mark.parametrize("size", [(96, 128), (32, 32), (33, 200)])
def test_patches_have_the_patch_shape_and_come_from_the_image(size):
    image, mask = image_and_mask(*size, channels=5)
    for index in range(20):
        part, labels = sample_patch(image, mask, (32, 32), seed=1, epoch=0, index=index)
        assert part.shape == (32, 32, 5) and labels.shape == (32, 32)
        # The patch is a window of the image: find its corner and compare every pixel.
        corner = np.argwhere((image[..., 0] == part[0, 0, 0]) & (image[..., 1] == part[0, 0, 1]))
        top, left = corner[0]
        np.testing.assert_array_equal(image[top:top + 32, left:left + 32], part)
        np.testing.assert_array_equal(mask[top:top + 32, left:left + 32], labels)


def test_an_image_smaller_than_the_patch_is_padded_with_void():
    image, mask = image_and_mask(20, 12)
    part, labels = sample_patch(image, mask, (32, 32), seed=0, epoch=0, index=0)
    assert part.shape == (32, 32, 3) and labels.shape == (32, 32)
    np.testing.assert_array_equal(part[:20, :12], image)
    np.testing.assert_array_equal(labels[:20, :12], mask)
    assert (labels[20:] == IGNORE_LABEL).all() and (labels[:, 12:] == IGNORE_LABEL).all()
    assert (part[20:] == 0).all() and (part[:, 12:] == 0).all()


def test_patches_are_a_pure_function_of_seed_epoch_and_index():
    image, mask = image_and_mask(96, 128)
    first = sample_patch(image, mask, (32, 32), 5, 2, 7, oversample=0.5)
    again = sample_patch(image, mask, (32, 32), 5, 2, 7, oversample=0.5)
    np.testing.assert_array_equal(first[0], again[0])
    others = [sample_patch(image, mask, (32, 32), 5, epoch, 7)[0] for epoch in range(3, 8)]
    assert any(not np.array_equal(first[0], other) for other in others)


def test_oversampling_raises_the_share_of_rare_class_pixels():
    # A 256x256 image of background (0) and a large class (1), with a rare class (2) covering
    # one 8x8 square (0.1% of the pixels).
    mask = np.zeros((256, 256), np.uint8)
    mask[:, 128:] = 1
    mask[200:208, 40:48] = 2
    image = np.zeros((256, 256, 1), np.float32)

    def rare_share(oversample):
        patches = [sample_patch(image, mask, (32, 32), 0, 0, i, oversample)[1] for i in range(600)]
        return float(np.mean([(p == 2).mean() for p in patches]))

    plain, oversampled = rare_share(0.0), rare_share(0.5)
    assert plain < 0.005
    # Half the patches centred on a class, a third of those on the rare one: each holds the
    # whole square (64 of 1024 pixels), so about 0.5 / 3 * 64 / 1024 = 1%.
    assert oversampled > 5 * plain and 0.006 < oversampled < 0.02


def test_rescale_pair_scales_both_and_keeps_labels_whole():
    image, mask = image_and_mask(40, 60, channels=1)
    small_image, small_mask = rescale_pair(image, mask, 0.5)
    assert small_image.shape == (20, 30, 1) and small_mask.shape == (20, 30)
    assert set(np.unique(small_mask)) <= set(np.unique(mask))
    same = rescale_pair(image, mask, 1.0)
    assert same[0] is image and same[1] is mask


def test_compact_keeps_8_bit_images_as_uint8_losslessly():
    eight_bit = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).astype(np.float32) / 255.0
    stored = compact(eight_bit)
    assert stored.dtype == np.uint8
    np.testing.assert_array_equal(expand(stored), eight_bit)  # bit for bit
    sixteen_bit = np.arange(256, dtype=np.float32).reshape(16, 16, 1) / 65535.0
    assert compact(sixteen_bit).dtype == np.float32


@pytest.mark.parametrize("text, expected", [
    ("auto", None), ("512MB", 512 * 2**20), ("2GB", 2 * 2**30), ("1.5gb", int(1.5 * 2**30)),
    ("200", 200 * 2**20), ("0.1MB", int(0.1 * 2**20)),
])
def test_cache_memory_takes_mb_and_gb(text, expected):
    assert parse_memory(text) == expected


@pytest.mark.parametrize("text", ["lots", "-1GB", "2TB", "1e9"])
def test_a_bad_cache_memory_is_refused_naming_the_flag(text):
    with pytest.raises(ConfigError, match="--cache-memory"):
        RunConfig(cache_memory=text).validate()


def test_patch_settings_round_trip_through_config_json():
    config = RunConfig(patch="64x96", scale=0.5, oversample_rare=0.33,
                       cache_memory="1GB").validate()
    data = config.to_json()
    assert data["patch"] == [64, 96] and data["scale"] == 0.5
    again = RunConfig.from_json(data).validate()
    assert again == config and again.patch == (64, 96) and again.cache_memory == "1GB"


def test_an_old_config_json_without_the_new_fields_loads_with_defaults():
    old = RunConfig().to_json()
    for name in ("patch", "scale", "oversample_rare", "cache_memory"):
        old.pop(name)
    config = RunConfig.from_json(old).validate()
    assert config.patch is None and config.scale == 1.0 and config.oversample_rare == 0.0
    assert config.cache_memory == "auto"


@pytest.mark.parametrize("values, message", [
    ({"patch": (32, 32), "crop": (32, 32)}, "--patch and --crop"),
    ({"scale": 0.5}, "--scale and --oversample-rare apply with --patch"),
    ({"oversample_rare": 0.3}, "--scale and --oversample-rare apply with --patch"),
    ({"patch": (30, 30)}, "--patch 30x30 must be a multiple"),
    ({"patch": (32, 32), "oversample_rare": 1.5}, "--oversample-rare"),
    ({"patch": (32, 32), "scale": 0.0}, "--scale"),
])
def test_bad_patch_settings_are_refused(values, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig(hparams={"depth": 2, "base_filters": 8}, **values).validate()


def test_the_train_pages_patch_widgets_round_trip_and_hide_without_a_patch():
    from segcore.training import settings

    config = RunConfig(hparams={"depth": 2, "base_filters": 8}, patch=(64, 64), scale=0.5,
                       oversample_rare=0.3, cache_memory="2GB").validate()
    form = settings.restore(config.to_json())
    values = settings.widget_values(form)
    assert values["patch"] == 64 and values["scale"] == 0.5 and values["cache_memory"] == "2GB"
    assert settings.saved_form(settings.config_from_values(values, data="")) == form
    assert settings.shown("scale", values) and settings.shown("oversample_rare", values)
    # Without a patch its options are hidden, and what they kept does not reach the run.
    values["patch"] = "none"
    assert not settings.shown("scale", values)
    shown = settings.config_from_values(values, data="").validate()
    assert shown.patch is None and shown.scale == 1.0 and shown.oversample_rare == 0.0
