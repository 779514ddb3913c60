"""Test-time augmentation: the mean softmax over mirrors (flip) and input sizes (scales)."""

import io
import json

import cv2
import keras
import numpy as np
import pytest

from segcore import runs
from segcore.cli import main
from segcore.errors import DataError
from segcore.inference import RunPredictor, predict_labels
from segcore.training import loop
from segcore.training.config import RunConfig
from segcore.tta import FlipAverage, predict_multiscale, predict_probs, tta_mode


def softmax(logits):
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def test_flip_average_is_the_mean_of_the_two_passes():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((None, None, 3)),
                              keras.layers.Conv2D(4, 3, padding="same")])
    images = np.random.default_rng(0).random((2, 8, 12, 3)).astype(np.float32)
    plain = softmax(np.asarray(model(images)))
    mirrored = softmax(np.asarray(model(images[:, :, ::-1])))[:, :, ::-1]
    averaged = softmax(np.asarray(FlipAverage(model)(images)))
    np.testing.assert_allclose(averaged, (plain + mirrored) / 2, atol=1e-5)
    assert not np.allclose(plain, mirrored, atol=1e-3)  # the mirror does change the output


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, demo_data):
    root = tmp_path_factory.mktemp("tta")
    config = RunConfig(data=str(demo_data), model="unet", hparams={"depth": 2, "base_filters": 8},
                       img_size=(32, 32), epochs=1, batch_size=4, seed=0)
    path = runs.create_run(root, config)
    assert loop.train(config, path, stream=io.StringIO()) == "finished"
    return root, path


def test_predict_and_evaluate_take_tta(trained_run, demo_data, tmp_path, capsys):
    root, path = trained_run
    image_path = sorted((demo_data / "images").iterdir())[0]
    image = cv2.cvtColor(cv2.imread(str(image_path)), cv2.COLOR_BGR2RGB)
    model = RunPredictor(path).model
    x = image[None].astype(np.float32) / 255.0
    both = (softmax(np.asarray(model(x)))
            + softmax(np.asarray(model(x[:, :, ::-1])))[:, :, ::-1]) / 2
    expected = np.argmax(both[0], axis=-1)
    tta = RunPredictor(path, tta=True)
    assert tta.tta and isinstance(tta.model, FlipAverage)
    np.testing.assert_array_equal(tta.predict(image), expected)

    out = tmp_path / "out"
    assert main(["--workspace", str(root), "predict", "--run", str(path), "--input",
                 str(image_path), "--output", str(out), "--tta"]) == 0
    written = cv2.imread(str(out / f"{image_path.stem}_mask.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(written, expected)
    capsys.readouterr()

    assert main(["--workspace", str(root), "evaluate", "--run", path.name, "--json",
                 "--tta"]) == 0
    with_tta = json.loads(capsys.readouterr().out)
    assert main(["--workspace", str(root), "evaluate", "--run", path.name, "--json"]) == 0
    without = json.loads(capsys.readouterr().out)
    assert with_tta["tta"] == "flip" and without["tta"] is False
    assert (path / "eval_val_best_tta.json").is_file() and (path / "eval_val_best.json").is_file()
    assert with_tta["confusion_matrix"] != without["confusion_matrix"]


def test_multiscale_reads_native_pixels_and_tiles_like_a_whole_image():
    keras.utils.set_random_seed(2)
    pointwise = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(4, 1)])
    image = np.random.default_rng(1).random((16, 24, 3)).astype(np.float32)
    whole = softmax(np.asarray(pointwise(image[None]))[0])
    np.testing.assert_allclose(predict_probs(pointwise, image, (16, 24), 4), whole, atol=1e-5)
    # Overlapping 8x8 tiles blend to the same probabilities for a per-pixel model.
    np.testing.assert_allclose(predict_probs(pointwise, image, (8, 8), 4), whole, atol=1e-5)
    assert (predict_multiscale(pointwise, image, (16, 24), 4, (1.0, 1.0), (1.0,), 4)
            == predict_labels(pointwise, image, (16, 24), 4)).all()
    # A model trained at half size, at factor 2: the native pixels, not a half-size blur.
    native = predict_multiscale(pointwise, image, (8, 12), 4, (0.5, 0.5), (2.0,), 4)
    assert (native == np.argmax(whole, axis=-1)).all()
    both = predict_multiscale(pointwise, image, (8, 12), 4, (0.5, 0.5), (1.0, 2.0), 4)
    half = predict_probs(pointwise, image, (8, 12), 4, (0.5, 0.5))
    assert (both == np.argmax(half + whole, axis=-1)).all()
    # Larger sizes of a native-scale model shrink the probabilities of many classes back.
    many = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(11, 1)])
    labels = predict_multiscale(many, image, (16, 24), 4, 1.0, (0.75, 1.0, 1.5), 11)
    assert labels.shape == (16, 24) and labels.max() < 11
    with pytest.raises(DataError, match="too large for multi-scale"):
        predict_multiscale(pointwise, np.zeros((9000, 9000, 3), np.uint8), (8, 8), 4, 1.0,
                           (1.0,), 20)


