"""--ema: the moving average's math, and that a stopped run resumes to the same averages."""

import io

import keras
import numpy as np
import pytest

from segcore import runs
from segcore.errors import RunError
from segcore.training import checkpoint, loop
from segcore.training.config import RunConfig
from segcore.training.ema import WeightAverage, decay_at


def test_decay_warms_up_then_holds():
    assert decay_at(0.999, 0) == pytest.approx(0.1)
    assert decay_at(0.999, 10) == pytest.approx(0.55)
    assert decay_at(0.999, 1000) == pytest.approx(1001 / 1010)
    assert decay_at(0.999, 8990) == 0.999 and decay_at(0.5, 8) == 0.5


def test_average_of_known_weights_and_the_raw_ones_come_back():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    kernel = model.weights[0]
    kernel.assign([[0.0]])
    average = WeightAverage(model, decay=0.5)
    kernel.assign([[10.0]])
    average.update()  # decay min(0.5, 1/10) = 0.1: 0.1 * 0 + 0.9 * 10
    assert float(average.shadows[0].numpy()[0, 0]) == pytest.approx(9.0)
    kernel.assign([[20.0]])
    average.update()  # decay min(0.5, 2/11): 2/11 * 9 + 9/11 * 20 = 18
    assert float(average.shadows[0].numpy()[0, 0]) == pytest.approx(18.0)
    average.update()  # decay 3/12: 0.25 * 18 + 0.75 * 20 = 19.5
    assert float(average.shadows[0].numpy()[0, 0]) == pytest.approx(19.5)
    assert int(average.updates.numpy()) == 3
    with average.applied():
        assert float(kernel.numpy()[0, 0]) == pytest.approx(19.5)
    assert float(kernel.numpy()[0, 0]) == 20.0


def tiny_config(data, **overrides):
    values = dict(data=str(data), model="unet", hparams={"depth": 2, "base_filters": 8},
                  img_size=(32, 32), epochs=3, batch_size=4, seed=3, log_every=2, lr=1e-2,
                  ema=0.9)
    values.update(overrides)
    return RunConfig(**values)


def arrays(run_dir):
    found = checkpoint.committed(run_dir)
    with np.load(found.folder / "state.npz") as data:
        return found, {name: data[name] for name in data.files}


def keras_weights(path):
    return keras.saving.load_model(path, safe_mode=True).get_weights()


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_a_stopped_run_with_ema_resumes_to_the_same_weights_and_averages(
        tmp_path, demo_data, monkeypatch, precision):
    config = tiny_config(demo_data, precision=precision)  # averages are float32 either way
    straight = runs.create_run(tmp_path / "a", config)
    assert loop.train(config, straight, stream=io.StringIO()) == "finished"

    calls = {"n": 0}  # asked after each step and at each epoch's end: 7 = in epoch 2

    def stop(self):
        calls["n"] += 1
        return calls["n"] == 7

    monkeypatch.setattr(loop.StopRequest, "__bool__", stop)
    resumed = runs.create_run(tmp_path / "b", config)
    assert loop.train(config, resumed, stream=io.StringIO()) == "stopped"
    monkeypatch.undo()
    assert loop.train(config, resumed, resume=True, stream=io.StringIO()) == "finished"

    found_a, arrays_a = arrays(straight)
    found_b, arrays_b = arrays(resumed)
    assert found_a.averaged == found_b.averaged == found_a.weights + 1  # + the counter
    assert arrays_a.keys() == arrays_b.keys()
    for name in arrays_a:
        np.testing.assert_array_equal(arrays_a[name], arrays_b[name], err_msg=name)
    # last.keras holds the averaged weights, not the raw ones.
    saved = keras_weights(straight / "last.keras")
    model_weights = [arrays_a[f"w{i}"] for i in range(found_a.weights)]
    averages = [arrays_a[f"e{i}"] for i in range(found_a.weights)]
    assert len(saved) == len(averages)
    for value, average in zip(saved, averages):
        np.testing.assert_array_equal(value, average)
    assert any(not np.array_equal(w, e) for w, e in zip(model_weights, averages))
    for x, y in zip(keras_weights(straight / "best.keras"), keras_weights(resumed / "best.keras")):
        np.testing.assert_array_equal(x, y)


def test_a_checkpoint_without_averages_refuses_a_resume_with_them(tmp_path, demo_data):
    plain = tiny_config(demo_data, ema=0.0, epochs=1)
    path = runs.create_run(tmp_path, plain)
    assert loop.train(plain, path, stream=io.StringIO()) == "finished"
    trainer = loop.Trainer(tiny_config(demo_data, epochs=2), None)
    with pytest.raises(RunError, match="weight-average variables"):
        trainer.load_state(path)


@pytest.mark.slow
def test_averages_over_two_mirrored_cpus_match_one_device(demo_data, tmp_path):
    """The shadows are updated in the cross-replica context: every replica holds the same."""
    import os
    import subprocess
    import sys

    from helpers import REPO

    saved = {}
    for strategy, replicas in (("one", "1"), ("mirrored", "2")):
        result = subprocess.run(
            [sys.executable, "-m", "segcore", "--workspace", str(tmp_path / strategy), "train",
             "--data", str(demo_data), "--model", "unet", "--depth", "2", "--base-filters", "8",
             "--batch-norm", "false", "--img-size", "32x32", "--batch-size", "4", "--seed", "7",
             "--epochs", "2", "--strategy", strategy, "--ema", "0.9"],
            cwd=REPO, env=dict(os.environ, SEGCORE_CPU_REPLICAS=replicas), capture_output=True,
            text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        run = result.stdout.strip().splitlines()[-1]
        found, stored = arrays(run)
        saved[strategy] = (keras_weights(f"{run}/last.keras"),
                           [stored[f"e{i}"] for i in range(found.weights)])
    for a, b in zip(saved["one"][0], saved["mirrored"][0]):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-3)
    for kept, average in zip(*saved["mirrored"]):
        np.testing.assert_array_equal(kept, average)
