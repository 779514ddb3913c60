"""Run progress as the live view shows it: fraction, planned epochs, ETA, warnings."""

import json
import os
from types import SimpleNamespace

import pytest

from segcore import runlock
from segcore.progress import (
    can_resume,
    few_steps_warning,
    format_eta,
    planned_steps_warning,
    poll_interval,
    run_progress,
)
from segcore.training.schedules import EpochPlan, Plateau

HELD = []  # run locks this process holds: its runs read as alive while the tests run


def write_run(path, state, epochs=(), steps=(), total=4, steps_per_epoch=10, pid=None, torn=False,
              batch_size=8):
    """A run folder; without `pid` it reads as alive (this process holds its trainer lock)."""
    path.mkdir(parents=True, exist_ok=True)
    status = {"state": state, "epochs": total, "steps_per_epoch": steps_per_epoch,
              "pid": pid or os.getpid(), "best_mean_iou": 0.5}
    if pid is None:
        HELD.append(runlock.TrainerLock(path.parent).hold_run(path))
    (path / "status.json").write_text(json.dumps(status))
    lines = [json.dumps({"kind": "step", **s}) for s in steps]
    lines += [json.dumps({"kind": "epoch", **e}) for e in epochs]
    text = "\n".join(lines) + "\n" + ('{"kind": "epo' if torn else "")
    (path / "metrics.jsonl").write_text(text)
    config = {"model": "unet", "epochs": total, "batch_size": batch_size}
    (path / "config.json").write_text(json.dumps({"config": config}))
    return path


def test_progress_of_a_queued_run_is_zero_and_keeps_polling(tmp_path):
    progress = run_progress(write_run(tmp_path / "r", "queued"))
    assert progress["fraction"] == 0 and progress["active"] and progress["eta_seconds"] is None
    assert poll_interval(progress["active"]) == 1.0


def test_progress_mid_first_epoch_estimates_eta_from_the_step_rate(tmp_path):
    steps = [{"step": 5, "epoch": 0, "loss": 1.0, "time": 100.0},
             {"step": 10, "epoch": 0, "loss": 0.9, "time": 110.0}]
    progress = run_progress(write_run(tmp_path / "r", "running", steps=steps))
    assert progress["fraction"] == pytest.approx(10 / 40)
    assert progress["eta_seconds"] == pytest.approx(2.0 * 30)  # 2 s per step, 30 steps left


def test_progress_after_an_epoch_uses_epoch_time_and_skips_a_torn_line(tmp_path):
    steps = [{"step": 20, "epoch": 1, "loss": 0.5, "time": 1.0}]
    epochs = [{"epoch": 1, "seconds": 30.0}, {"epoch": 2, "seconds": 50.0}]
    progress = run_progress(
        write_run(tmp_path / "r", "running", epochs=epochs, steps=steps, torn=True))
    assert progress["epoch"] == 2 and progress["fraction"] == pytest.approx(0.5)
    # The median epoch after the first (which traced the graph): 50 s, two epochs left.
    assert progress["eta_seconds"] == pytest.approx(50.0 * 4 * 0.5)
    assert format_eta(progress["eta_seconds"]) == "1m 40s"


def test_a_running_run_whose_process_died_reads_as_failed_and_stops_polling(tmp_path):
    progress = run_progress(write_run(tmp_path / "r", "running", pid=2**22 + 7))
    assert progress["state"] == "failed" and not progress["active"]
    assert "resume" in progress["message"]
    assert poll_interval(progress["active"]) is None
    assert can_resume("failed") and can_resume("stopped")
    assert not can_resume("finished") and not can_resume("running")


def test_finished_run_is_complete_even_if_stopped_early_by_patience(tmp_path):
    epochs = [{"epoch": 1, "seconds": 3.0}]
    progress = run_progress(write_run(tmp_path / "r", "finished", epochs=epochs))
    assert progress["fraction"] == 1.0 and not progress["active"]


def test_format_eta():
    assert format_eta(None) == "estimating…"
    assert format_eta(59.9) == "59s"
    assert format_eta(3725) == "62m 05s"


def test_progress_is_not_full_while_the_last_validation_runs(tmp_path):
    steps = [{"step": 40, "epoch": 3, "loss": 0.5, "time": 1.0}]
    epochs = [{"epoch": n, "seconds": 10.0} for n in (1, 2, 3)]
    progress = run_progress(
        write_run(tmp_path / "r", "running", epochs=epochs, steps=steps))
    assert progress["fraction"] == 0.99 and progress["eta_seconds"] > 0


def test_eta_leaves_out_the_first_epoch_that_traced_the_graph(tmp_path):
    # Epoch 1 took 60 s (tracing), the next ones 2 s (one slow outlier among them).
    epochs = [{"epoch": 1, "seconds": 60.0}, {"epoch": 2, "seconds": 2.0},
              {"epoch": 3, "seconds": 9.0}, {"epoch": 4, "seconds": 2.0}]
    steps = [{"step": 40, "epoch": 3, "loss": 0.5, "time": 1.0}]
    progress = run_progress(write_run(tmp_path / "r", "running", epochs=epochs, steps=steps,
                                      total=10))
    assert progress["fraction"] == pytest.approx(0.4)
    assert progress["eta_seconds"] == pytest.approx(2.0 * 6)  # not the mean 18.25 s x 6


