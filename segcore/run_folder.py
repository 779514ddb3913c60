"""Run folders: where a run lives, its name, and whether a command may write into it.

A writer never follows a link out of the workspace's `runs/` folder, and never writes a file
where the folder holds a folder (or the reverse): a damaged or hostile folder is refused with
one sentence instead of being overwritten.
"""

import datetime as dt
import os
import secrets
from pathlib import Path

from segcore.errors import RunError, SegcoreError
from segcore.fileio import write_text_atomic
from segcore.workspace import runs_dir, safe_name

STOP_FILE = "STOP"
NAME_FILE = "name.txt"  # the run's optional name: its own file, which no trainer writes


def run_label(run_id, name):
    """How a run is shown in pickers and listings: its id, and its name beside it if any."""
    return f"{run_id} · {name}" if name else run_id


def read_run_name(path):
    """The run's name from `<run>/name.txt`, or None (no name, or a damaged file)."""
    try:
        text = (Path(path) / NAME_FILE).read_text(encoding="utf-8")
        return safe_name(text, "run name")
    except (OSError, UnicodeDecodeError, SegcoreError):
        return None


def name_run(workspace, run, name):
    """Sets (or with an empty `name`, clears) a run's name; its id and folder stay as they are.

    The name lives in its own file, written atomically, that the trainer never writes, so a
    run may be named while it trains.

    Args:
        workspace: the workspace root.
        run: a run id of this workspace.
        name: 1-64 letters, digits, '.', '_' or '-' (`safe_name`), or "" to clear the name.

    Returns:
        The name now set, or None.

    Raises:
        ConfigError: a name that `safe_name` refuses. RunError: no such run.
    """
    path = run_dir(workspace, run)
    file = path / NAME_FILE
    if not (name or "").strip():
        file.unlink(missing_ok=True)
        return None
    name = safe_name(name, "run name")
    write_text_atomic(file, name + "\n")
    return name


def new_run_id(model):
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{model}-{secrets.token_hex(2)}"


def run_dir(workspace, run, write=True):
    """Resolves a run id or a path to an existing run folder.

    Args:
        workspace: the workspace root.
        run: a run id (a folder of `<workspace>/runs/`) or a path to a run folder.
        write: the caller writes into the folder, so it must lie in this workspace's `runs/`
            once links are followed, and hold no link leading out of it: the workspace is
            sealed. Readers (evaluate, predict) pass False to open a run folder anywhere.

    Returns:
        The resolved `Path` of the run folder.

    Raises:
        RunError: no such run, or (with `write`) a run outside the workspace.
    """
    folder = runs_dir(workspace)
    # A plain id names a run of this workspace even when the current folder has one alike.
    candidate = folder / str(run)
    if "/" in str(run) or str(run) in (".", "..") or not candidate.is_dir():
        candidate = Path(run)
    if "/" in str(run) and not candidate.is_dir():
        raise RunError(f"Run {run!r} not found.")
    # Every folder of runs/ is a run, also one whose config.json is gone (readers name it);
    # a folder given by path must hold a config.json to be taken for a run.
    listed = candidate == folder / str(run) and not str(run).startswith(".")
    if not (candidate.is_dir() if listed else is_run_folder(candidate)):
        raise RunError(f"Run {run!r} not found in {folder}.")
    resolved = candidate.resolve()
    if write:
        _check_sealed(folder, candidate, resolved)
        _check_kinds(resolved)
    return resolved


def _check_sealed(folder, candidate, resolved):
    """Raises RunError unless writing into `resolved` stays inside the runs folder."""
    if resolved.parent != folder.resolve():
        where = "links to" if candidate.is_symlink() else "is"
        raise RunError(
            f"{candidate} {where} {resolved}, outside {folder}: commands write only into runs "
            "of their own workspace, so copy the run folder into it (or use --workspace)."
        )
    for parent, dirs, files in os.walk(resolved):
        for name in dirs + files:
            entry = Path(parent) / name
            if entry.is_symlink() and not entry.resolve().is_relative_to(resolved):
                raise RunError(
                    f"{entry} links to {entry.resolve()}, outside its run folder; nothing is "
                    "written through such links, so replace the link with the file itself."
                )


# What writers expect each entry of a run folder to be (a damaged folder may swap them).
_FILES = ("config.json", "status.json", "metrics.jsonl", "train.log", "best.keras", "last.keras",
          STOP_FILE, NAME_FILE)
_FOLDERS = ("ckpt", "tensorboard", "export")


def _check_kinds(path):
    """Raises RunError when a file of the run folder is a folder, or a folder is a file."""
    for name in _FILES:
        if (path / name).is_dir():
            raise RunError(f"{path / name} is a folder where the run keeps a file; move it "
                           "away so the run can be written again.")
    for name in _FOLDERS:
        if (path / name).exists() and not (path / name).is_dir():
            raise RunError(f"{path / name} is a file where the run keeps a folder; move it "
                           "away so the run can be written again.")


def is_run_folder(path):
    """True for a folder holding a `config.json` entry (a damaged one too: readers name it)."""
    config = Path(path) / "config.json"
    return Path(path).is_dir() and (config.exists() or config.is_symlink())


def can_write(workspace, path):
    """True when `run_dir(workspace, path, write=True)` accepts the run folder `path`."""
    try:
        run_dir(workspace, path, write=True)
    except RunError:
        return False
    return True
