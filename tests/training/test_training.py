import io
import json
import os
import signal
import subprocess
import sys
import threading
import time

import keras
import numpy as np
import pytest

from helpers import REPO
from segcore import launch, runs
from segcore.data.augment import AugmentConfig
from segcore.errors import ConfigError, RunError
from segcore.models import precision as precision_module
from segcore.training import loop
from segcore.training.config import RunConfig

TINY = {"depth": 2, "base_filters": 8}


def tiny_config(data, **overrides):
    values = dict(data=str(data), model="unet", hparams=dict(TINY), img_size=(32, 32), epochs=3,
                  batch_size=4, seed=3, log_every=2)
    values.update(overrides)
    return RunConfig(**values)


def weights(path):
    return keras.saving.load_model(path, safe_mode=True).get_weights()


def test_two_epochs_lower_the_loss_and_write_the_run_folder(workspace, demo_data):
    config = tiny_config(demo_data, epochs=2, lr=1e-2)
    path = runs.create_run(workspace, config)
    assert loop.train(config, path, stream=io.StringIO()) == "finished"
    epochs, steps = runs.read_metrics(path)
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert epochs[1]["train_loss"] < epochs[0]["train_loss"]
    assert steps and all("loss" in s for s in steps)
    status = runs.read_status(path)
    assert status["state"] == "finished" and status["best_mean_iou"] >= 0
    stored = runs.read_config(path)
    assert stored["class_map"]["classes"][0]["name"] == "background"
    assert {"tensorflow", "keras"} <= set(stored["versions"]) and stored["dataset_fingerprint"]
    for name in ("best.keras", "last.keras", "train.log", "tensorboard"):
        assert (path / name).exists() or name == "train.log"


@pytest.mark.parametrize("precision, jit", [("float32", "off"), ("bfloat16", "off"),
                                            ("float32", "xla")])
def test_stop_and_resume_equal_an_uninterrupted_run(workspace, demo_data, monkeypatch, precision,
                                                    jit):
    config = tiny_config(demo_data, precision=precision, jit=jit)
    straight = runs.create_run(workspace, config)
    monkeypatch.setattr(precision_module, "native_bfloat16", lambda: False)  # as if emulated
    said = io.StringIO()
    loop.train(config, straight, stream=said)
    assert ("emulated" in said.getvalue()) == (precision == "bfloat16")
    monkeypatch.undo()
    interrupted = runs.create_run(workspace, config)
    calls = {"n": 0}

    def stop_mid_epoch(self):
        calls["n"] += 1
        return calls["n"] == 6

    monkeypatch.setattr(loop.StopRequest, "__bool__", stop_mid_epoch)
    assert loop.train(config, interrupted, stream=io.StringIO()) == "stopped"
    assert runs.read_status(interrupted)["state"] == "stopped"
    monkeypatch.undo()
    assert loop.train(config, interrupted, resume=True, stream=io.StringIO()) == "finished"
    for a, b in zip(weights(straight / "last.keras"), weights(interrupted / "last.keras")):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert runs.read_config(interrupted)["config"]["precision"] == precision
    assert runs.read_metrics(straight)[0][-1]["val_mean_iou"] == pytest.approx(
        runs.read_metrics(interrupted)[0][-1]["val_mean_iou"], abs=1e-9)


