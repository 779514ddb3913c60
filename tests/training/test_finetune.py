"""Fine-tuning pretrained encoders: the frozen phase, its resume, the encoder's rate, the CLI."""

import io
import subprocess
import sys

import keras
import numpy as np
import pytest

from helpers import REPO
from segcore import runs
from segcore.models.encoders import ENCODERS
from segcore.training import finetune, loop
from segcore.training.checkpoint import committed
from segcore.training.config import RunConfig

sys.path.insert(0, str(REPO / "tests" / "models"))
from test_encoders import _encoder_arrays, _file_arrays, _save_application_weights  # noqa: E402

DEEPLAB = {"encoder": "mobilenet_v3_small", "aspp_filters": 16, "freeze_epochs": 1}


def tiny_config(data, **overrides):
    values = dict(data=str(data), model="deeplabv3plus", hparams=dict(DEEPLAB), img_size=(32, 32),
                  epochs=2, batch_size=4, seed=3, log_every=2, lr=1e-2)
    values.update(overrides)
    return RunConfig(**values)


def last_weights(path):
    return keras.saving.load_model(path / "last.keras", safe_mode=True).get_weights()


@pytest.mark.slow
@pytest.mark.parametrize("stop_at", [3, 7], ids=["frozen-phase", "unfrozen-phase"])
def test_stop_and_resume_keep_the_phase(workspace, demo_data, monkeypatch, stop_at):
    config = tiny_config(demo_data)
    straight = runs.create_run(workspace, config)
    loop.train(config, straight, stream=io.StringIO())
    interrupted = runs.create_run(workspace, config)
    calls = {"n": 0}

    def stop(self):
        calls["n"] += 1
        return calls["n"] == stop_at

    monkeypatch.setattr(loop.StopRequest, "__bool__", stop)
    assert loop.train(config, interrupted, stream=io.StringIO()) == "stopped"
    monkeypatch.undo()
    first = committed(interrupted)
    assert loop.train(config, interrupted, resume=True, stream=io.StringIO()) == "finished"
    # The same counts in both phases: the optimizer was built over every variable once.
    again = committed(interrupted)
    assert (first.weights, first.optimizer) == (again.weights, again.optimizer)
    for a, b in zip(last_weights(straight), last_weights(interrupted)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_the_frozen_phase_leaves_the_encoder_and_its_statistics_alone(workspace, demo_data):
    config = tiny_config(demo_data, epochs=1, hparams={**DEEPLAB, "freeze_epochs": 1})
    trainer = loop.Trainer(config.validate(), None)
    before = [np.array(v) for v in trainer.encoder.weights]
    weights_before = [v.path for v in trainer.model.weights]
    decoder_before = [np.array(v) for v in trainer.model.get_layer("logits").weights]
    trainer.fit(io.StringIO())
    assert trainer.encoder_frozen and [v.path for v in trainer.model.weights] == weights_before
    for a, b in zip(before, trainer.encoder.weights):
        np.testing.assert_array_equal(a, np.array(b))
    assert any(not np.array_equal(a, np.array(b)) for a, b in
               zip(decoder_before, trainer.model.get_layer("logits").weights))
    trainer._set_phase(1)  # unfrozen: its variables train again
    assert not trainer.encoder_frozen and trainer.encoder.trainable_variables


def test_encoder_learning_rate_scale():
    inputs = keras.Input((2,))
    encoder = keras.layers.Dense(1, name="encoder")
    model = keras.Model(inputs, keras.layers.Dense(1, name="head")(encoder(inputs)))
    optimizer = keras.optimizers.SGD(0.1)
    optimizer.build(model.trainable_variables)
    finetune.scale_encoder_rate(optimizer, encoder.trainable_variables, 0.25)
    before = [np.array(v) for v in model.trainable_variables]
    optimizer.apply_gradients([(np.ones(v.shape, "float32"), v) for v in model.trainable_variables])
    steps = [before[i] - np.array(v) for i, v in enumerate(model.trainable_variables)]
    np.testing.assert_allclose(steps[0], 0.025, rtol=1e-5)  # encoder kernel: lr 0.1 * 0.25
    np.testing.assert_allclose(steps[2], 0.1, rtol=1e-5)  # head kernel: the full rate


def cli(*args, workspace, env=None):
    import os

    return subprocess.run([sys.executable, "-m", "segcore", "--workspace", str(workspace),
                           *map(str, args)], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, **(env or {})})


