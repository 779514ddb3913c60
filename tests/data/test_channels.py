"""The channel rule: which datasets read as RGB, which keep their bands, and their statistics."""

import numpy as np
import pytest
import tifffile
from PIL import Image

from helpers import make_pair_dataset, write_png
from segcore.data import load_dataset
from segcore.data.channels import (
    BANDS,
    RGB,
    InputSpec,
    channel_stats,
    dataset_input,
    image_info,
    read_input,
    run_input_spec,
    samples_input,
)
from segcore.data.doctor import check_folder
from segcore.data.pipeline import load_arrays
from segcore.errors import DataError, RunError

RNG = np.random.default_rng(0)


def write_tiff(path, pixels, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"photometric": "minisblack", "planarconfig": "contig"}
    tifffile.imwrite(path, pixels, **{**options, **kwargs})
    return path


def gray16_dataset(root, count=4):
    for index in range(count):
        Image.fromarray(RNG.integers(0, 65535, (8, 8)).astype(np.uint16)).save(
            write_png(root / "images" / f"{index}.png", np.zeros((8, 8), np.uint8)))
        write_png(root / "masks" / f"{index}.png", RNG.integers(0, 2, (8, 8)).astype(np.uint8))
    return root


def test_channel_stats_worked_example_and_a_constant_channel():
    mean, std = channel_stats([np.array([[[0.0, 5.0]]]), np.array([[[2.0, 5.0]]])])
    np.testing.assert_allclose(mean, [1.0, 5.0])
    np.testing.assert_allclose(std, [1.0, 1.0])  # the constant channel: 1, not 0


def test_channel_stats_equal_numpy_over_the_whole_stack():
    images = RNG.normal(3.0, 2.0, (5, 6, 7, 4)).astype(np.float32)
    mean, std = channel_stats(images)
    np.testing.assert_allclose(mean, images.reshape(-1, 4).mean(0), rtol=1e-6)
    np.testing.assert_allclose(std, images.reshape(-1, 4).std(0), rtol=1e-5)


def test_one_channel_16_bit_images_keep_their_one_channel(tmp_path):
    root = gray16_dataset(tmp_path / "micro")
    dataset = load_dataset(root, val_fraction=0)
    spec = samples_input(dataset.samples("train"))
    assert (spec.mode, spec.channels, spec.dtype) == (BANDS, 1, "uint16")
    path = dataset.samples("train")[0].image
    image = read_input(path, spec)
    assert image.shape == (8, 8, 1) and image.dtype == np.float32
    np.testing.assert_allclose(image[..., 0], np.asarray(Image.open(path)) / 65535.0, rtol=1e-6)
    images, masks = load_arrays(dataset.samples("train"), dataset.class_map, size=(16, 16))
    assert images.shape == (4, 16, 16, 1) and masks.shape == (4, 16, 16)
    assert check_folder(root).summary["input"] == {"mode": "bands", "channels": 1,
                                                   "dtype": "uint16"}


def test_photos_read_as_rgb_as_before_gray_rgba_and_16_bit_gray_among_them(tmp_path):
    root = make_pair_dataset(tmp_path / "photos", count=2, size=(8, 8))
    write_png(root / "images" / "gray.png", RNG.integers(0, 255, (8, 8), np.uint8))
    write_png(root / "images" / "rgba.png", RNG.integers(0, 255, (8, 8, 4), np.uint8))
    Image.fromarray(np.full((8, 8), 60000, np.uint16)).save(root / "images" / "deep.png")
    for stem in ("gray", "rgba", "deep"):
        write_png(root / "masks" / f"{stem}.png", np.zeros((8, 8), np.uint8))
    dataset = load_dataset(root, val_fraction=0)
    spec = samples_input(dataset.samples("train"))
    assert (spec.mode, spec.channels) == (RGB, 3) and spec.normalization() is None
    images, _ = load_arrays(dataset.samples("train"), dataset.class_map)
    assert images.shape[-1] == 3 and images.min() >= 0.0 and images.max() <= 1.0


def test_float_and_planar_tiffs_keep_their_bands_and_values(tmp_path):
    values = RNG.normal(500.0, 100.0, (8, 8, 13)).astype(np.float32)
    floats = write_tiff(tmp_path / "s2.tif", values)
    planar = write_tiff(tmp_path / "planar.tif", np.moveaxis(values, -1, 0).astype(np.float32),
                        planarconfig="separate")
    for path in (floats, planar):
        info = image_info(path)
        assert (info.height, info.width, info.channels, info.dtype) == (8, 8, 13, "float32")
        spec = dataset_input([info])
        assert (spec.mode, spec.channels) == (BANDS, 13)
        np.testing.assert_array_equal(read_input(path, spec), values)  # floats as they are


