"""One run at a time per workspace, one process per run, and no signal to a stranger."""

import json
import subprocess
import sys
import time

import pytest

from helpers import REPO
from segcore import launch, runlock, runs
from segcore.training.config import RunConfig

TINY_FLAGS = ["--model", "unet", "--depth", 2, "--base-filters", 8, "--img-size", "32x32",
              "--batch-size", 4, "--seed", 3]


def popen_cli(*args, workspace):
    return subprocess.Popen([sys.executable, "-m", "segcore", "--workspace", str(workspace),
                             *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=REPO)


def cli(*args, workspace):
    return subprocess.run([sys.executable, "-m", "segcore", "--workspace", str(workspace),
                           *map(str, args)], capture_output=True, text=True, cwd=REPO)


def finish(processes, timeout=300):
    return [(p.wait(timeout), *p.communicate()) for p in processes]


@pytest.mark.slow
def test_two_cli_trains_started_at_once_make_one_run(workspace, demo_data):
    processes = [popen_cli("train", "--data", demo_data, *TINY_FLAGS, "--epochs", 3,
                           workspace=workspace) for _ in range(2)]
    (rc_a, out_a, err_a), (rc_b, out_b, err_b) = finish(processes)
    assert sorted([rc_a, rc_b]) == [0, 2], (err_a[-500:], err_b[-500:])
    refused = err_a if rc_a == 2 else err_b
    assert "one run at a time" in refused and "Traceback" not in refused
    (run,) = runs.list_runs(workspace)  # the refused start made no folder
    assert run.state == "finished"


@pytest.mark.slow
def test_two_resumes_of_one_run_at_once_train_it_once(workspace, demo_data):
    result = cli("train", "--data", demo_data, *TINY_FLAGS, "--epochs", 1, workspace=workspace)
    assert result.returncode == 0, result.stderr
    (run,) = runs.list_runs(workspace)
    # Make it a stopped run with more epochs to go: its stored config asks for 12.
    info = json.loads((run.path / "config.json").read_text())
    info["config"]["epochs"] = 12
    (run.path / "config.json").write_text(json.dumps(info))
    runs.write_status(run.path, state="stopped")
    processes = [popen_cli("train", "--resume", run.run_id, workspace=workspace)
                 for _ in range(2)]
    (rc_a, _, err_a), (rc_b, _, err_b) = finish(processes)
    assert sorted([rc_a, rc_b]) == [0, 2], (err_a[-500:], err_b[-500:])
    refused = err_a if rc_a == 2 else err_b
    assert run.run_id in refused and "Traceback" not in refused
    lines = (run.path / "metrics.jsonl").read_text().splitlines()
    epochs = [r["epoch"] for r in map(json.loads, lines) if r["kind"] == "epoch"]
    assert epochs == list(range(1, 13))  # one trainer: no interleaved epochs
    assert runs.read_status(run.path)["state"] == "finished"


def test_a_live_cli_run_reads_as_active_before_it_trains(workspace, demo_data):
    """A run whose trainer holds its lock is queued or running, with or without a PID."""
    config = RunConfig(data=str(demo_data))
    path = runs.create_run(workspace, config)
    assert runs.read_status(path)["state"] == "failed"  # nobody holds it: not alive
    with runlock.TrainerLock(runs.runs_dir(workspace)) as lock:
        lock.hold_workspace().hold_run(path)
        assert runs.read_status(path)["state"] == "queued"
        assert runlock.workspace_holder(runs.runs_dir(workspace)) == path.name
        with pytest.raises(Exception, match="one run at a time"):
            launch.start_run(workspace, config)
    assert runs.read_status(path)["state"] == "failed"
    assert runlock.workspace_holder(runs.runs_dir(workspace)) is None


def test_stop_never_signals_a_process_that_is_not_the_trainer(workspace, demo_data):
    """A PID in status.json reused by another program after a crash gets no SIGTERM."""
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        path = runs.create_run(workspace, RunConfig(data=str(demo_data)))
        # The status names the stranger's PID with another start time (the trainer's).
        runs.write_status(path, state="running", pid=stranger.pid,
                          pid_start=runlock.process_start(stranger.pid) - 1)
        assert launch.stop_run(workspace, path.name) == "failed"
        # Even with its own start time: no run lock is held, so it is no trainer.
        runs.write_status(path, state="running", pid_start=runlock.process_start(stranger.pid))
        launch.stop_run(workspace, path.name)
        time.sleep(0.3)
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


@pytest.mark.parametrize("flags", [["--epochs", 100], ["--lr", 50, "--data", "/nonexistent"],
                                   ["--no-hflip"], ["--depth", 3]])
def test_resume_refuses_flags_it_would_ignore(workspace, demo_data, flags):
    path = runs.create_run(workspace, RunConfig(data=str(demo_data)))
    before = sorted(p.name for p in path.iterdir())
    result = cli("train", "--resume", path.name, *flags, workspace=workspace)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert str(flags[0]) in line and "refused" in line
    assert sorted(p.name for p in path.iterdir()) == before


def test_stop_of_a_run_that_is_not_active_leaves_no_stop_file(workspace, demo_data):
    path = runs.create_run(workspace, RunConfig(data=str(demo_data)))
    runs.write_status(path, state="stopped")
    assert launch.stop_run(workspace, path.name) == "stopped"
    assert not (path / runs.STOP_FILE).exists()


def test_a_reader_leaving_early_gets_no_traceback(workspace, demo_data):
    config = RunConfig(data=str(demo_data))
    for index in range(1200):  # over 64 KiB of listing: more than a pipe holds
        runs.create_run(workspace, config, run_id=f"run-{index:04d}")
    result = subprocess.run(
        f"{sys.executable} -m segcore --workspace {workspace} runs | head -1", shell=True,
        capture_output=True, text=True, cwd=REPO)
    assert len(result.stdout.splitlines()) == 1 and "Traceback" not in result.stderr