def test_a_time_budget_ends_the_run_and_the_cosine_decay_together(workspace, demo_data):
    # The budget is sized from one epoch timed on this machine (its tracing included), so a
    # slow or busy machine still fits several epochs in it.
    probe_config = tiny_config(demo_data, epochs=1, lr=1e-2)
    probe = runs.create_run(workspace, probe_config)
    assert loop.train(probe_config, probe, stream=io.StringIO()) == "finished"
    first_epoch_s = runs.read_metrics(probe)[0][0]["seconds"]
    budget_min = max(0.1, 6 * first_epoch_s / 60)
    config = tiny_config(demo_data, epochs=100000, time_budget_min=budget_min, lr=1e-2)
    path = runs.create_run(workspace, config)
    assert loop.train(config, path, stream=io.StringIO()) == "finished"
    epochs, _ = runs.read_metrics(path)
    assert len(epochs) >= 2 and "Time budget" in runs.read_status(path)["message"]
    # The horizon follows the epochs that fit in the budget, not --epochs, so the decay finishes.
    assert all(e["schedule_epochs"] < 1000 for e in epochs)
    assert epochs[-1]["lr"] < 0.3 * config.lr
    # Progress counts the epochs run, not the 100,000 allowed.
    assert runs.read_status(path)["epochs"] == len(epochs)


def test_a_resumed_budgeted_run_shows_the_epochs_it_planned(workspace, demo_data, monkeypatch):
    config = tiny_config(demo_data, epochs=100000, time_budget_min=1.0, lr=1e-2)
    path = runs.create_run(workspace, config)
    # Stopped once two epochs have planned the budget's horizon.
    monkeypatch.setattr(loop.StopRequest, "__bool__",
                        lambda self: len(runs.read_metrics(path)[0]) >= 2)
    assert loop.train(config, path, stream=io.StringIO()) == "stopped"
    planned = runs.read_metrics(path)[0][-1]["schedule_epochs"]
    assert planned < 1000 and "Stopped" in runs.read_status(path)["message"]
    seen = []
    original = loop.Trainer.train_epoch

    def look(self, *args):  # what the page shows while the resumed run trains
        seen.append(runs.read_status(path))
        return original(self, *args)

    monkeypatch.setattr(loop.Trainer, "train_epoch", look)
    monkeypatch.setattr(loop.StopRequest, "__bool__", lambda self: True)
    assert loop.train(config, path, resume=True, stream=io.StringIO()) == "stopped"
    assert seen[0]["state"] == "running" and seen[0]["epochs"] == planned  # not 100000
    assert seen[0]["message"] == ""  # "Stopped on request." is over


def test_torn_metrics_line_is_skipped(tmp_path):
    (tmp_path / "metrics.jsonl").write_text(
        json.dumps({"kind": "epoch", "epoch": 1, "val_mean_iou": 0.5}) + '\n{"kind": "ep')
    epochs, steps = runs.read_metrics(tmp_path)
    assert [e["epoch"] for e in epochs] == [1] and steps == []


def wait_for(predicate, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_sigkill_leaves_a_readable_failed_run_that_resumes(workspace, demo_data):
    config = tiny_config(demo_data, epochs=40)
    run_id = launch.start_run(workspace, config)
    path = workspace / "runs" / run_id
    assert wait_for(lambda: runs.read_metrics(path)[0])  # at least one epoch checkpointed
    os.kill(runs.read_status(path)["pid"], signal.SIGKILL)
    assert wait_for(lambda: runs.read_status(path)["state"] == "failed", 20)
    assert "killed or crashed" in runs.read_status(path)["message"]
    done = len(runs.read_metrics(path)[0])
    launch.resume_run(workspace, run_id)
    assert wait_for(lambda: len(runs.read_metrics(path)[0]) > done)
    assert launch.stop_run(workspace, run_id, timeout=60) == "stopped"


@pytest.mark.slow
def test_two_simultaneous_starts_start_exactly_one_run(workspace, demo_data):
    config = tiny_config(demo_data, epochs=40)
    outcomes = []

    def start():
        try:
            outcomes.append(launch.start_run(workspace, config))
        except RunError as error:
            outcomes.append(error)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    started = [o for o in outcomes if isinstance(o, str)]
    refused = [o for o in outcomes if isinstance(o, RunError)]
    assert len(started) == 1 and len(refused) == 1
    assert "one run at a time" in str(refused[0])
    assert len(runs.list_runs(workspace)) == 1
    assert launch.stop_run(workspace, started[0], timeout=90) in ("stopped", "finished")


def cli(*args, workspace):
    return subprocess.run([sys.executable, "-m", "segcore", "--workspace", str(workspace),
                           *map(str, args)], capture_output=True, text=True, cwd=REPO)


def test_cli_train_evaluate_predict_export(workspace, demo_data, tmp_path):
    result = cli("train", "--data", demo_data, "--model", "unet", "--depth", 2, "--base-filters", 8,
                 "--img-size", "32x32", "--epochs", 1, "--batch-size", 4, workspace=workspace)
    assert result.returncode == 0, result.stderr
    run = result.stdout.strip().splitlines()[-1]
    assert (workspace / "runs") in __import__("pathlib").Path(run).parents
    result = cli("evaluate", "--run", run, "--json", workspace=workspace)
    scores = json.loads(result.stdout)
    for key in ("pixel_accuracy", "mean_class_accuracy", "mean_iou", "fw_iou", "per_class_iou",
                "per_class_dice", "per_class_precision", "per_class_recall", "support",
                "class_names", "per_image", "confusion_matrix"):
        assert key in scores
    assert len(scores["confusion_matrix"]) == 4
    result = cli("predict", "--run", run, "--input", demo_data / "images", "--output",
                 tmp_path / "out", workspace=workspace)
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "out").glob("*_mask.png"))) == 24
    for fmt, name in (("keras", "model-best.keras"), ("tflite", "model-best.tflite")):
        result = cli("export", "--run", run, "--format", fmt, workspace=workspace)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith(name)
    assert "finished" in cli("runs", workspace=workspace).stdout


