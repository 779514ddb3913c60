"""Renaming and deleting datasets and runs without breaking a reader or a trainer.

A folder is never removed in place: it is first renamed into `<workspace>/.trash/` (one atomic
step on one file system, so a reader sees it whole or not at all), then removed. Nothing a
trainer uses is touched: not a run that is queued or training (its trainer holds `<run>/.lock`),
nor a dataset such a run trains on. Every change is made under `launch.start_lock`, so no run
starts or resumes halfway through it. The user's kept place (`segcore.place`) follows.

A run is renamed by its name (`runs.name_run`): its id stays, as URLs, exports and logs use it.
"""

import os
import secrets
import shutil
from pathlib import Path

from segcore import launch, runlock, runs
from segcore.commands.data import DEMO_NAME
from segcore.errors import DataError, RunError, SegcoreError
from segcore.fileio import read_json_object, write_json_atomic
from segcore.place import follow_place
from segcore.workspace import child_path, datasets_dir, runs_dir

TRASH = ".trash"


def folder_size(path):
    """(files, bytes) under `path`, links counted as themselves and never followed."""
    files = size = 0
    for parent, _, names in os.walk(path):
        for name in names:
            try:
                size += os.lstat(os.path.join(parent, name)).st_size
            except OSError:
                continue  # removed meanwhile
            files += 1
    return files, size


def human_size(size):
    """1234567 -> '1.2 MB'."""
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def dataset_folder(root, name):
    """`<workspace>/datasets/<name>` of a dataset that exists (a link leading out of the
    workspace is refused by `child_path`); DataError otherwise."""
    path = child_path(datasets_dir(root), name, "dataset name")
    if not path.is_dir():
        raise DataError(f"No dataset named {name!r} in {datasets_dir(root)}.")
    return path


def _trains_on(run, folder):
    data = run.config.get("config", {}).get("data") if run.config else None
    return bool(data) and Path(data).resolve() == Path(folder).resolve()


def dataset_runs(root, name):
    """The runs of this workspace that trained (or train) on dataset `name`, newest first."""
    folder = dataset_folder(root, name)
    return [run for run in runs.list_runs(root) if _trains_on(run, folder)]


def _live_users(root, folder):
    """Ids of runs queued or training on `folder`; a trainer whose run cannot be read yet
    (starting) counts too."""
    listed = runs.list_runs(root)
    live = [r.run_id for r in listed if r.state in runs.ACTIVE and _trains_on(r, folder)]
    holder = runlock.workspace_holder(runs_dir(root))
    if holder is not None and holder not in live:
        held = next((r for r in listed if r.run_id == holder), None)
        if held is None or not held.config or _trains_on(held, folder):
            live.append(holder)
    return live


def live_runs(root, name):
    """Ids of the runs queued or training on dataset `name` now (it cannot change meanwhile)."""
    return _live_users(root, dataset_folder(root, name))


def dataset_plan(root, name):
    """What deleting dataset `name` removes, for the confirmation.

    Returns:
        dict: name, path, files, bytes, size (words), runs (ids of runs trained on it: they
        stay; they predict and export without it, scoring needs another copy), live (ids of runs training on it now: deletion is
        refused while there are any), builtin (the demo: refused).
    """
    folder = dataset_folder(root, name)
    files, size = folder_size(folder)
    return {"name": folder.name, "path": str(folder), "files": files, "bytes": size,
            "size": human_size(size), "runs": [r.run_id for r in dataset_runs(root, name)],
            "live": _live_users(root, folder), "builtin": folder.name == DEMO_NAME}


def check_dataset_change(root, name, verb="delete"):
    """Raises unless dataset `name` may be renamed or deleted now; returns its folder.

    Raises:
        DataError: no such dataset, or the built-in demo. RunError: a run trains on it now.
    """
    folder = dataset_folder(root, name)
    if folder.name == DEMO_NAME:
        raise DataError(f"The built-in dataset {DEMO_NAME} cannot be {verb}d: the app and "
                        "`segcore demo` recreate it; upload or import your own data instead.")
    live = _live_users(root, folder)
    if live:
        raise RunError(f"Dataset {folder.name} cannot be {verb}d while run {live[0]} trains "
                       "on it; stop the run first (or wait for it to finish).")
    return folder


