"""Starting, resuming and stopping runs: one run at a time per workspace.

The trainer is always `python -m segcore train` in a process of its own (the app spawns it);
the run store (`segcore.runs`) reads what it writes.
"""

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from segcore import runlock
from segcore.errors import RunError
from segcore.runs import (
    ACTIVE,
    STOP_FILE,
    create_run,
    list_runs,
    read_status,
    run_dir,
    write_status,
)
from segcore.workspace import runs_dir, safe_name


def active_run(workspace):
    """The run that is queued or running in this workspace, or None."""
    for run in list_runs(workspace):
        if run.state in ACTIVE:
            return run
    return None


@contextlib.contextmanager
def start_lock(workspace):
    """Serializes run starts across processes and sessions (two Start clicks: one run); held
    also while a run or dataset is renamed or deleted (`segcore.manage`)."""
    lock_path = runs_dir(workspace) / ".start.lock"
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _refuse_if_busy(workspace):
    """Raises RunError while a run is queued or training in this workspace."""
    running = active_run(workspace)
    holder = runlock.workspace_holder(runs_dir(workspace))
    if running is not None or holder is not None:
        name, state = (running.run_id, running.state) if running else (holder, "running")
        raise RunError(f"Run {name} is {state}; stop it or wait for it to finish before "
                       "starting another (one run at a time on one machine).")


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
    write_status(path, **runlock.identity(process.pid))
    return process


def start_run(workspace, config, name=None):
    """Validates `config`, creates a run and trains it in a background process.

    Args:
        name: the run's optional name, shown beside its id.

    Returns:
        The run id.

    Raises:
        RunError: another run is active in this workspace (one run at a time per machine).
    """
    config.validate()
    name = safe_name(name, "run name") if name else None
    with start_lock(workspace):
        _refuse_if_busy(workspace)
        path = create_run(workspace, config, name=name)
        _spawn(workspace, path)
    return path.name


def resume_run(workspace, run):
    """Continues a stopped or failed run from its last checkpoint in a background process."""
    path = run_dir(workspace, run)
    with start_lock(workspace):
        _refuse_if_busy(workspace)
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
    status = read_status(path)
    if status.get("state") not in ACTIVE:
        return status.get("state")  # nothing to stop: leave no STOP file behind
    (path / STOP_FILE).touch()
    pid = status.get("pid")
    # A queued process may not have its handler yet; it reads the STOP file at its first step.
    # Only the trainer itself is signalled: its lock is held and the PID started when it did.
    if (status.get("state") == "running" and runlock.run_alive(path)
            and runlock.same_process(pid, status.get("pid_start"))):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and read_status(path).get("state") in ACTIVE:
        time.sleep(0.2)
    return read_status(path).get("state")
