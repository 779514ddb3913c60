"""The prior correction's share fitted on the training batches (`--prior-fit train`)."""

import io
import math

import numpy as np

from segcore import runs
from segcore.inference import load_run_model
from segcore.metrics import confusion_matrix
from segcore.training import loop
from segcore.training.config import RunConfig
from segcore.training.prior_fit import SAMPLE, SHARES, best_share, share_confusions

TINY = {"depth": 2, "base_filters": 8}


def test_best_share_picks_the_best_mean_iou_and_the_smaller_share_on_ties():
    perfect = np.diag([5, 5])
    poor = np.array([[3, 2], [2, 3]])
    counts = np.stack([poor] * len(SHARES))
    counts[6] = perfect
    assert best_share(counts) == SHARES[6] == 0.75
    counts[2] = perfect
    assert best_share(counts) == 0.25
    assert best_share(np.zeros((len(SHARES), 2, 2), np.int64)) is None


def test_share_confusions_count_each_shares_corrected_argmax_on_a_pixel_grid():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 4 * SAMPLE, 3 * SAMPLE, 3)).astype(np.float32)
    masks = rng.integers(0, 3, (2, 4 * SAMPLE, 3 * SAMPLE)).astype(np.int32)
    masks[0, 0, :] = 255  # void is not counted
    unit = [math.log(0.5), 0.0, math.log(4.0)]
    counts = np.asarray(share_confusions(masks, logits, unit, 3))
    assert counts.shape == (len(SHARES), 3, 3)
    grid = (slice(None), slice(None, None, SAMPLE), slice(None, None, SAMPLE))
    for share, matrix in zip(SHARES, counts):
        predicted = np.argmax(logits - share * np.asarray(unit, np.float32), axis=-1)
        np.testing.assert_array_equal(matrix, confusion_matrix(masks[grid], predicted[grid], 3,
                                                               ignore_index=255))
    assert counts[0].sum() == 2 * 4 * 3 - 3  # the grid's pixels, less the void row's


def test_a_fitted_run_records_its_share_and_its_checkpoints_carry_it(workspace, demo_data):
    config = RunConfig(data=str(demo_data), model="unet", hparams=dict(TINY), img_size=(32, 32),
                       epochs=3, batch_size=4, seed=3, lr=1e-2, class_weights="median",
                       prior_correction=0.0, prior_fit="train")
    path = runs.create_run(workspace, config)
    assert loop.train(config, path, stream=io.StringIO()) == "finished"
    epochs, _ = runs.read_metrics(path)
    shares = [e["prior_correction"] for e in epochs]
    assert len(shares) == 3 and all(share in SHARES for share in shares)
    log_weights = [math.log(w) if w > 0 else 0.0 for w in runs.read_config(path)["class_weights"]]
    best = max(epochs, key=lambda e: e["val_mean_iou"])  # the first of equals is kept
    for which, share in (("best", best["prior_correction"]), ("last", shares[-1])):
        # A share of 0 to start from still builds the layer, so a fitted share can go in it.
        bias = load_run_model(path, which).get_layer("prior_correction").bias
        np.testing.assert_allclose(bias, [share * u for u in log_weights], rtol=1e-6, atol=1e-9)
    assert runs.read_status(path)["state"] == "finished"


def test_without_class_weights_there_is_nothing_to_fit(workspace, demo_data):
    config = RunConfig(data=str(demo_data), model="unet", hparams=dict(TINY), img_size=(32, 32),
                       epochs=1, batch_size=4, seed=3, prior_fit="train")
    path = runs.create_run(workspace, config)
    assert loop.train(config, path, stream=io.StringIO()) == "finished"
    assert "prior_correction" not in runs.read_metrics(path)[0][0]
    assert "prior_correction" not in [layer.name for layer in load_run_model(path).layers]


def test_a_resumed_run_goes_on_with_the_share_it_had(workspace, demo_data, monkeypatch):
    config = RunConfig(data=str(demo_data), model="unet", hparams=dict(TINY), img_size=(32, 32),
                       epochs=2, batch_size=4, seed=3, lr=1e-2, class_weights="median",
                       prior_correction=0.0, prior_fit="train")
    path = runs.create_run(workspace, config)
    calls = {"n": 0}  # asked after each of 4 steps and at the epoch's end: stop after epoch 1

    def stop_after_the_first_epoch(self):
        calls["n"] += 1
        return calls["n"] == 5

    monkeypatch.setattr(loop.StopRequest, "__bool__", stop_after_the_first_epoch)
    assert loop.train(config, path, stream=io.StringIO()) == "stopped"
    monkeypatch.undo()
    first = runs.read_metrics(path)[0][0]["prior_correction"]
    put = []
    monkeypatch.setattr(loop.Trainer, "_put_share",
                        lambda self, share: put.append(share) or PUT_SHARE(self, share))
    assert loop.train(config, path, resume=True, stream=io.StringIO()) == "finished"
    assert put[0] == first  # in force again before the second epoch trains
    second = runs.read_metrics(path)[0][-1]["prior_correction"]
    log_weights = [math.log(w) if w > 0 else 0.0 for w in runs.read_config(path)["class_weights"]]
    bias = load_run_model(path, "last").get_layer("prior_correction").bias
    np.testing.assert_allclose(bias, [second * u for u in log_weights], rtol=1e-6, atol=1e-9)


PUT_SHARE = loop.Trainer._put_share