def _trash(root, path, kind):
    """Renames `path` into the workspace's trash (atomic), then removes it; a leftover of an
    earlier removal that failed goes too."""
    trash = Path(root) / TRASH
    trash.mkdir(exist_ok=True)
    target = trash / f"{kind}-{path.name}-{secrets.token_hex(4)}"
    try:
        os.rename(path, target)
    except OSError as error:
        raise DataError(f"Cannot move {path} into {trash}: {error.strerror}.") from None
    for entry in trash.iterdir():
        if entry.is_symlink() or not entry.is_dir():
            entry.unlink(missing_ok=True)  # a link is removed, never what it points to
        else:
            shutil.rmtree(entry, ignore_errors=True)


def delete_dataset(root, name):
    """Deletes dataset `name` (its folder, atomically for readers).

    Runs trained on it stay (they predict and export without it; scoring them on it names
    the missing folder). The kept place drops it.

    Returns:
        The `dataset_plan` of what was deleted.

    Raises:
        DataError: no such dataset, or the built-in demo. RunError: a run trains on it now.
    """
    with launch.start_lock(root):
        folder = check_dataset_change(root, name, "delete")
        plan = dataset_plan(root, name)
        _trash(root, folder, "dataset")
    follow_place(root, "dataset", folder.name)
    return plan


def rename_dataset(root, name, new):
    """Renames dataset `name` to `new`; the runs trained on it follow (their config.json names
    the new folder), and so does the kept place.

    Returns:
        The new folder.

    Raises:
        ConfigError: `new` is not a safe name. DataError: no such dataset, the demo, or `new`
        exists. RunError: a run trains on it now.
    """
    with launch.start_lock(root):
        folder = dataset_folder(root, name)
        target = child_path(datasets_dir(root), new, "dataset name")
        if target == folder:
            return folder
        if target.exists() or target.is_symlink():
            raise DataError(f"A dataset named {target.name!r} exists already; pick another name.")
        check_dataset_change(root, name, "rename")
        users = dataset_runs(root, name)
        try:
            os.rename(folder, target)
        except OSError as error:
            raise DataError(f"Cannot rename {folder}: {error.strerror}.") from None
        for run in users:
            _repoint(root, run, target)
    follow_place(root, "dataset", folder.name, target.name)
    return target


def _repoint(root, run, target):
    """Points the run's config.json at the renamed dataset; a damaged or sealed-off run keeps
    its old path (its readers then say the dataset is gone)."""
    try:
        path = runs.run_dir(root, run.run_id, write=True)
        stored = read_json_object(path / "config.json")
        stored["config"]["data"] = str(target)
        write_json_atomic(path / "config.json", stored)
    except (SegcoreError, KeyError, TypeError):
        return


def run_plan(root, run_id):
    """What deleting run `run_id` removes, for the confirmation.

    Returns:
        dict: run_id, name, label, path, files, bytes, size (words), state, dataset (the
        folder name it trained on, or None), live (True while it is queued or training).
    """
    path = _run_folder(root, run_id)
    status = runs.read_status(path)
    try:
        data = runs.read_config(path)["config"].get("data")
    except RunError:
        data = None
    files, size = folder_size(path)
    name = runs.read_run_name(path)
    return {"run_id": path.name, "name": name, "label": runs.run_label(path.name, name),
            "path": str(path), "files": files, "bytes": size, "size": human_size(size),
            "state": status.get("state"), "dataset": Path(data).name if data else None,
            "live": status.get("state") in runs.ACTIVE or runlock.run_alive(path)}


def _run_folder(root, run_id):
    """`<workspace>/runs/<run_id>` of a run of this workspace (a plain id, never a path or a
    link leading out: `child_path` refuses those)."""
    path = child_path(runs_dir(root), str(run_id), "run id")
    if not path.is_dir():
        raise RunError(f"Run {run_id!r} not found in {runs_dir(root)}.")
    return path


def check_run_deletable(root, run_id):
    """Raises RunError unless run `run_id` exists and is neither queued nor training; returns
    its folder."""
    path = _run_folder(root, run_id)
    state = runs.read_status(path).get("state")
    if (state in runs.ACTIVE or runlock.run_alive(path)
            or runlock.workspace_holder(runs_dir(root)) == path.name):
        raise RunError(f"Run {path.name} is {state if state in runs.ACTIVE else 'running'}; "
                       "stop it first (or wait for it to finish).")
    return path


def delete_run(root, run_id):
    """Deletes run `run_id` (its folder, atomically for readers); the kept place drops it.

    Returns:
        The `run_plan` of what was deleted.

    Raises:
        RunError: no such run, or it is queued or training (stop it first).
    """
    with launch.start_lock(root):
        path = check_run_deletable(root, run_id)
        plan = run_plan(root, run_id)
        with runlock.idle_run(path):  # no trainer takes the run while it moves
            _trash(root, path, "run")
    follow_place(root, "run", path.name)
    return plan
