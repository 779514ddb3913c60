"""Every export carries its card (class map, input contract) and a README whose snippet runs.

One tiny run (U-Net, 32x32) is trained for the module; the snippets run in one subprocess
that knows nothing of the test, from a folder holding only the export, its card and an image.
"""

import io
import json
import os
import re
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

from helpers import REPO, write_png
from run_folders import train_tiny_run
from segcore import runs
from segcore.data.classes import ClassMap
from segcore.errors import RunError
from segcore.export import export_model
from segcore.export_card import model_card, sidecar_names, usage_text
from segcore.inference import RunPredictor
from segcore.training import loop
from segcore.training.config import RunConfig


@pytest.fixture(scope="module")
def run(tmp_path_factory, demo_data):
    workspace = tmp_path_factory.mktemp("ws") / "workspace"
    workspace.mkdir()
    return train_tiny_run(workspace, demo_data, epochs=1)


@pytest.fixture(scope="module")
def half_run(tmp_path_factory, demo_data):
    """A run trained at 16x16 on 32x32 images: predictions resize to the training scale."""
    workspace = tmp_path_factory.mktemp("ws") / "workspace"
    workspace.mkdir()
    config = RunConfig(data=str(demo_data), model="unet", hparams={"depth": 2, "base_filters": 8},
                       img_size=(16, 16), epochs=1, batch_size=4, seed=3)
    path = runs.create_run(workspace, config)
    loop.train(config, path, stream=io.StringIO())
    return path


@pytest.fixture(scope="module")
def bfloat16_run(tmp_path_factory, demo_data):
    """The tiny run trained with bfloat16 arithmetic: its exports compute float32."""
    workspace = tmp_path_factory.mktemp("ws") / "workspace"
    workspace.mkdir()
    config = RunConfig(data=str(demo_data), model="unet", hparams={"depth": 2, "base_filters": 8},
                       img_size=(32, 32), epochs=1, batch_size=4, seed=3, precision="bfloat16")
    path = runs.create_run(workspace, config)
    loop.train(config, path, stream=io.StringIO())
    return path


def snippet(readme):
    """The Python block of a README."""
    return re.search(r"```python\n(.*?)```", readme, re.S).group(1)


def test_an_export_has_its_card_and_readme_and_keeps_the_no_overwrite_rule(run):
    path = export_model(run, "keras", "last")
    card_file, readme_file = (path.parent / name for name in sidecar_names(path.name))
    assert card_file.name == "model-last.keras.json"
    card = json.loads(card_file.read_text())
    config = json.loads((run / "config.json").read_text())
    class_map = ClassMap.from_json(config["class_map"])
    assert [c["name"] for c in card["classes"]] == class_map.names
    assert [c["value"] for c in card["classes"]] == class_map.values
    assert [tuple(c["color"]) for c in card["classes"]] == class_map.colors
    assert [c["label"] for c in card["classes"]] == list(range(class_map.num_classes))
    assert card["void"]["value"] == class_map.ignore_value and card["void"]["label"] == 255
    assert card["input"]["height"] == card["input"]["width"] == 32
    assert card["input"]["channels"] == 3 and card["input"]["range"] == [0.0, 1.0]
    assert "pixel / 255" in card["input"]["scaling"]
    assert card["weights"] == {"checkpoint": "last", "epoch": 1, "val_mean_iou": None}
    readme = readme_file.read_text()
    assert readme.startswith("# model-last.keras") and "model-last.keras.json" in readme
    assert "from segcore.models import load_model" in snippet(readme)
    # A second export is refused and leaves the card of the first; --overwrite rewrites both.
    card_file.write_text("{}")
    with pytest.raises(RunError, match="exists already"):
        export_model(run, "keras", "last")
    assert card_file.read_text() == "{}"
    export_model(run, "keras", "last", overwrite=True)
    assert json.loads(card_file.read_text())["file"] == "model-last.keras"
    assert not list(path.parent.glob(".*")), "no staging folder left behind"