@pytest.mark.parametrize("args, message", [
    (("train", "--data", "/no/such/folder"), "dataset folder not found"),
    (("train", "--data", ".", "--img-size", "33x33"), "must be a multiple of 16"),
    (("train", "--data", ".", "--model", "reseg", "--depth", "3"), "does not apply to model reseg"),
    (("evaluate", "--run", "nope"), "not found"),
])
def test_cli_bad_input_exits_2_with_one_line(workspace, args, message):
    result = cli(*args, workspace=workspace)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert message in result.stderr.strip().splitlines()[-1]


def test_paste_by_name_pastes_those_classes_and_an_unknown_name_is_refused(demo_data, caplog):
    from segcore.training.data_source import RunData

    augment = dict(AugmentConfig().to_json(), paste=["triangle", "circle"])
    with caplog.at_level("INFO", logger="segcore.train"):
        named = RunData(tiny_config(demo_data, class_weights="none", augment=augment), None)
    names = named.class_map.names
    assert named.paste == tuple(sorted((names.index("triangle"), names.index("circle"))))
    assert "class paste: triangle, circle" in caplog.text
    both = dict(augment, paste=["circle"], paste_rare=0.3)  # with the share: the union
    union = RunData(tiny_config(demo_data, class_weights="none", augment=both), None)
    assert names.index("circle") in union.paste and len(union.paste) > 1
    with pytest.raises(ConfigError, match="--paste kite: no such class; the classes are "
                                          "background, circle"):
        RunData(tiny_config(demo_data, augment=dict(augment, paste=["kite"])), None)


def test_an_unknown_paste_name_is_refused_before_a_run_exists(workspace, demo_data):
    result = cli("train", "--data", str(demo_data), "--paste", "circle,kite,owl",
                 workspace=workspace)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "error: --paste kite, owl: no such classes; the classes are background, circle, "
        "square, triangle.")
    assert not list((workspace / "runs").glob("*"))  # no failed run folder left behind


def test_auto_s_fingerprint_names_the_classes_for_the_paste_check(tmp_path):
    from segcore.commands.run import _check_paste

    empty = tmp_path / "empty"  # reading it as a dataset would fail: the names come from auto
    empty.mkdir()
    auto = {"fingerprint": {"class_names": ["road", "pole", "sign"]}}
    config = tiny_config(empty, augment=dict(AugmentConfig().to_json(), paste=["pole"]))
    _check_paste(config, auto)
    config.augment.paste = ["pole", "kite"]
    with pytest.raises(ConfigError, match="--paste kite: no such class; the classes are "
                                          "road, pole, sign."):
        _check_paste(config, auto)