def test_tta_modes():
    assert [tta_mode(v) for v in (None, False, "off", True, "flip", "scales")] == [
        None, None, None, "flip", "flip", "scales"]
    with pytest.raises(ValueError, match="sideways"):
        tta_mode("sideways")


def test_multi_scale_tta_predicts_evaluates_and_caches_apart(trained_run, demo_data, tmp_path,
                                                            capsys):
    root, path = trained_run
    predictor = RunPredictor(path, tta="scales")
    assert isinstance(predictor.model, FlipAverage)  # flips at every scale
    image_path = sorted((demo_data / "images").iterdir())[0]
    image = cv2.cvtColor(cv2.imread(str(image_path)), cv2.COLOR_BGR2RGB)
    labels = predictor.predict(image)
    assert labels.shape == image.shape[:2]
    assert not np.array_equal(labels, RunPredictor(path, tta="flip").predict(image))

    assert main(["--workspace", str(root), "evaluate", "--run", path.name, "--json",
                 "--tta", "scales"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["tta"] == "scales"
    assert json.loads((path / "eval_val_best_tta_scales.json").read_text())["tta"] == "scales"
    out = tmp_path / "out"
    assert main(["--workspace", str(root), "predict", "--run", str(path), "--input",
                 str(image_path), "--output", str(out), "--tta", "scales"]) == 0
    written = cv2.imread(str(out / f"{image_path.stem}_mask.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(written, labels)
    capsys.readouterr()
    with pytest.raises(SystemExit) as refused:
        main(["--workspace", str(root), "evaluate", "--run", path.name, "--tta", "sideways"])
    assert refused.value.code == 2


def test_a_run_predicts_with_its_own_tta_unless_told_otherwise(trained_run, demo_data, tmp_path,
                                                               capsys, monkeypatch):
    from segcore import tta as tta_module
    from segcore.tta import run_tta

    root = tmp_path / "ws"
    config = RunConfig(data=str(demo_data), model="unet", hparams={"depth": 2, "base_filters": 8},
                       img_size=(32, 32), epochs=1, batch_size=4, seed=0, predict_tta="scales")
    path = runs.create_run(root, config)
    assert loop.train(config, path, stream=io.StringIO()) == "finished"
    assert run_tta(path) == "scales" and run_tta(trained_run[1]) is None  # before: plain

    assert main(["--workspace", str(root), "evaluate", "--run", path.name]) == 0
    assert "multi-scale and flip TTA (the run's default" in capsys.readouterr().out
    assert main(["--workspace", str(root), "evaluate", "--run", path.name, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tta"] == "scales"
    assert main(["--workspace", str(root), "evaluate", "--run", path.name, "--json",
                 "--tta", "off"]) == 0
    assert json.loads(capsys.readouterr().out)["tta"] is False
    assert sorted(p.name for p in path.glob("eval_val_best*.json")) == [
        "eval_val_best.json", "eval_val_best_tta_scales.json"]

    image_path = sorted((demo_data / "images").iterdir())[0]
    image = cv2.cvtColor(cv2.imread(str(image_path)), cv2.COLOR_BGR2RGB)
    scales = RunPredictor(path, tta="scales").predict(image)
    assert not np.array_equal(scales, RunPredictor(path).predict(image))
    assert main(["--workspace", str(root), "predict", "--run", str(path), "--input",
                 str(image_path), "--output", str(tmp_path / "out")]) == 0
    written = cv2.imread(str(tmp_path / "out" / f"{image_path.stem}_mask.png"),
                         cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(written, scales)

    # An image too large for multi-scale TTA's probabilities gets flip TTA, not a failure.
    monkeypatch.setattr(tta_module, "MULTISCALE_LIMIT", image.shape[0] * image.shape[1])
    np.testing.assert_array_equal(RunPredictor(path, tta="scales").predict(image),
                                  RunPredictor(path, tta="flip").predict(image))

    info = json.loads((path / "config.json").read_text())
    info["config"]["predict_tta"] = "sideways"
    (path / "config.json").write_text(json.dumps(info))
    capsys.readouterr()
    assert main(["--workspace", str(root), "evaluate", "--run", path.name]) == 2
    assert "--predict-tta 'sideways' is not one of off, flip, scales, auto" in (
        capsys.readouterr().err)
    del info["config"]["predict_tta"]  # a run from before the setting predicts plain
    (path / "config.json").write_text(json.dumps(info))
    assert run_tta(path) is None


def test_auto_keeps_the_better_of_flip_and_multi_scale_on_the_validation_images(
        demo_data, tmp_path, capsys, caplog):
    from segcore.tta import CHOICE_FILE, run_tta

    root = tmp_path / "ws"
    config = RunConfig(data=str(demo_data), model="unet", hparams={"depth": 2, "base_filters": 8},
                       img_size=(32, 32), epochs=1, batch_size=4, seed=0, predict_tta="auto")
    path = runs.create_run(root, config)
    stream = io.StringIO()
    assert loop.train(config, path, stream=stream) == "finished"
    choice = json.loads((path / CHOICE_FILE).read_text())
    flip = json.loads((path / "eval_val_best_tta.json").read_text())["mean_iou"]
    scales = json.loads((path / "eval_val_best_tta_scales.json").read_text())["mean_iou"]
    assert (choice["flip"], choice["scales"]) == (flip, scales)
    assert choice["mode"] == ("scales" if scales > flip else "flip") == run_tta(path)
    assert f"prediction TTA: {choice['mode']} (" in stream.getvalue()
    # The finished run says what it chose, not "Choosing the prediction TTA…" for ever.
    assert runs.read_status(path)["message"].startswith(f"Prediction TTA: {choice['mode']} (")
    assert main(["--workspace", str(root), "evaluate", "--run", path.name, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["tta"], result["mean_iou"]) == (choice["mode"], choice[choice["mode"]])

    other = "flip" if choice["mode"] == "scales" else "scales"
    (path / CHOICE_FILE).write_text(json.dumps(dict(choice, mode=other)))
    assert run_tta(path) == other
    for damaged in ("[1]", '{"mode": "sideways"}', "{", '{"mode": null}'):
        (path / CHOICE_FILE).write_text(damaged)
        caplog.clear()
        assert run_tta(path) == "flip", damaged  # what an undecided run predicts with
        assert f"{path / CHOICE_FILE} is damaged" in caplog.text
    (path / CHOICE_FILE).unlink()
    caplog.clear()
    assert run_tta(path) == "flip" and "damaged" not in caplog.text  # not yet decided


def test_a_failure_to_choose_the_tta_leaves_the_run_finished_with_flip(demo_data, tmp_path,
                                                                      monkeypatch):
    from segcore import evaluation
    from segcore.tta import CHOICE_FILE, run_tta

    def broken(*args, **kwargs):
        raise RuntimeError("out of something")

    monkeypatch.setattr(evaluation, "evaluate_run", broken)
    config = RunConfig(data=str(demo_data), model="unet", hparams={"depth": 2, "base_filters": 8},
                       img_size=(32, 32), epochs=1, batch_size=4, seed=0, predict_tta="auto")
    path = runs.create_run(tmp_path / "ws", config)
    stream = io.StringIO()
    assert loop.train(config, path, stream=stream) == "finished"
    assert runs.read_status(path)["state"] == "finished"
    assert "prediction TTA: flip (multi-scale could not be measured: out of something)" in (
        stream.getvalue())
    assert not (path / CHOICE_FILE).exists() and run_tta(path) == "flip"
