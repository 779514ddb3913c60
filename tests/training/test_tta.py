"""Flip test-time augmentation: the mean of the image's and its mirror's softmax."""

import io
import json

import cv2
import keras
import numpy as np
import pytest

from segcore import runs
from segcore.cli import main
from segcore.inference import FlipAverage, RunPredictor
from segcore.training import loop
from segcore.training.config import RunConfig


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
    assert with_tta["tta"] is True and without["tta"] is False
    assert (path / "eval_val_best_tta.json").is_file() and (path / "eval_val_best.json").is_file()
    assert with_tta["confusion_matrix"] != without["confusion_matrix"]
