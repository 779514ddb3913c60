"""check-data judges what train will do: one decoder, one EXIF rule and one channel rule.

Each case builds a small dataset with one special file and asserts that the data doctor and
training's loader (`load_dataset` + `load_arrays`) agree: both accept it, or both refuse it.
"""

import warnings

import numpy as np
import pytest
import tifffile
from PIL import Image

from helpers import make_pair_dataset, write_png
from segcore.data.dataset import load_dataset
from segcore.data.doctor import check_folder
from segcore.data.formats import image_shape, read_image, read_image_uint8
from segcore.data.masks import read_raw_mask
from segcore.data.pipeline import load_arrays
from segcore.errors import DataError

RNG = np.random.default_rng(0)
# A non-square picture: 16 wide, 8 high as stored; orientation 6 shows it 8 wide, 16 high.
STORED = RNG.integers(0, 255, (8, 16, 3), dtype=np.uint8)
SHOWN = np.rot90(STORED, -1)


def train_verdict(root):
    """None when training can load every pair, else its error."""
    try:
        dataset = load_dataset(root, val_fraction=0)
        load_arrays(dataset.samples("train"), dataset.class_map, size=(16, 16))
    except DataError as error:
        return str(error)
    return None


def doctor_verdict(root):
    report = check_folder(root)
    return None if report.ok else " | ".join(report.problems)


def agree(root):
    doctor, train = doctor_verdict(root), train_verdict(root)
    assert (doctor is None) == (train is None), (doctor, train)
    return doctor


def save_exif_jpeg(path, array, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(array).save(path, quality=95, exif=exif)


def dataset_with(tmp_path, image_name=None, mask_name=None):
    root = make_pair_dataset(tmp_path / "d", count=3, size=(8, 8), classes=2)
    for folder, name in (("images", image_name), ("masks", mask_name)):
        if name:
            (root / folder / "0.png").unlink()
    return root


def test_an_exif_rotated_jpeg_with_a_mask_as_shown_is_accepted_by_both(tmp_path):
    root = dataset_with(tmp_path, "0.jpg", "0.png")
    save_exif_jpeg(root / "images" / "0.jpg", STORED, 6)
    write_png(root / "masks" / "0.png", np.zeros(SHOWN.shape[:2], np.uint8))
    assert agree(root) is None
    assert image_shape(root / "images" / "0.jpg") == (16, 8) == read_image(root / "images" / "0.jpg").shape[:2]


def test_an_exif_rotated_jpeg_with_a_mask_as_stored_is_refused_by_both_naming_exif(tmp_path):
    root = dataset_with(tmp_path, "0.jpg", "0.png")
    save_exif_jpeg(root / "images" / "0.jpg", STORED, 6)
    write_png(root / "masks" / "0.png", np.zeros(STORED.shape[:2], np.uint8))
    problem = agree(root)
    assert "0.png: mask is 16x8 but its image 0.jpg is 8x16" in problem and "EXIF" in problem


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_a_planar_rgb_tiff_reads_like_an_interleaved_one(tmp_path, dtype):
    root = dataset_with(tmp_path, "0.tif")
    top = np.iinfo(dtype).max
    pixels = RNG.integers(0, top, (8, 8, 3)).astype(dtype)
    tifffile.imwrite(root / "images" / "0.tif", np.moveaxis(pixels, -1, 0), photometric="rgb",
                     planarconfig="separate")
    assert agree(root) is None
    np.testing.assert_allclose(read_image(root / "images" / "0.tif"), pixels / top, atol=1e-6)


@pytest.mark.parametrize("shape, kwargs", [
    ((5, 8, 8), {"photometric": "minisblack"}),          # a 5-slice volume
    ((3, 8, 8), {"photometric": "minisblack"}),          # three gray pages, not one RGB image
    ((2, 8, 8, 3), {"photometric": "rgb"}),              # two RGB pages
    ((2, 3, 8, 8), {"photometric": "rgb", "planarconfig": "separate"}),  # two planar pages
])
@pytest.mark.parametrize("role", ["images", "masks"])
def test_a_multi_page_tiff_is_refused_by_both(tmp_path, shape, kwargs, role):
    root = dataset_with(tmp_path, *(("0.tif", None) if role == "images" else (None, "0.tif")))
    data = RNG.integers(0, 2, shape).astype(np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tifffile.imwrite(root / role / "0.tif", data, **kwargs)
    problem = agree(root)
    assert problem and "0.tif" in problem and "pages" in problem, problem


def test_a_tiff_orientation_tag_is_honoured_by_every_reader(tmp_path):
    """Training reads TIFF images with tifffile, prediction and masks with PIL: same picture."""
    path = tmp_path / "o.tif"
    tifffile.imwrite(path, STORED, photometric="rgb", extratags=[(274, "H", 1, 6, True)])
    assert image_shape(path) == (16, 8)
    np.testing.assert_array_equal(read_image_uint8(path), SHOWN)
    np.testing.assert_allclose(read_image(path), SHOWN / 255.0, atol=1e-6)
    np.testing.assert_array_equal(read_raw_mask(path), SHOWN)


def test_one_five_channel_image_among_rgb_ones_is_refused_by_both_naming_it(tmp_path):
    root = dataset_with(tmp_path, "0.tif")
    tifffile.imwrite(root / "images" / "0.tif", RNG.integers(0, 255, (8, 8, 5), dtype=np.uint8),
                     photometric="minisblack", planarconfig="contig")
    problem = agree(root)
    assert problem and "0.tif: 5 channels" in problem and "same channels" in problem, problem


def test_images_with_five_channels_each_are_read_by_both(tmp_path):
    root = dataset_with(tmp_path)
    for path in sorted((root / "images").iterdir()):
        path.unlink()
        tifffile.imwrite(path.with_suffix(".tif"), RNG.integers(0, 255, (8, 8, 5), np.uint8),
                         photometric="minisblack", planarconfig="contig")
    assert agree(root) is None
    assert check_folder(root).summary["input"] == {"mode": "bands", "channels": 5,
                                                   "dtype": "uint8"}
