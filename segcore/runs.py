"""The run store: every run is a folder under `<workspace>/runs/`; the disk is the truth.

Any process (the page, the CLI, a restarted server) rebuilds a run's state from its folder.
"""

import contextlib
import datetime as dt
import fcntl
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from segcore.errors import RunError
from segcore.fileio import read_json, read_jsonl, write_json_atomic
from segcore.workspace import runs_dir

ACTIVE = ("queued", "running")
FINAL = ("finished", "stopped", "failed")
STOP_FILE = "STOP"


def now():
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class RunInfo:
    """A run as listed: id, folder, status dict, and the headline figures."""

    run_id: str
    path: Path
    status: dict
    config: dict

    @property
    def state(self):
        return self.status.get("state", "unknown")

    @property
    def best_mean_iou(self):
        return self.status.get("best_mean_iou")


def new_run_id(model):
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{model}-{secrets.token_hex(2)}"


def run_dir(workspace, run):
    """Resolves a run id or a path to an existing run folder."""
    candidate = Path(run)
    if not candidate.is_dir():
        candidate = runs_dir(workspace) / str(run)
    if "/" in str(run) and not Path(run).is_dir():
        raise RunError(f"Run {run!r} not found.")
    if not (candidate / "config.json").is_file():
        raise RunError(f"Run {run!r} not found in {runs_dir(workspace)}.")
    return candidate.resolve()


def _pid_alive(pid, host=None):
    """True when `pid` runs on this host and is not a zombie."""
    if not pid:
        return False
    if host and host != socket.gethostname():
        return True  # trained elsewhere: trust its status file
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{int(pid)}/stat") as handle:
            return handle.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def write_status(path, **fields):
    """Merges `fields` into `status.json`, atomically."""
    status = read_json(Path(path) / "status.json", {}) or {}
    status.update(fields, updated=now())
    write_json_atomic(Path(path) / "status.json", status)
    return status


def read_status(path):
    """Reads `status.json`; an active run whose process is gone reads as failed."""
    status = read_json(Path(path) / "status.json", None)
    if status is None:
        return {"state": "failed", "message": "status.json is missing or unreadable."}
    if status.get("state") in ACTIVE and not _pid_alive(status.get("pid"), status.get("host")):
        status = dict(status)
        status["state"] = "failed"
        status["message"] = (
            "The training process ended without finishing (killed or crashed); "
            "resume it to continue from the last checkpoint."
        )
    return status


def read_metrics(path):
    """Returns (epoch records, step records) from `metrics.jsonl`, tolerating a torn last line.

    After a crash and resume an epoch or step can appear twice: the later record wins.
    """
    epochs, steps = {}, {}
    for record in read_jsonl(Path(path) / "metrics.jsonl"):
        if record.get("kind") == "epoch" and "epoch" in record:
            epochs[record["epoch"]] = record
        elif record.get("kind") == "step" and "step" in record:
            steps[record["step"]] = record
    return [epochs[k] for k in sorted(epochs)], [steps[k] for k in sorted(steps)]


def read_config(path):
    return read_json(Path(path) / "config.json", {}) or {}


def list_runs(workspace):
    """All runs, newest first."""
    folder = runs_dir(workspace)
    runs = []
    for path in sorted(folder.iterdir(), reverse=True):
        if path.is_dir() and (path / "config.json").is_file():
            runs.append(RunInfo(path.name, path, read_status(path), read_config(path)))
    return runs


def active_run(workspace):
    """The run that is queued or running in this workspace, or None."""
    for run in list_runs(workspace):
        if run.state in ACTIVE:
            return run
    return None


@contextlib.contextmanager
def _start_lock(workspace):
    """Serializes run starts across processes and sessions (two Start clicks: one run)."""
    lock_path = runs_dir(workspace) / ".start.lock"
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def create_run(workspace, config, run_id=None):
    """Creates a run folder with its config and a queued status; returns its path."""
    run_id = run_id or new_run_id(config.model)
    path = runs_dir(workspace) / run_id
    path.mkdir(parents=False, exist_ok=False)
    write_json_atomic(path / "config.json", {"config": config.to_json(), "run_id": run_id})
    write_status(path, state="queued", created=now(), epoch=0, epochs=config.epochs)
    return path


def _spawn(workspace, path):
    """Starts `python -m segcore train --resume RUN` detached, output into train.log."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
    with open(path / "train.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "segcore", "--workspace", str(workspace), "train",
             "--resume", path.name],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=env, cwd=Path(__file__).resolve().parent.parent,
        )
    write_status(path, pid=process.pid, host=socket.gethostname())
    return process


def start_run(workspace, config):
    """Validates `config`, creates a run and trains it in a background process.

    Returns:
        The run id.

    Raises:
        RunError: another run is active in this workspace (one run at a time per machine).
    """
    config.validate()
    with _start_lock(workspace):
        running = active_run(workspace)
        if running is not None:
            raise RunError(
                f"Run {running.run_id} is {running.state}; stop it or wait for it to finish "
                "before starting another (one run at a time on one machine)."
            )
        path = create_run(workspace, config)
        _spawn(workspace, path)
    return path.name


def resume_run(workspace, run):
    """Continues a stopped or failed run from its last checkpoint in a background process."""
    path = run_dir(workspace, run)
    with _start_lock(workspace):
        running = active_run(workspace)
        if running is not None:
            raise RunError(f"Run {running.run_id} is {running.state}; only one run at a time.")
        state = read_status(path).get("state")
        if state == "finished":
            raise RunError(f"Run {path.name} has finished; start a new run instead.")
        (path / STOP_FILE).unlink(missing_ok=True)
        write_status(path, state="queued", message="")
        _spawn(workspace, path)
    return path.name


def stop_run(workspace, run, timeout=0.0):
    """Asks a run to stop after its current step (STOP file, then SIGTERM as a fallback).

    Args:
        timeout: seconds to wait for the run to reach a final state (0: do not wait).

    Returns:
        The run's state after the request (or after waiting).
    """
    path = run_dir(workspace, run)
    (path / STOP_FILE).touch()
    status = read_status(path)
    pid = status.get("pid")
    # A queued process may not have its handler yet; it reads the STOP file at its first step.
    if status.get("state") == "running" and _pid_alive(pid, status.get("host")):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(int(pid), signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and read_status(path).get("state") in ACTIVE:
        time.sleep(0.2)
    return read_status(path).get("state")