@pytest.mark.parametrize("cache_memory", ["auto", "1KB"])  # in memory, then streamed
def test_whole_training_images_are_kept_larger_for_the_scale_crop(tmp_path, cache_memory):
    from segcore.data.synthetic import make_synthetic
    from segcore.training.data_source import RunData

    data = make_synthetic(tmp_path / "data", count=12, size=(64, 96))
    augment = dict(AugmentConfig(scale_min=0.75).to_json())
    run = RunData(tiny_config(data, img_size=(32, 48), augment=augment, class_weights="none",
                              cache_memory=cache_memory), tmp_path / "cache")
    assert run.train_size == (43, 64) and run.streaming == (cache_memory != "auto")
    if not run.streaming:
        assert run.train_images.shape[1:3] == (43, 64)
        assert run.val_images.shape[1:3] == (32, 48)  # validation at the training size
    images, masks = next(iter(run.batches(0)))
    assert images.shape[1:3] == (32, 48) and masks.shape[1:3] == (32, 48)
    plain = RunData(tiny_config(data, img_size=(32, 48), class_weights="none"), None)
    assert plain.train_size == (32, 48)  # no scale-crop: kept at the training size


def test_rare_class_paste_names_the_rare_classes_and_changes_the_batches(demo_data, caplog):
    from segcore.training.data_source import RunData

    plain = RunData(tiny_config(demo_data, class_weights="none"), None)
    assert plain.paste == ()
    augment = dict(plain.config.augment.to_json(), paste_rare=0.3)
    with caplog.at_level("INFO", logger="segcore.train"):
        pasted = RunData(tiny_config(demo_data, class_weights="none", augment=augment), None)
    shares = pasted.class_counts / pasted.class_counts.sum()
    assert pasted.paste and all(0 < shares[c] < 0.3 for c in pasted.paste)
    assert "background" not in caplog.text.split("rare-class paste")[1]  # the common class stays
    a = next(iter(plain.batches(0)))
    b = next(iter(pasted.batches(0)))
    moved = (a[1].numpy() != b[1].numpy()).mean()
    assert 0 < moved < 0.5  # some pixels pasted, most kept


def test_the_xla_step_is_compiled_by_xla_and_computes_what_the_plain_step_does(demo_data):
    import tensorflow as tf

    trainers = {jit: loop.Trainer(tiny_config(demo_data, jit=jit), None) for jit in ("off", "xla")}
    trainers["xla"].model.set_weights(trainers["off"].model.get_weights())
    images, masks = next(iter(trainers["off"].batches.epoch(0, 0)))
    (loss, logits, grads), (xla_loss, xla_logits, xla_grads) = (
        trainers[jit].step.gradients(images, masks) for jit in ("off", "xla"))
    # Only an XLA-compiled function has an HLO module to show.
    assert "HloModule" in trainers["xla"].step.gradients.experimental_get_compiler_ir(
        images, masks)(stage="hlo")
    assert not isinstance(trainers["off"].step.gradients, tf.types.experimental.GenericFunction)
    np.testing.assert_allclose(float(xla_loss), float(loss), rtol=1e-5)
    np.testing.assert_allclose(xla_logits, logits, atol=1e-4)
    # XLA's arithmetic differs in the last bits, which batch normalization amplifies in a few
    # gradients (`python -m bench jit`: up to 9% of a variable's largest one); as a whole the
    # gradient is the same.
    plain, fused = (np.concatenate([np.ravel(g) for g in each]) for each in (grads, xla_grads))
    assert np.linalg.norm(fused - plain) < 0.01 * np.linalg.norm(plain)
    before = float(trainers["xla"].step(images, masks))
    for _ in range(5):
        after = float(trainers["xla"].step(images, masks))
    assert after < before  # the XLA step trains