def test_eta_after_the_first_epoch_only_comes_from_the_second_epochs_step_rate(tmp_path):
    epochs = [{"epoch": 1, "seconds": 60.0}]
    first = [{"step": 10, "epoch": 0, "loss": 1.0, "time": 50.0}]
    progress = run_progress(write_run(tmp_path / "a", "running", epochs=epochs, steps=first))
    assert progress["eta_seconds"] is None  # "estimating…", not 60 s x 3
    second = first + [{"step": 12, "epoch": 1, "loss": 1.0, "time": 61.0},
                      {"step": 16, "epoch": 1, "loss": 1.0, "time": 63.0}]
    progress = run_progress(write_run(tmp_path / "b", "running", epochs=epochs, steps=second))
    assert progress["eta_seconds"] == pytest.approx(0.5 * (40 - 16))


def test_few_steps_per_epoch_warn_in_the_progress_message(tmp_path):
    progress = run_progress(write_run(tmp_path / "r", "running", steps_per_epoch=2,
                                      batch_size=8))
    assert progress["warning"].startswith("Only 2 training steps per epoch (batch size 8)")
    assert "Lower the batch size" in progress["message"]
    assert run_progress(write_run(tmp_path / "ok", "running"))["warning"] is None
    assert few_steps_warning(12) is None and few_steps_warning(0) is None
    assert "(10 training images at batch size 4)" in few_steps_warning(2, 10, 4)
    assert few_steps_warning(1).startswith("Only 1 training step per epoch:")
    # Batch size 1 cannot be lowered: the warning does not ask for it.
    at_one = few_steps_warning(8, 8, 1)
    assert "Lower the batch size" not in at_one and "Add images" in at_one


def budget_plans(seconds, trace_seconds, budget_min=3.0, epochs=30, checkpoint=0.0):
    """The run's planned epochs after each epoch of `seconds` (validation included), each
    followed by a checkpoint of `checkpoint` seconds."""
    config = SimpleNamespace(time_budget_min=budget_min, epochs=epochs)
    state = {"epoch": 0, "train_seconds": 0.0, "plateau": Plateau().state()}
    plan, plans = EpochPlan(config, state, steps_per_epoch=10), []
    for duration in seconds:
        state["epoch"] += 1
        state["train_seconds"] += duration + checkpoint
        plan.epoch_ended(0.5, duration, trace_seconds)
        plans.append(plan.epochs())
    return plans


def test_the_budget_plan_does_not_jump_once_the_tracing_epoch_is_past():
    # 3 min budget; epoch 1 took 20 s of which 18 s were tracing; epochs then take 2 s.
    assert budget_plans([20.0, 2.0, 2.0], trace_seconds=18.0) == [30, 30, 30]
    assert budget_plans([20.0, 2.0], trace_seconds=None) == [9, 30]  # tracing taken whole
    # 30 s budget: 1 + ceil(9.5 / 2) after the first; then 2.5 s cycles say 5, within a fifth.
    assert budget_plans([20.0, 2.0, 2.0, 2.0], 18.0, budget_min=0.5, checkpoint=0.5) == [6] * 4


def test_a_run_that_reaches_its_planned_end_with_budget_left_plans_on():
    # 60 s budget: the first epoch's 10 s (after tracing) plan 5; then 9 s epochs move the
    # estimate to 6, within a fifth, until the fifth epoch ends with 4 s left.
    assert budget_plans([20.0, 9.0, 9.0, 9.0, 9.0], trace_seconds=10.0, budget_min=1.0) == [
        5, 5, 5, 5, 6]


def test_the_budget_plan_counts_the_checkpoint_between_epochs():
    # 60 s budget of 2 s epochs and 1 s checkpoints: 20 cycles fit, not 30 epochs.
    plans = budget_plans([2.0] * 6, trace_seconds=0.0, budget_min=1.0, checkpoint=1.0)
    assert plans[-1] in (20, 21) and len(set(plans[1:])) == 1


def test_settings_are_warned_before_start_from_the_dataset_size():
    demo = {"images_per_split": {"all": 48}}  # 38 train images after the 20 % held out
    assert planned_steps_warning(demo, 8).startswith(
        "Only 4 training steps per epoch (38 training images at batch size 8)")
    assert planned_steps_warning(demo, 2) is None  # 19 steps
    folders = {"images_per_split": {"train": 30, "val": 10}}
    assert "(30 training images at batch size 4)" in planned_steps_warning(folders, 4)
    assert planned_steps_warning({"images_per_split": {"all": 10}}, 16).startswith(
        "8 training images are fewer than the batch size 16")
    assert planned_steps_warning({}, 8) is None  # a dataset the doctor rejected
