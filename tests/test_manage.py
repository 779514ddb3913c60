"""Renaming and deleting datasets and runs, naming runs: refused while a trainer uses them,
atomic for readers, the kept place follows; and the CLI commands over them."""

import shutil

import pytest

from helpers import make_pair_dataset
from segcore import manage, runlock, runs
from segcore.cli import main
from segcore.errors import ConfigError, DataError, RunError
from segcore.place import keep_place, read_place
from segcore.training.config import RunConfig
from segcore.workspace import datasets_dir, runs_dir


@pytest.fixture
def ws(workspace):
    """A workspace with datasets `cells` and `other`, and a finished run on `cells`."""
    for name in ("cells", "other"):
        make_pair_dataset(datasets_dir(workspace) / name, count=3, size=(8, 8), classes=2)
    run = runs.create_run(workspace, RunConfig(data=str(datasets_dir(workspace) / "cells")),
                          name="first")
    runs.write_status(run, state="finished")
    return workspace, run


def training(root, run):
    """Holds the locks a live trainer of `run` holds (the workspace's, then the run's)."""
    runs.write_status(run, state="running")
    return runlock.TrainerLock(runs_dir(root)).hold_workspace().hold_run(run)


def test_a_run_is_not_deleted_while_it_trains_and_goes_whole_afterwards(ws):
    root, run = ws
    keep_place(root, run=run.name, dataset="cells")
    with training(root, run):
        with pytest.raises(RunError, match=f"Run {run.name} is running; stop it first"):
            manage.delete_run(root, run.name)
        assert (run / "config.json").is_file()
        # Its name lives in a file no trainer writes: naming a live run is safe.
        assert runs.name_run(root, run.name, "renamed") == "renamed"
    runs.write_status(run, state="stopped")
    plan = manage.delete_run(root, run.name)
    assert plan["label"] == f"{run.name} · renamed" and plan["files"] >= 3
    assert not run.exists() and not list((root / manage.TRASH).iterdir())
    assert read_place(root) == {"dataset": "cells"}  # the deleted run is dropped, not the rest
    assert runs.list_runs(root) == []


def test_a_dataset_a_live_run_trains_on_is_neither_renamed_nor_deleted(ws):
    root, run = ws
    with training(root, run):
        for change in (lambda: manage.delete_dataset(root, "cells"),
                       lambda: manage.rename_dataset(root, "cells", "cells2")):
            with pytest.raises(RunError, match=f"while run {run.name} trains on it"):
                change()
        assert manage.live_runs(root, "cells") == [run.name]
        assert (datasets_dir(root) / "cells" / "images").is_dir()
        manage.delete_dataset(root, "other")  # another dataset is free
    assert not (datasets_dir(root) / "other").exists()


def test_a_starting_trainer_whose_run_is_unknown_yet_blocks_dataset_changes(ws):
    root, _ = ws
    lock = runlock.TrainerLock(runs_dir(root)).hold_workspace()  # no run folder yet
    try:
        with pytest.raises(RunError, match="while run another run trains on it"):
            manage.delete_dataset(root, "other")
    finally:
        lock.release()


def test_renaming_a_dataset_moves_its_runs_and_the_kept_place_along(ws):
    root, run = ws
    keep_place(root, dataset="cells", run=run.name)
    target = manage.rename_dataset(root, "cells", "cells2")
    assert target == datasets_dir(root) / "cells2" and not (datasets_dir(root) / "cells").exists()
    assert runs.read_config(run)["config"]["data"] == str(target)
    assert read_place(root) == {"dataset": "cells2", "run": run.name}
    assert [r.run_id for r in manage.dataset_runs(root, "cells2")] == [run.name]


def test_deleting_a_dataset_is_atomic_for_readers_and_leaves_its_runs(ws, monkeypatch):
    root, run = ws
    keep_place(root, dataset="cells")
    seen = []
    real_rmtree = shutil.rmtree

    def watch_rmtree(path, *args, **kwargs):
        # By the time anything is removed, the dataset has left datasets/ in one rename.
        seen.append((path, (datasets_dir(root) / "cells").exists()))
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(manage.shutil, "rmtree", watch_rmtree)
    plan = manage.delete_dataset(root, "cells")
    assert plan["runs"] == [run.name] and plan["files"] == 6 and not plan["live"]
    assert seen and all(path.parent == root / manage.TRASH and not there for path, there in seen)
    assert not list((root / manage.TRASH).iterdir())
    assert read_place(root) == {}
    assert runs.list_runs(root)[0].run_id == run.name  # the run stays, readable


