"""The checkpoint commit under kills: at every instant of a commit, and at random instants.

After each kill the run folder must hold one consistent checkpoint: `best.keras` scores what
the status says, and a resume continues exactly where that checkpoint left off (the finished
run equals one that was never interrupted).
"""

import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest

from helpers import REPO
from segcore import runs
from segcore.errors import RunError
from segcore.training import checkpoint, loop, reporting
from segcore.training.config import RunConfig

TINY = {"depth": 2, "base_filters": 8}
POINTS = ("arrays", "last", "best", "state", "linked", "switched", "cleaned", "status")


class Killed(BaseException):
    """Stands for SIGKILL in-process: nothing after it runs (only lock release in finally)."""


def tiny_config(data, **overrides):
    values = dict(data=str(data), model="unet", hparams=dict(TINY), img_size=(32, 32), epochs=3,
                  batch_size=4, seed=3, log_every=2, lr=1e-2)
    values.update(overrides)
    return RunConfig(**values)


def weights(path):
    return keras.saving.load_model(path, safe_mode=True).get_weights()


def assert_same_weights(a, b):
    for x, y in zip(weights(a), weights(b)):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-6)


def val_mean_iou(config, model_path):
    """The training-size validation mean IoU of a saved model, as the loop computes it."""
    trainer = loop.Trainer(config, None)
    trainer.model.set_weights(weights(model_path))
    mean_iou = trainer.validate()[1]["mean_iou"]
    return mean_iou if np.isfinite(mean_iou) else 0.0


@pytest.fixture(scope="module")
def reference(tmp_path_factory, demo_data):
    """A run that was never interrupted."""
    root = tmp_path_factory.mktemp("reference")
    config = tiny_config(demo_data)
    path = runs.create_run(root, config)
    assert loop.train(config, path, stream=io.StringIO()) == "finished"
    return path


def assert_consistent(config, path):
    """What a killed run must show: status and best.keras agree; no half-written state."""
    status = runs.read_status(path)
    assert status["state"] in ("failed", "stopped", "finished"), status
    found = checkpoint.committed(path)
    if found is None:
        assert not (path / "best.keras").is_file()
        return
    assert status["best_mean_iou"] == found.state["best_mean_iou"]
    if found.has_best:
        assert val_mean_iou(config, path / "best.keras") == pytest.approx(
            status["best_mean_iou"], abs=1e-6)


def kill_at(monkeypatch, point, commit_number):
    """Makes the `commit_number`-th commit (or the status write after it) die at `point`."""
    seen = {"commits": 0}
    real_commit = checkpoint.commit

    def counting_commit(*args, **kwargs):
        seen["commits"] += 1
        return real_commit(*args, **kwargs)

    def reached(step):
        if seen["commits"] == commit_number and step == point:
            raise Killed(point)

    real_status = reporting.RunReport.status

    def status(self, **fields):  # the status write that follows the commit
        if seen["commits"] == commit_number and point == "status":
            raise Killed(point)
        return real_status(self, **fields)

    monkeypatch.setattr(checkpoint, "commit", counting_commit)
    monkeypatch.setattr(checkpoint, "_reached", reached)
    monkeypatch.setattr(reporting.RunReport, "status", status)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["first-epoch", "second-epoch", "stop-in-epoch-2"])
@pytest.mark.parametrize("point", POINTS)
def test_a_kill_at_any_instant_of_a_commit_resumes_exactly(
        workspace, demo_data, reference, monkeypatch, scenario, point):
    config = tiny_config(demo_data)
    path = runs.create_run(workspace, config)
    commit_number = {"first-epoch": 1, "second-epoch": 2, "stop-in-epoch-2": 2}[scenario]
    if scenario == "stop-in-epoch-2":
        steps = {"n": 0}

        def stop_after_two_steps_of_epoch_two(self):
            steps["n"] += 1
            return steps["n"] == 4 + 2

        monkeypatch.setattr(loop.StopRequest, "__bool__", stop_after_two_steps_of_epoch_two)
        commit_number = 2
    kill_at(monkeypatch, point, commit_number)
    with pytest.raises(Killed):
        loop.train(config, path, stream=io.StringIO())
    monkeypatch.undo()
    assert_consistent(config, path)
    assert loop.train(config, path, resume=True, stream=io.StringIO()) == "finished"
    assert_same_weights(reference / "last.keras", path / "last.keras")
    assert_same_weights(reference / "best.keras", path / "best.keras")
    epochs, _ = runs.read_metrics(path)
    records = [r for r in map(json.loads, (path / "metrics.jsonl").read_text().splitlines())
               if r["kind"] == "epoch"]
    assert [r["epoch"] for r in records] == [1, 2, 3]  # none twice, none lost
    assert [e["val_mean_iou"] for e in epochs] == pytest.approx(
        [e["val_mean_iou"] for e in runs.read_metrics(reference)[0]], abs=1e-9)
    assert runs.read_status(path)["best_mean_iou"] == runs.read_status(reference)["best_mean_iou"]
    leftovers = [p.name for p in (path / "ckpt").iterdir()]
    assert sorted(leftovers) == ["current", os.readlink(path / "ckpt" / "current")]
    assert not [p for p in path.rglob("*") if "tmp" in p.name]