def test_the_readme_names_the_files_as_the_reader_has_them(run):
    card = model_card(RunPredictor(run, "last"), "tflite", "last", "model-last.tflite")
    assert card["input"]["shape"] == [1, 32, 32, 3]  # traced for one input size
    text = snippet(usage_text(card, "r1-model-last.tflite", "r1-model-last.tflite.json"))
    assert "MODEL, CARD, IMAGE = 'r1-model-last.tflite', 'r1-model-last.tflite.json'" in text
    assert "tf.lite.Interpreter" in text


@pytest.mark.slow
@pytest.mark.parametrize("which_run, agreement", [
    ("run", 0.999),       # images at the training size: only float rounding may differ
    ("half_run", 0.995),  # trained at half size: Pillow resizes, not OpenCV (1.0 seen)
    ("bfloat16_run", 0.999),  # trained in bfloat16: exported and predicted in float32
])
def test_each_formats_snippet_runs_alone_and_gives_the_labels_of_predict(
        which_run, agreement, request, tmp_path):
    from segcore.data.formats import read_image

    run = request.getfixturevalue(which_run)
    folder = tmp_path / "user"
    folder.mkdir()
    rng = np.random.default_rng(5)
    image = write_png(folder / "image.png", rng.integers(0, 255, (32, 32, 3), np.uint8))
    scripts = []
    for fmt in ("keras", "savedmodel", "tflite"):
        path = export_model(run, fmt, overwrite=True)
        if fmt == "keras":  # float32 as written, not only as segcore loads it
            from segcore.models import register_layers
            from segcore.models.precision import computes_float32

            register_layers()
            assert computes_float32(keras.saving.load_model(path, safe_mode=True))
        card_name, readme_name = sidecar_names(path.name)
        copy = shutil.copytree if path.is_dir() else shutil.copy
        copy(path, folder / path.name)
        shutil.copy(path.parent / card_name, folder / card_name)
        script = folder / f"use_{fmt}.py"  # not keras.py: it would shadow Keras
        script.write_text(snippet((path.parent / readme_name).read_text()))
        scripts.append(script.name)
    # One interpreter for the three (TensorFlow starts once); each script in its own namespace.
    driver = ("import sys, numpy as np\n"
              "for name in sys.argv[1:]:\n"
              "    space = {}\n"
              "    exec(compile(open(name).read(), name, 'exec'), space)\n"
              "    np.save(name + '.npy', space['labels'])\n"
              "    np.save(name + '.values.npy', space['values'])\n")
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run([sys.executable, "-c", driver, *scripts], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    predictor = RunPredictor(run)
    expected = predictor.predict(read_image(image))
    values = np.array(predictor.class_map.values, np.uint8)[expected]
    for name in scripts:
        labels = np.load(folder / f"{name}.npy")
        assert labels.shape == expected.shape, name
        # Float rounding of another runtime may flip a pixel whose two best logits tie.
        share = (labels == expected).mean()
        assert share >= agreement, (name, share)
        assert np.array_equal(np.load(folder / f"{name}.values.npy")[labels == expected],
                              values[labels == expected]), name


def test_a_saved_model_runs_its_one_image_as_two(tmp_path):
    # oneDNN's fused convolution and batch normalization is slow on one image (inference.Traced):
    # the SavedModel's own graph sends two copies, whatever runtime loads it.
    import tensorflow as tf

    from helpers import batch_size_model
    from segcore.export import write_saved_model

    signature = tf.TensorSpec((1, 8, 8, 3), tf.float32, name="image")
    write_saved_model(batch_size_model(), signature, tmp_path / "saved")
    served = tf.saved_model.load(str(tmp_path / "saved")).serve(tf.zeros((1, 8, 8, 3)))
    assert served.shape == (1, 8, 8, 2) and float(tf.reduce_max(served[..., 0])) == 2
