"""Done when: a 5-channel 16-bit TIFF dataset trains, evaluates, predicts and exports.

One run for the module, trained by the CLI (`python -m segcore train`) on 8 generated
32x32 TIFFs whose class shows in band 3 only; everything after it reads that run folder.
"""

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tifffile

from helpers import REPO, write_png
from segcore.data import load_dataset
from segcore.data.channels import channel_stats, read_input
from segcore.errors import DataError
from segcore.evaluation import evaluate_run
from segcore.export import export_model
from segcore.export_card import sidecar_names
from segcore.inference import RunPredictor

BANDS, SIDE = 5, 32
ENV = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")


def bands_image(rng, mask):
    """uint16 noise in every band; band 3 also carries the mask (a class only it shows)."""
    pixels = rng.integers(0, 20000, (SIDE, SIDE, BANDS)).astype(np.uint16)
    pixels[..., 3] += mask.astype(np.uint16) * 40000
    return pixels


def write_bands(path, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    # One page, a sample per band: how GDAL, rasterio and tifffile store multispectral images.
    tifffile.imwrite(path, pixels, photometric="minisblack", planarconfig="contig")
    return path


def square_mask(rng):
    mask = np.zeros((SIDE, SIDE), np.uint8)
    top, left = rng.integers(0, SIDE // 2, 2)
    mask[top:top + SIDE // 2, left:left + SIDE // 2] = 1
    return mask


def cli(*args, workspace):
    return subprocess.run([sys.executable, "-m", "segcore", "--workspace", str(workspace),
                           *map(str, args)], capture_output=True, text=True, env=ENV, cwd=REPO,
                          timeout=300)


@pytest.fixture(scope="module")
def bands(tmp_path_factory):
    """(dataset folder, run folder, workspace) of a unet trained 2 epochs on 5-band TIFFs."""
    base = tmp_path_factory.mktemp("bands")
    root, workspace = base / "multispectral", base / "workspace"
    workspace.mkdir()
    rng = np.random.default_rng(0)
    for index in range(8):
        mask = square_mask(rng)
        write_bands(root / "images" / f"{index}.tif", bands_image(rng, mask))
        write_png(root / "masks" / f"{index}.png", mask)
    done = cli("train", "--data", root, "--model", "unet", "--depth", 2, "--base-filters", 8,
               "--img-size", f"{SIDE}x{SIDE}", "--epochs", 2, "--batch-size", 2, "--lr", 0.01,
               "--val-fraction", 0.25, "--seed", 1, workspace=workspace)
    assert done.returncode == 0, done.stderr[-3000:]
    run = done.stdout.strip().splitlines()[-1]
    return root, workspace / "runs" / os.path.basename(run), workspace


def test_the_run_takes_five_channels_standardized_by_the_training_split(bands):
    root, run, _ = bands
    info = json.loads((run / "config.json").read_text())
    spec = info["input"]
    assert (spec["mode"], spec["channels"], spec["dtype"]) == ("bands", BANDS, "uint16")
    dataset = load_dataset(root, split="random", val_fraction=0.25, seed=1)
    predictor = RunPredictor(run)
    train = [predictor.read(s.image) for s in dataset.samples("train")]
    mean, std = channel_stats(train)
    np.testing.assert_allclose(spec["mean"], mean, rtol=1e-6)
    np.testing.assert_allclose(spec["std"], std, rtol=1e-6)
    # Band 3 carries the class: brighter on average than the noise-only bands.
    assert spec["mean"][3] > 1.5 * spec["mean"][0]
    assert predictor.model.input_shape[-1] == BANDS
    assert predictor.model.get_layer("input_norm").mean == pytest.approx(spec["mean"])
    # The validation images are not in the statistics: they would differ with them.
    everything = train + [predictor.read(s.image) for s in dataset.samples("val")]
    assert not np.allclose(channel_stats(everything)[0], mean, rtol=1e-9)


def test_evaluate_scores_the_validation_tiffs(bands):
    _, run, workspace = bands
    result = evaluate_run(run, cache=False)
    assert result["images"] == 2 and len(result["per_image"]) == 2
    assert 0.0 <= result["mean_iou"] <= 1.0
    done = cli("evaluate", "--run", run.name, "--json", workspace=workspace)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["mean_iou"] == pytest.approx(result["mean_iou"])


def test_predict_writes_the_masks_of_the_in_app_prediction(bands, tmp_path):
    root, run, workspace = bands
    done = cli("predict", "--run", run.name, "--input", root / "images", "--output",
               tmp_path / "out", workspace=workspace)
    assert done.returncode == 0, done.stderr[-2000:]
    predictor = RunPredictor(run)
    from PIL import Image

    for index in (0, 7):
        image = root / "images" / f"{index}.tif"
        expected = predictor.predict(predictor.read(image))  # what the Predict page shows
        written = np.asarray(Image.open(tmp_path / "out" / f"{index}_mask.png"))
        assert np.array_equal(written, expected)
        overlay = np.asarray(Image.open(tmp_path / "out" / f"{index}_overlay.png"))
        assert overlay.shape == (SIDE, SIDE, 3)


def test_an_rgb_picture_is_refused_by_a_five_band_run_naming_it(bands, tmp_path):
    _, run, workspace = bands
    picture = write_png(tmp_path / "photo.png", np.zeros((SIDE, SIDE, 3), np.uint8))
    with pytest.raises(DataError, match=r"photo.png: the image has 3 channels, but the model "
                                        r"was trained on 5"):
        RunPredictor(run).read(picture)
    done = cli("predict", "--run", run.name, "--input", picture, "--output", tmp_path / "out",
               workspace=workspace)
    assert done.returncode == 2 and "photo.png" in done.stderr and "trained on 5" in done.stderr


def test_keras_and_tflite_exports_give_the_in_app_logits(bands, tmp_path):
    import tensorflow as tf

    root, run, _ = bands
    predictor = RunPredictor(run)
    image = read_input(root / "images" / "1.tif", predictor.input)
    x = image[None].astype(np.float32)
    expected = np.asarray(predictor.model(x, training=False))
    assert np.array_equal(np.argmax(expected[0], -1), predictor.predict(image))

    tflite = export_model(run, "tflite", overwrite=True)
    interpreter = tf.lite.Interpreter(model_path=str(tflite))
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    assert list(detail["shape"]) == [1, SIDE, SIDE, BANDS]
    interpreter.set_tensor(detail["index"], x)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(got, expected, atol=1e-4)
    card = json.loads((tflite.parent / sidecar_names(tflite.name)[0]).read_text())
    assert card["input"]["channels"] == BANDS and card["input"]["shape"] == [1, SIDE, SIDE, 5]
    assert card["input"]["normalization"]["mean"] == pytest.approx(
        json.loads((run / "config.json").read_text())["input"]["mean"])

    keras_file = export_model(run, "keras", overwrite=True)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", expected)
    # A fresh interpreter that has imported none of segcore's layers: InputNorm deserializes.
    script = ("import sys, numpy as np; from segcore.models import load_model; "
              "m = load_model(sys.argv[1]); d = sys.argv[2]; "
              "np.testing.assert_allclose(np.asarray(m(np.load(d + '/x.npy'), training=False)), "
              "np.load(d + '/y.npy'), atol=1e-5)")
    done = subprocess.run([sys.executable, "-c", script, str(keras_file), str(tmp_path)],
                          capture_output=True, text=True, env=ENV, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_tflite_usage_snippet_reads_a_tiff_and_gives_predicts_labels(bands, tmp_path):
    root, run, _ = bands
    tflite = export_model(run, "tflite", overwrite=True)
    card_name, readme_name = sidecar_names(tflite.name)
    for name in (tflite.name, card_name):
        shutil.copy(tflite.parent / name, tmp_path / name)
    shutil.copy(root / "images" / "2.tif", tmp_path / "image.tif")
    readme = (tflite.parent / readme_name).read_text()
    assert "5 bands" in readme and "standardization" in readme
    code = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    (tmp_path / "use.py").write_text(code + "np.save('labels.npy', labels)\n")
    done = subprocess.run([sys.executable, "use.py"], cwd=tmp_path, env=ENV,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    predictor = RunPredictor(run)
    expected = predictor.predict(predictor.read(root / "images" / "2.tif"))
    assert np.array_equal(np.load(tmp_path / "labels.npy"), expected)


def test_a_damaged_input_entry_stops_prediction_naming_config_json(bands, tmp_path):
    from segcore.errors import RunError

    _, run, _ = bands
    copy = shutil.copytree(run, tmp_path / run.name, symlinks=True)
    info = json.loads((copy / "config.json").read_text())
    info["input"]["std"][2] = -1.0
    (copy / "config.json").write_text(json.dumps(info))
    with pytest.raises(RunError, match=r"config.json holds an invalid input description \(mean "
                                       r"and std must both be given, with every std above 0\)"):
        RunPredictor(copy)


def test_the_predict_page_predicts_an_uploaded_five_band_tiff(bands, monkeypatch):
    from page_runner import page

    root, run, workspace = bands
    monkeypatch.setenv("SEGCORE_HOME", str(workspace))
    at = page("predict")
    at.query_params["run"] = run.name
    at.run()
    tiff = (root / "images" / "5.tif").read_bytes()
    at.file_uploader(key="predict_images").set_value([("5.tif", tiff, "image/tiff")]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    (labels,) = at.session_state["predictions"].values()
    predictor = RunPredictor(run)
    assert np.array_equal(labels, predictor.predict(predictor.read(root / "images" / "5.tif")))
    assert any("5.tif (32x32)" in c for image in at.get("image") for c in image.captions)


def bands_folder(tmp_path, rng):
    """(dataset, workspace) for the resume tests: 10 5-band TIFFs with their masks."""
    root = tmp_path / "bands"
    for index in range(10):
        mask = square_mask(rng)
        write_bands(root / "images" / f"{index}.tif", bands_image(rng, mask))
        write_png(root / "masks" / f"{index}.png", mask)
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    return root, workspace


def resume(run):
    """Resumes a stopped run to its end in this process; returns its config."""
    import io

    from segcore.training import loop
    from segcore.training.config import RunConfig

    config = RunConfig.from_json(json.loads((run / "config.json").read_text())["config"])
    assert loop.train(config, run, resume=True, stream=io.StringIO()) == "finished"
    return config


def test_a_stopped_bands_run_resumes_to_the_straight_runs_weights(tmp_path):
    from run_folders import train_tiny_run
    from segcore.models import load_model

    rng = np.random.default_rng(4)
    root, workspace = bands_folder(tmp_path, rng)
    straight = train_tiny_run(workspace, root)
    stopped = train_tiny_run(workspace, root, stop_at_check=6)
    resume(stopped)
    stats = [json.loads((run / "config.json").read_text())["input"] for run in (straight, stopped)]
    assert stats[0] == stats[1] and stats[0]["channels"] == BANDS
    a, b = load_model(straight / "last.keras"), load_model(stopped / "last.keras")
    assert a.get_layer("input_norm").get_config()["mean"] == b.get_layer("input_norm").mean
    for x, y in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(x, y)


def test_a_resume_keeps_the_runs_statistics_and_refuses_images_read_another_way(tmp_path):
    import io

    from run_folders import train_tiny_run
    from segcore.models import load_model
    from segcore.training import loop

    rng = np.random.default_rng(5)
    root, workspace = bands_folder(tmp_path, rng)
    stopped = train_tiny_run(workspace, root, stop_at_check=6)
    recorded = json.loads((stopped / "config.json").read_text())["input"]
    # The data drifts while the run is stopped: its statistics would now come out otherwise.
    for index in range(10):
        path = root / "images" / f"{index}.tif"
        write_bands(path, (tifffile.imread(path) // 4).astype(np.uint16))
    config = resume(stopped)
    norm = load_model(stopped / "last.keras").get_layer("input_norm").get_config()
    np.testing.assert_allclose(norm["mean"], recorded["mean"], rtol=1e-6)

    # Images that now read as RGB (another channel rule) are refused, naming config.json.
    rgb = tmp_path / "rgb"
    for index in range(10):
        write_png(rgb / "images" / f"{index}.png",
                  rng.integers(0, 255, (SIDE, SIDE, 3)).astype(np.uint8))
        write_png(rgb / "masks" / f"{index}.png", square_mask(rng))
    shutil.rmtree(root)
    shutil.copytree(rgb, root)
    config.epochs += 1
    with pytest.raises(DataError, match=r"config\.json: the run trained on 5 channels"):
        loop.train(config, stopped, resume=True, stream=io.StringIO())