def test_a_resume_refuses_a_trained_run_whose_checkpoint_is_gone(workspace, demo_data):
    config = tiny_config(demo_data, epochs=2)
    path = runs.create_run(workspace, config)
    loop.train(config, path, stream=io.StringIO())
    best_before = (path / "best.keras").read_bytes()
    runs.write_status(path, state="stopped")
    current = path / "ckpt" / os.readlink(path / "ckpt" / "current")
    (current / "state.npz").unlink()
    with pytest.raises(RunError, match=r"state.npz is missing"):
        loop.train(config, path, resume=True, stream=io.StringIO())
    (path / "ckpt" / "current").unlink()
    with pytest.raises(RunError, match=r"ckpt/current is missing although the run has trained"):
        loop.train(config, path, resume=True, stream=io.StringIO())
    # Nothing was restarted or overwritten: the generation and its best model are still there.
    assert (current / "best.keras").read_bytes() == best_before
    assert len(runs.read_metrics(path)[0]) == 2


def reshape_first_array(path):
    with np.load(path) as stored:
        arrays = dict(stored)
    arrays["w0"] = np.zeros(3, np.float32)
    np.savez(path, **arrays)


def set_share(path, share):
    record = json.loads(path.read_text())
    record["state"]["prior_correction"] = share
    path.write_text(json.dumps(record))


@pytest.mark.parametrize("damage, message", [
    (lambda gen: (gen / "state.json").write_text("garbage"), "state.json: unreadable"),
    (lambda gen: set_share(gen / "state.json", "half"), "'prior_correction'"),
    (lambda gen: set_share(gen / "state.json", 7.5), "'prior_correction'"),
    (lambda gen: (gen / "state.json").write_text('{"format": 1, "state": {"epoch": "x"}}'),
     "'epoch'"),
    (lambda gen: (gen / "state.json").write_text('{"format": 2, "state": {}}'), "'format'"),
    (lambda gen: (gen / "state.npz").write_bytes(b"PK\x03\x04 torn"), "state.npz: damaged"),
    (lambda gen: reshape_first_array(gen / "state.npz"), "does not fit"),
])
def test_damaged_checkpoint_files_refuse_a_resume_naming_the_file(
        workspace, demo_data, damage, message):
    config = tiny_config(demo_data, epochs=1)
    path = runs.create_run(workspace, config)
    loop.train(config, path, stream=io.StringIO())
    runs.write_status(path, state="stopped")
    damage(path / "ckpt" / os.readlink(path / "ckpt" / "current"))
    with pytest.raises(RunError, match=message):
        loop.train(config, path, resume=True, stream=io.StringIO())


def stop_at_the_end_of_epoch_two(monkeypatch):
    calls = {"n": 0}  # StopRequest is asked after each of 4 steps and at each epoch's end

    def stop(self):
        calls["n"] += 1
        return calls["n"] == 10

    monkeypatch.setattr(loop.StopRequest, "__bool__", stop)


def test_a_legacy_checkpoint_is_migrated_and_resumes(
        workspace, demo_data, reference, monkeypatch):
    """Runs written by segcore 0.1 (ckpt/state.* and real best/last files) still resume."""
    config = tiny_config(demo_data)
    path = runs.create_run(workspace, config)
    stop_at_the_end_of_epoch_two(monkeypatch)
    assert loop.train(config, path, stream=io.StringIO()) == "stopped"
    monkeypatch.undo()
    gen = path / "ckpt" / os.readlink(path / "ckpt" / "current")
    record = json.loads((gen / "state.json").read_text())
    for name in ("best.keras", "last.keras", "best_confusion.json"):
        (path / name).unlink()
        shutil.copy(gen / name, path / name)
    shutil.copy(gen / "state.npz", path / "ckpt" / "state.npz")
    (path / "ckpt" / "state.json").write_text(json.dumps(record["state"]))
    (path / "ckpt" / "current").unlink()
    shutil.rmtree(gen)
    assert loop.train(config, path, resume=True, stream=io.StringIO()) == "finished"
    assert_same_weights(reference / "last.keras", path / "last.keras")
    assert not (path / "ckpt" / "state.npz").exists() and os.path.islink(path / "best.keras")


