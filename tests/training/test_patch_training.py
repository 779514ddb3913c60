"""--patch training at native resolution and the streaming path (issue 15)."""

import io

import keras
import numpy as np
import pytest

from segcore import runs
from segcore.evaluation import evaluate_run
from segcore.inference import RunPredictor
from segcore.training import loop, run
from segcore.training.config import RunConfig

TINY = {"depth": 2, "base_filters": 8}
TOO_SMALL = "0.01MB"  # far below the decoded size: every run with it streams


@pytest.fixture(scope="module")
def large_data(tmp_path_factory):
    """12 images of 96x128 (10 train, 2 val), larger than the 32x32 patches."""
    from segcore.data.synthetic import make_synthetic

    return make_synthetic(tmp_path_factory.mktemp("large") / "large", count=12, size=(96, 128))


def config_of(data, **overrides):
    values = dict(data=str(data), model="unet", hparams=dict(TINY), patch=(32, 32), epochs=2,
                  batch_size=2, seed=5, log_every=2, lr=3e-3)
    values.update(overrides)
    return RunConfig(**values)


def train(workspace, config):
    path = runs.create_run(workspace, config)
    assert loop.train(config, path, stream=io.StringIO()) == "finished"
    return path


def weights(path):
    return keras.saving.load_model(path / "last.keras", safe_mode=True).get_weights()


def assert_same_weights(first, second):
    for a, b in zip(weights(first), weights(second)):
        np.testing.assert_array_equal(a, b)


def test_patch_training_validates_whole_images_in_tiles_as_evaluate_scores_them(
        workspace, large_data):
    path = train(workspace, config_of(large_data, oversample_rare=0.33))
    stored = runs.read_config(path)
    assert stored["config"]["patch"] == [32, 32] and stored["input_scale"] == [1.0, 1.0]
    epochs, _ = runs.read_metrics(path)
    assert [e["epoch"] for e in epochs] == [1, 2] and np.isfinite(epochs[-1]["val_loss"])
    assert RunPredictor(path).tile == (32, 32)
    # The validation that picked best.keras is evaluate's full-resolution tiled prediction.
    scored = evaluate_run(path, which="last", cache=False)
    assert scored["mean_iou"] == pytest.approx(epochs[-1]["val_mean_iou"], abs=1e-9)
    assert scored["images"] == 2


def test_scale_rescales_images_for_training_and_prediction(workspace, large_data):
    path = train(workspace, config_of(large_data, scale=0.5, epochs=1))
    assert runs.read_config(path)["input_scale"] == [0.5, 0.5]
    predictor = RunPredictor(path)
    image = np.zeros((96, 128, 3), np.float32)
    assert predictor.predict(image).shape == (96, 128)  # back at the image's own size


@pytest.mark.parametrize("mode", ["patch", "resize"])
def test_a_tiny_memory_budget_streams_and_trains_the_in_memory_runs_weights(
        workspace, large_data, mode):
    extra = {} if mode == "patch" else {"patch": None, "img_size": (32, 32)}
    in_memory = train(workspace, config_of(large_data, **extra))
    streamed_config = config_of(large_data, cache_memory=TOO_SMALL, **extra)
    trainer = loop.Trainer(streamed_config, None)
    assert trainer.data.streaming and trainer.data.needed_bytes > trainer.data.budget_bytes
    assert not loop.Trainer(config_of(large_data, **extra), None).data.streaming
    streamed = train(workspace, streamed_config)
    assert list((workspace / "cache" / "decoded").glob("*/*.image.npy"))
    assert_same_weights(in_memory, streamed)
    memory_epochs, streamed_epochs = runs.read_metrics(in_memory)[0], runs.read_metrics(streamed)[0]
    assert streamed_epochs[-1]["train_loss"] == memory_epochs[-1]["train_loss"]
    # Whole resized images: batched in memory, one by one when streamed; the same pixels.
    assert streamed_epochs[-1]["val_mean_iou"] == pytest.approx(
        memory_epochs[-1]["val_mean_iou"], abs=1e-6)


def test_stop_and_resume_on_the_streaming_path_equal_an_uninterrupted_run(
        workspace, large_data, monkeypatch):
    config = config_of(large_data, cache_memory=TOO_SMALL, oversample_rare=0.5,
                       augment={"hflip": True, "vflip": True})
    straight = train(workspace, config)
    interrupted = runs.create_run(workspace, config)
    calls = {"n": 0}

    def stop_mid_epoch(self):
        calls["n"] += 1
        return calls["n"] == 3

    monkeypatch.setattr(loop.StopRequest, "__bool__", stop_mid_epoch)
    assert loop.train(config, interrupted, stream=io.StringIO()) == "stopped"
    monkeypatch.undo()
    assert loop.train(config, interrupted, resume=True, stream=io.StringIO()) == "finished"
    assert_same_weights(straight, interrupted)
    assert runs.read_metrics(straight)[0][-1]["val_mean_iou"] == pytest.approx(
        runs.read_metrics(interrupted)[0][-1]["val_mean_iou"], abs=1e-9)


def test_a_corrupt_image_met_while_streaming_is_one_error_naming_it(workspace, tmp_path):
    from segcore.data.dataset import load_dataset
    from segcore.data.synthetic import make_synthetic
    from segcore.errors import DataError

    data = make_synthetic(tmp_path / "data", count=12, size=(96, 128))
    config = config_of(data, cache_memory=TOO_SMALL, epochs=1)
    # A mask (planning reads image headers only) of a training sample other than the first
    # (decoded when the run starts): tf.data's parallel map meets it mid-epoch.
    victim = load_dataset(data, seed=config.seed).samples("train")[3].mask
    victim.write_bytes(victim.read_bytes()[:60])
    path = runs.create_run(workspace, config)
    trainer = loop.Trainer(config, path)
    with pytest.raises(DataError, match=victim.name):
        run._fit(trainer, io.StringIO())
    assert trainer.data.failure() is not None  # raised inside tf.data, reported as itself
