"""Pictures of multi-channel images: chosen bands as R, G, B, stretched per band."""

import numpy as np
import pytest

from segcore.data.band_view import default_bands, picture, render_bands
from segcore.errors import ConfigError


def test_worked_example_one_band_stretched_between_its_extremes():
    image = np.array([[100, 200], [300, 400]], np.uint16)
    out = render_bands(image, stretch=(0, 100))
    assert out.shape == (2, 2, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[..., 0], [[0, 85], [170, 255]])
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()  # gray


def test_chosen_bands_become_red_green_blue_in_that_order():
    image = np.zeros((20, 20, 5), np.float32)
    for band in range(5):
        image[..., band] = np.arange(400).reshape(20, 20) * (band + 1)
    image[0, 0, 4] = 1e6  # a hot pixel in band 4: the percentiles leave it out
    out = render_bands(image, bands=(4, 2, 0), stretch=(2, 98))
    for channel, band in enumerate((4, 2, 0)):
        assert out[5, 5, channel] == render_bands(image[..., band], stretch=(2, 98))[5, 5, 0]
    assert out[19, 19].tolist() == [255, 255, 255]
    assert (np.abs(out[10, 0].astype(int) - 128) <= 1).all()  # mid-range stays mid-grey


def test_each_band_is_stretched_on_its_own():
    faint = np.stack([np.linspace(0, 0.02, 100).reshape(10, 10),
                      np.linspace(0, 1.0, 100).reshape(10, 10)], axis=-1)
    out = render_bands(np.repeat(faint, [2, 1], axis=-1), bands=(0, 1, 2), stretch=(0, 100))
    assert out[..., 0].max() == 255 == out[..., 2].max()  # the faint band fills the range too


def test_defaults_and_refusals():
    assert default_bands(13) == (0, 1, 2) and default_bands(2) == (0,) == default_bands(1)
    image = np.zeros((2, 2, 5), np.uint16)
    with pytest.raises(ConfigError, match="Band 5 does not exist: the image has 5 bands"):
        render_bands(image, bands=(0, 1, 5))
    with pytest.raises(ConfigError, match="one band .* or three"):
        render_bands(image, bands=(0, 1))
    assert (render_bands(image) == 128).all()  # constant bands: mid-grey, no division by zero
    nan = np.full((2, 2), np.nan, np.float32)
    assert (render_bands(nan) == 0).all()


def test_pictures_stay_as_they_are():
    rgb = np.random.default_rng(0).integers(0, 255, (3, 3, 3), np.uint8)
    np.testing.assert_array_equal(picture(rgb), rgb)
    np.testing.assert_array_equal(picture(rgb / 255.0), rgb)
    assert picture(np.zeros((3, 3, 5), np.float32)).shape == (3, 3, 3)


def test_shown_picture_reads_pictures_as_they_are_and_bands_through_the_stretch(tmp_path):
    import cv2
    import tifffile

    from segcore.data.band_view import shown_picture
    from segcore.data.formats import read_image_uint8

    rgb = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "rgb.png"), rgb)
    np.testing.assert_array_equal(shown_picture(tmp_path / "rgb.png"),
                                  read_image_uint8(tmp_path / "rgb.png"))
    faint = np.arange(64, dtype=np.uint16).reshape(8, 8) + 1000  # a 16-bit gray far from 65535
    cv2.imwrite(str(tmp_path / "gray16.png"), faint)
    shown = shown_picture(tmp_path / "gray16.png")
    assert shown.shape == (8, 8, 3) and shown.min() == 0 and shown.max() == 255  # stretched
    bands = np.stack([faint * (b + 1) for b in range(5)], axis=-1)
    tifffile.imwrite(tmp_path / "five.tif", bands, photometric="minisblack",
                     planarconfig="contig")
    np.testing.assert_array_equal(shown_picture(tmp_path / "five.tif"), picture(bands))
