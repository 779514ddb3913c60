"""Who is training: flocks that the training process holds for its whole life.

`<workspace>/runs/.train.lock` makes training one run at a time per workspace, and
`<run>/.lock` one process per run. The kernel drops a flock when its process dies however it
dies, so "is this run alive?" is "is its lock held?": no PID is trusted on its own (a PID can
be reused by another program after a crash). A PID is signalled only when its start time is
the one the trainer recorded.
"""

import contextlib
import fcntl
import os
import socket
import time
from pathlib import Path

from segcore.errors import RunError

WORKSPACE_LOCK = ".train.lock"
RUN_LOCK = ".lock"
# Probes hold a lock for microseconds; a trainer retries this long before giving up.
ACQUIRE_SECONDS = 3.0


def process_start(pid):
    """The start time of process `pid` in clock ticks since boot, or None (gone, no /proc)."""
    try:
        with open(f"/proc/{int(pid)}/stat") as handle:
            fields = handle.read().rsplit(") ", 1)[1].split()
    except (OSError, ValueError, IndexError, TypeError):
        return None
    if fields[0] == "Z":
        return None
    return int(fields[19])


def identity(pid=None):
    """The fields that name a trainer process in `status.json`."""
    pid = pid or os.getpid()
    return {"pid": pid, "pid_start": process_start(pid), "host": socket.gethostname()}


def same_process(pid, pid_start):
    """True when `pid` is alive and is the very process that recorded `pid_start`."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or pid_start is None:
        return False
    return process_start(pid) == pid_start


def is_held(path):
    """True when some process holds the flock on `path` (a missing file: nobody)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False


def run_alive(run_path):
    return is_held(Path(run_path) / RUN_LOCK)


def workspace_holder(runs_folder):
    """The id of the run training in this workspace, or None when none is."""
    path = Path(runs_folder) / WORKSPACE_LOCK
    if not is_held(path):
        return None
    try:
        return path.read_text(encoding="utf-8").strip() or "another run"
    except OSError:
        return "another run"


@contextlib.contextmanager
def idle_run(run_path):
    """Holds the run's lock while its folder is renamed or deleted, so no trainer takes the
    run meanwhile (a `train --resume` then finds the lock held, or the folder gone).

    Raises:
        RunError: at once, when a trainer holds the lock (the run is training).
    """
    run_path = Path(run_path)
    try:
        fd = os.open(run_path / RUN_LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as error:
        raise RunError(f"Cannot open the lock {run_path / RUN_LOCK}: {error.strerror}.") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunError(f"Run {run_path.name} is training; stop it first (or wait for it to "
                           "finish).") from None
        yield
    finally:
        os.close(fd)


def _acquire(path, refusal):
    """Opens `path` and takes its exclusive flock, retrying briefly; raises RunError if held."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as error:
        raise RunError(f"Cannot open the lock {path}: {error.strerror}.") from None
    deadline = time.monotonic() + ACQUIRE_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise RunError(refusal()) from None
            time.sleep(0.05)


class TrainerLock:
    """The locks of one training process: the workspace's, then its run's.

    Usage:
        lock = TrainerLock(runs_folder)
        lock.hold_workspace()         # before creating a run folder: two starts, one run
        lock.hold_run(run_path)       # before reading or writing its checkpoint
        ...
        lock.release()
    """

    def __init__(self, runs_folder):
        self.runs_folder = Path(runs_folder)
        self._fds = []

    def hold_workspace(self):
        path = self.runs_folder / WORKSPACE_LOCK
        fd = _acquire(path, lambda: (
            f"Run {workspace_holder(self.runs_folder) or '(another)'} is training in this "
            "workspace; stop it or wait for it to finish (one run at a time on one machine)."))
        self._fds.append(fd)
        return self

    def hold_run(self, run_path):
        """Takes the run's lock and writes the run id into the workspace lock for readers."""
        run_path = Path(run_path)
        fd = _acquire(run_path / RUN_LOCK, lambda: (
            f"Run {run_path.name} is being trained by another process; only one at a time."))
        self._fds.append(fd)
        if len(self._fds) > 1:
            os.ftruncate(self._fds[0], 0)
            os.pwrite(self._fds[0], run_path.name.encode(), 0)
        return self

    def release(self):
        for fd in reversed(self._fds):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