def test_a_mixed_channel_dataset_names_the_odd_file_in_training_and_the_doctor(tmp_path):
    root = tmp_path / "mixed"
    for index in range(4):
        write_tiff(root / "images" / f"{index}.tif", RNG.integers(0, 9, (8, 8, 5), np.uint16))
        write_png(root / "masks" / f"{index}.png", np.zeros((8, 8), np.uint8))
    write_tiff(root / "images" / "odd.tif", RNG.integers(0, 9, (8, 8, 4), np.uint16))
    write_png(root / "masks" / "odd.png", np.zeros((8, 8), np.uint8))
    dataset = load_dataset(root, val_fraction=0)
    with pytest.raises(DataError, match=r"odd\.tif: 4 channels \(uint16\), but 4 other images "
                                        r"of the dataset have 5"):
        load_arrays(dataset.samples("train"), dataset.class_map)
    problems = check_folder(root).problems
    assert len(problems) == 1 and "odd.tif: 4 channels" in problems[0]


def test_a_run_without_input_is_rgb_and_a_damaged_one_names_config_json(tmp_path):
    assert run_input_spec({}, tmp_path) == InputSpec()
    good = InputSpec(BANDS, 2, "uint16", (0.1, 0.2), (0.3, 0.4))
    assert run_input_spec({"input": good.to_json()}, tmp_path) == good
    for damaged, why in [
        ("bands", "not an object"),
        ({**good.to_json(), "channels": "2"}, "channels '2'"),
        ({**good.to_json(), "std": [0.3, 0.0]}, "std above 0"),
        ({**good.to_json(), "mean": [0.1]}, "mean must be 2 finite numbers"),
        ({**good.to_json(), "mean": [0.1, float("nan")]}, "finite"),
        ({**good.to_json(), "mode": "rgb"}, "3 channels"),
        ({**good.to_json(), "mean": [], "std": []}, "needs its mean and std"),
    ]:
        with pytest.raises(RunError, match="config.json holds an invalid input description") as error:
            run_input_spec({"input": damaged}, tmp_path)
        assert why in str(error.value), (damaged, str(error.value))


def test_a_bands_run_refuses_an_image_of_another_channel_count(tmp_path):
    path = write_tiff(tmp_path / "three.tif", RNG.integers(0, 9, (8, 8, 3), np.uint16))
    with pytest.raises(DataError, match="three.tif: the image has 3 channels, but the model was "
                                        "trained on 5"):
        read_input(path, InputSpec(BANDS, 5, "uint16", (0.0,) * 5, (1.0,) * 5))


def test_check_data_prints_the_channels_or_names_the_odd_file(tmp_path):
    import subprocess
    import sys

    from helpers import REPO

    root = tmp_path / "sat"
    for index in range(3):
        write_tiff(root / "images" / f"{index}.tif", RNG.integers(0, 9, (8, 8, 5), np.uint16))
        write_png(root / "masks" / f"{index}.png", np.zeros((8, 8), np.uint8))
    run = [sys.executable, "-m", "segcore", "check-data", str(root)]
    done = subprocess.run(run, capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "channels: 5 (3 images 5xuint16; kept as they are" in done.stdout
    write_tiff(root / "images" / "2.tif", RNG.integers(0, 9, (8, 8, 3), np.uint8))
    done = subprocess.run(run, capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 2 and "Traceback" not in done.stdout + done.stderr
    assert done.stdout.strip() == (f"{root / 'images' / '2.tif'}: 3 channels (uint8), but 2 other "
                                   "images of the dataset have 5; every image of a multi-channel "
                                   "dataset needs the same channels (and an 8-bit picture among "
                                   "them is read as its own channels too).")


def test_nan_in_a_float_tiff_is_refused_by_training_and_the_doctor_naming_it(tmp_path):
    root = tmp_path / "floats"
    for index in range(3):
        values = RNG.normal(0.0, 1.0, (8, 8, 2)).astype(np.float32)
        if index == 1:
            values[2, 3, 1] = np.nan
        write_tiff(root / "images" / f"{index}.tif", values)
        write_png(root / "masks" / f"{index}.png", np.zeros((8, 8), np.uint8))
    dataset = load_dataset(root, val_fraction=0)
    with pytest.raises(DataError, match=r"1\.tif: the image holds NaN or infinite values"):
        load_arrays(dataset.samples("train"), dataset.class_map)
    problems = check_folder(root).problems
    assert len(problems) == 1 and "1.tif: the image holds NaN" in problems[0], problems