def test_a_torn_metrics_line_and_old_temp_files_are_gone_after_a_resume(
        workspace, demo_data, reference, monkeypatch):
    config = tiny_config(demo_data)
    path = runs.create_run(workspace, config)
    stop_at_the_end_of_epoch_two(monkeypatch)
    assert loop.train(config, path, stream=io.StringIO()) == "stopped"
    monkeypatch.undo()
    with open(path / "metrics.jsonl", "a") as handle:
        handle.write('{"kind": "step", "step": 9, "ep')  # a kill in the middle of a line
    old = time.time() - 3600
    for name in (".status.json.abc123.tmp", "best.tmp.keras"):
        (path / name).write_text("left by a kill")
        os.utime(path / name, (old, old))
    assert loop.train(config, path, resume=True, stream=io.StringIO()) == "finished"
    lines = (path / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line whole
    assert [r["epoch"] for r in records if r["kind"] == "epoch"] == [1, 2, 3]
    assert not [p for p in path.rglob("*") if "tmp" in p.name]
    assert_same_weights(reference / "last.keras", path / "last.keras")


KILLER = textwrap.dedent("""
    import os, signal, sys
    from segcore.cli import main
    from segcore.training import checkpoint
    point, number = sys.argv[1], int(sys.argv[2])
    seen = {"n": 0}
    real = checkpoint.commit
    def commit(*args, **kwargs):
        seen["n"] += 1
        return real(*args, **kwargs)
    def reached(step):
        if step == point and seen["n"] == number:
            os.kill(os.getpid(), signal.SIGKILL)
    checkpoint.commit, checkpoint._reached = commit, reached
    sys.exit(main(sys.argv[3:]))
""")


def cli(*args, workspace):
    return subprocess.run([sys.executable, "-m", "segcore", "--workspace", str(workspace),
                           *map(str, args)], capture_output=True, text=True, cwd=REPO)


def train_flags(data, epochs=3):
    return ["--data", data, "--model", "unet", "--depth", 2, "--base-filters", 8, "--img-size",
            "32x32", "--epochs", epochs, "--batch-size", 4, "--seed", 3, "--lr", 0.01]


@pytest.mark.slow
def test_real_sigkills_inside_commits_and_at_random_instants(workspace, demo_data, reference):
    """SIGKILL in a real process: twice inside a commit, then at random instants."""
    args = ["--workspace", workspace, "train", *train_flags(demo_data, epochs=30)]
    killed = subprocess.run([sys.executable, "-c", KILLER, "switched", "2", *map(str, args)],
                            cwd=REPO, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (run,) = runs.list_runs(workspace)
    config = RunConfig.from_json(run.config["config"])
    assert runs.read_status(run.path)["state"] == "failed"
    assert checkpoint.committed(run.path).state["epoch"] == 2
    assert_consistent(config, run.path)
    resume = ["--workspace", workspace, "train", "--resume", run.run_id]
    killed = subprocess.run([sys.executable, "-c", KILLER, "best", "1", *map(str, resume)],
                            cwd=REPO, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert checkpoint.committed(run.path).state["epoch"] == 2
    assert_consistent(config, run.path)
    rng = random.Random(7)
    for _ in range(4):
        done = len(runs.read_metrics(run.path)[0])
        process = subprocess.Popen(
            [sys.executable, "-m", "segcore", *map(str, resume)], cwd=REPO,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while len(runs.read_metrics(run.path)[0]) <= done and process.poll() is None:
            time.sleep(0.05)  # training is under way: now kill it anywhere within an epoch or two
        time.sleep(rng.uniform(0.0, 0.6))
        process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL
        assert_consistent(config, run.path)
    result = cli("train", "--resume", run.run_id, workspace=workspace)
    assert result.returncode == 0, result.stderr
    epochs, _ = runs.read_metrics(run.path)
    assert [e["epoch"] for e in epochs] == list(range(1, 31))
    raw = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in raw if r["kind"] == "epoch"] == list(range(1, 31))
    assert runs.read_status(run.path)["best_mean_iou"] == pytest.approx(
        max(e["val_mean_iou"] for e in epochs), abs=1e-12)
    assert_consistent(config, run.path)