def _train_args(data, weights):
    return ("train", "--data", data, "--model", "deeplabv3plus", "--encoder", "mobilenet_v2",
            "--encoder-weights", weights, "--freeze-epochs", 1, "--epochs", 1,
            "--aspp-filters", 16, "--img-size", "32x32", "--batch-size", 4)


def _assert_encoder_unchanged(run, weights_file):
    """Every array of the file the model uses is in the committed checkpoint, unchanged."""
    from segcore.models import load_model

    model = load_model(run / "last.keras")
    stored, loaded = _file_arrays(weights_file), _encoder_arrays(model)
    assert {layer for layer, _ in set(stored) - set(loaded)} == {"Conv_1", "Conv_1_bn"}
    for key, value in loaded.items():
        np.testing.assert_array_equal(value, stored[key], err_msg=str(key))
    # ... and state.npz, which a resume reads, holds the same arrays.
    checkpoint = committed(run)
    with np.load(checkpoint.folder / "state.npz") as arrays:
        encoder_paths = {v.path for v in model.get_layer("encoder").weights}
        for index, variable in enumerate(model.weights):
            if variable.path in encoder_paths:
                np.testing.assert_array_equal(arrays[f"w{index}"], np.array(variable))


@pytest.mark.slow
def test_cli_frozen_epoch_keeps_every_encoder_array_of_the_file(workspace, demo_data, tmp_path):
    weights_file = tmp_path / "my_mobilenet.h5"
    _save_application_weights("mobilenet_v2", weights_file)
    result = cli(*_train_args(demo_data, weights_file), workspace=workspace)
    assert result.returncode == 0, result.stderr[-3000:]
    run = REPO / result.stdout.strip().splitlines()[-1]
    stored = runs.read_config(run)["config"]["hparams"]
    assert stored["encoder_weights"] == str(weights_file) and stored["freeze_epochs"] == 1
    _assert_encoder_unchanged(run, weights_file)

    home = tmp_path / "keras"
    cached = home / "models" / ENCODERS["mobilenet_v2"].weights_file
    cached.parent.mkdir(parents=True)
    weights_file.rename(cached)
    result = cli(*_train_args(demo_data, "imagenet"), workspace=workspace,
                 env={"KERAS_HOME": str(home)})
    assert result.returncode == 0, result.stderr[-3000:]
    _assert_encoder_unchanged(REPO / result.stdout.strip().splitlines()[-1], cached)


def test_cli_refuses_missing_and_damaged_weights_with_one_line(workspace, demo_data, tmp_path):
    empty = tmp_path / "empty_keras_home"
    result = cli(*_train_args(demo_data, "imagenet"), workspace=workspace,
                 env={"KERAS_HOME": str(empty)})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    expected = empty / "models" / ENCODERS["mobilenet_v2"].weights_file
    assert str(expected) in line and f"into {expected.parent}/" in line
    assert not (workspace / "runs").exists() or not runs.list_runs(workspace)  # refused first

    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"not an hdf5 file")
    result = cli(*_train_args(demo_data, corrupt), workspace=workspace)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert str(corrupt) in result.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_a_deeplab_run_predicts_and_exports_with_preprocessing_inside(workspace, demo_data):
    import tensorflow as tf

    from segcore.export import export_model
    from segcore.inference import RunPredictor

    config = tiny_config(demo_data, epochs=1, hparams={**DEEPLAB, "encoder": "mobilenet_v2"})
    path = runs.create_run(workspace, config)
    assert loop.train(config, path, stream=io.StringIO()) == "finished"
    predictor = RunPredictor(path, "best")
    image = (np.random.default_rng(0).random((40, 56, 3)) * 255).astype("uint8")
    assert predictor.predict(image).shape == (40, 56)
    # The encoder's scaling (RGB in [0, 1] -> [-1, 1]) is inside the model, so in every export.
    exported = export_model(path, "tflite")
    interpreter = tf.lite.Interpreter(model_path=str(exported))
    interpreter.allocate_tensors()
    (given,), (taken,) = interpreter.get_input_details(), interpreter.get_output_details()
    x = np.random.default_rng(1).random(given["shape"], "float32")
    interpreter.set_tensor(given["index"], x)
    interpreter.invoke()
    expected = predictor.model(x, training=False)
    np.testing.assert_allclose(interpreter.get_tensor(taken["index"]), expected, atol=1e-3)
    assert export_model(path, "savedmodel").is_dir()