@pytest.mark.parametrize("cache_memory", ["auto", "1KB"])  # in memory, then streamed
def test_majority_labels_shrink_the_training_and_validation_masks(tmp_path, cache_memory):
    from segcore.data.masks import raw_to_labels, read_pair
    from segcore.data.shrink import shrink_labels
    from segcore.data.synthetic import make_synthetic
    from segcore.training.data_source import RunData

    data = make_synthetic(tmp_path / "data", count=12, size=(64, 96))
    augment = dict(AugmentConfig(hflip=False, scale_min=1.0).to_json())
    run = RunData(tiny_config(data, img_size=(32, 48), class_weights="none", augment=augment,
                              cache_memory=cache_memory, label_resize="majority").validate(),
                  tmp_path / "cache")
    assert run.streaming == (cache_memory != "auto")

    def shrunk(split, method):
        sample = run.dataset.samples(split)[0]
        _, raw = read_pair(sample.image, sample.mask, run.input_spec)
        native = raw_to_labels(raw, run.class_map, str(sample.mask))
        return shrink_labels(native, (32, 48), method)

    for split in ("train", "val"):
        assert not np.array_equal(shrunk(split, "majority"), shrunk(split, "nearest"))
    if run.streaming:
        train, val = run.train_source.get(0)[1], run.val_source.get(0)[1]
    else:
        train, val = run.train_masks[0], run.val_masks[0]
    np.testing.assert_array_equal(train, shrunk("train", "majority"))
    np.testing.assert_array_equal(val, shrunk("val", "majority"))


def test_shares_train_on_each_classs_share_and_validate_on_the_majority(tmp_path):
    from segcore.data.shrink import SHARE_SCALE
    from segcore.data.synthetic import make_synthetic
    from segcore.errors import DataError
    from segcore.training.data_source import RunData

    data = make_synthetic(tmp_path / "data", count=12, size=(64, 96))
    augment = dict(AugmentConfig(hflip=False, scale_min=1.0).to_json())
    config = tiny_config(data, img_size=(32, 48), class_weights="median", augment=augment,
                         label_resize="shares").validate()
    run = RunData(config, None)
    majority = RunData(tiny_config(data, img_size=(32, 48), class_weights="median",
                                   augment=augment, label_resize="majority"), None)
    classes = run.class_map.num_classes
    assert run.train_masks.shape == (len(run.train_masks), 32, 48, classes + 1)
    np.testing.assert_array_equal(run.train_masks.argmax(-1), majority.train_masks)
    np.testing.assert_array_equal(run.val_masks, majority.val_masks)  # labels to score
    assert np.abs(run.class_counts - majority.class_counts).max() < 0.05 * run.class_counts.sum()
    _, shares = next(iter(run.batches(0)))
    assert shares.shape[-1] == classes + 1 and shares.dtype == "float32"
    np.testing.assert_allclose(shares.numpy().sum(-1), 1.0, atol=classes / SHARE_SCALE)
    with pytest.raises(DataError, match="--label-resize shares keeps the training masks"):
        RunData(tiny_config(data, img_size=(32, 48), augment=augment, cache_memory="1KB",
                            label_resize="shares"), tmp_path / "cache")

def test_a_run_trains_on_shares_and_lowers_its_loss(workspace, tmp_path):
    from segcore.data.synthetic import make_synthetic

    data = make_synthetic(tmp_path / "data", count=12, size=(64, 96))
    config = tiny_config(data, img_size=(32, 48), epochs=2, lr=1e-2, class_weights="median",
                         label_smoothing=0.1, label_resize="shares")
    path = runs.create_run(workspace, config)
    assert loop.train(config, path, stream=io.StringIO()) == "finished"
    epochs, _ = runs.read_metrics(path)
    assert epochs[1]["train_loss"] < epochs[0]["train_loss"]
    assert runs.read_config(path)["config"]["label_resize"] == "shares"