@pytest.mark.parametrize("change, error, message", [
    (lambda root: manage.delete_dataset(root, "demo"), DataError, "built-in dataset demo"),
    (lambda root: manage.rename_dataset(root, "cells", "other"), DataError, "exists already"),
    (lambda root: manage.rename_dataset(root, "cells", "../x"), ConfigError, "not allowed"),
    (lambda root: manage.delete_dataset(root, "nope"), DataError, "No dataset named 'nope'"),
    (lambda root: manage.delete_run(root, "../runs"), ConfigError, "not allowed"),
    (lambda root: manage.delete_run(root, "nope"), RunError, "Run 'nope' not found"),
    (lambda root: runs.name_run(root, runs.list_runs(root)[0].run_id, "a b"), ConfigError,
     "run name 'a b' is not allowed"),
])
def test_bad_requests_are_refused_with_one_sentence(ws, change, error, message):
    root, _ = ws
    (datasets_dir(root) / "demo").mkdir()
    with pytest.raises(error, match=message):
        change(root)
    assert (datasets_dir(root) / "cells").is_dir() and len(runs.list_runs(root)) == 1


def test_a_run_name_is_shown_beside_its_id_and_can_be_cleared(ws):
    root, run = ws
    assert runs.list_runs(root)[0].label == f"{run.name} · first"
    assert runs.name_run(root, run.name, "") is None
    assert runs.list_runs(root)[0].label == run.name
    (run / runs.NAME_FILE).write_text("../../etc\n")  # a damaged file reads as no name
    assert runs.list_runs(root)[0].name is None


def cli(capsys, root, *argv):
    code = main(["--workspace", str(root), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_renames_and_deletes_with_exit_codes_and_one_line(ws, capsys):
    root, run = ws
    code, out, err = cli(capsys, root, "rename-run", "--run", run.name, "--name", "baseline")
    assert (code, out.strip(), err) == (0, f"{run.name} · baseline", "")
    code, out, _ = cli(capsys, root, "runs")
    assert out.startswith(f"{run.name} · baseline ")

    code, out, err = cli(capsys, root, "delete-dataset", "--dataset", "cells")
    assert code == 2 and err == "error: nothing deleted: give --yes to delete dataset cells.\n"
    assert "would delete dataset cells: 6 files" in out and run.name in out
    assert (datasets_dir(root) / "cells").is_dir()

    code, out, err = cli(capsys, root, "rename-dataset", "--dataset", "cells", "--name", "c2")
    assert code == 0 and out.strip() == str(datasets_dir(root) / "c2")
    code, out, err = cli(capsys, root, "delete-dataset", "--dataset", "c2", "--yes")
    assert code == 0 and out.startswith("deleted dataset c2: 6 files")

    for argv, message in [
        (("delete-run", "--run", "nope", "--yes"), "Run 'nope' not found"),
        (("rename-run", "--run", run.name, "--name", "a/b"), "run name 'a/b' is not allowed"),
        (("delete-dataset", "--dataset", "demo"), "No dataset named 'demo'"),
        (("rename-dataset", "--dataset", "other", "--name", ".hidden"), "not allowed"),
    ]:
        code, out, err = cli(capsys, root, *argv)
        assert code == 2 and err.count("\n") == 1 and message in err, (argv, err)

    with training(root, run):
        code, _, err = cli(capsys, root, "delete-run", "--run", run.name)
        assert code == 2 and "is running; stop it first" in err and err.count("\n") == 1
    runs.write_status(run, state="finished")
    code, out, err = cli(capsys, root, "delete-run", "--run", run.name, "--yes")
    assert code == 0 and out.startswith(f"deleted run {run.name} · baseline:")
    assert not run.exists()


def test_train_refuses_a_bad_name_before_a_run_exists(ws, capsys):
    root, _ = ws
    code, _, err = cli(capsys, root, "train", "--data", str(datasets_dir(root) / "other"),
                       "--name", "no spaces please")
    assert code == 2 and "run name 'no spaces please' is not allowed" in err
    assert len(runs.list_runs(root)) == 1
