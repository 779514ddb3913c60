"""Readers of run folders are total, and commands write only inside their workspace.

Each damaged file gives exit 2 with one line naming it (a listing goes on with the other runs);
a run outside `<workspace>/runs/`, or reached through a link that leaves it, is only read.
"""

import io
import json
import os
import shutil
from contextlib import redirect_stderr, redirect_stdout

import pytest

from run_folders import tiny_config, train_tiny_run
from segcore import runs
from segcore.cli import main
from segcore.errors import RunError


def cli(workspace, *argv):
    """Runs `python -m segcore --workspace W ARGV` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--workspace", str(workspace), *map(str, argv)])
    return code, out.getvalue(), err.getvalue()


def snapshot(folder):
    """Every file under `folder` with its size and mtime: equal snapshots, nothing written."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


DEEP = "[" * 100_000 + "]" * 100_000
DAMAGED_STATUS = ["[]", '"hello"', '{"best_mean_iou": "high"}', '{"pid": [1]}', DEEP,
                  '{"state": "exploded"}', '{"epoch": -3, "best_mean_iou": Infinity}', "{"]
DAMAGED_CONFIG = ["[1]", '{"run_id": "x"}', '{"config": [1]}', '{"config": {"img_size": "big"}}',
                  '{"config": {"model": "nope"}}', '{"config": {"epochs": "many"}}',
                  '{"config": {"data": [1]}}', '{"config": {}, "class_map": 3}',
                  '{"config": {}, "input_scale": "x"}', DEEP, "", "\x00\xff"]


@pytest.fixture
def two_runs(workspace, demo_data):
    """A workspace with two untrained runs: (good folder, folder to damage)."""
    return (runs.create_run(workspace, tiny_config(demo_data), "a-good"),
            runs.create_run(workspace, tiny_config(demo_data), "b-damaged"))


@pytest.mark.parametrize("name,text", [("status.json", t) for t in DAMAGED_STATUS]
                         + [("config.json", t) for t in DAMAGED_CONFIG])
def test_runs_lists_every_run_and_names_the_damaged_file(workspace, two_runs, name, text):
    good, damaged = two_runs
    (damaged / name).write_text(text)
    code, out, err = cli(workspace, "runs")
    assert (code, err) == (0, "")
    assert "a-good" in out and "b-damaged" in out
    problem = [line for line in out.splitlines() if "damaged:" in line]
    assert len(problem) == 1 and name in problem[0] and str(damaged) in problem[0], out
    code, out, err = cli(workspace, "runs", "--json")
    listed = {r["run"]: r for r in json.loads(out)}
    assert code == 0 and set(listed) == {"a-good", "b-damaged"}
    assert listed["a-good"]["problem"] is None and name in listed["b-damaged"]["problem"]
    if name == "status.json":
        assert listed["b-damaged"]["model"] == "unet"  # the config still reads


def test_read_status_keeps_the_sound_fields_and_says_which_are_not(tmp_path):
    (tmp_path / "status.json").write_text(json.dumps(
        {"state": "stopped", "epoch": 3, "best_mean_iou": "high", "pid": [1], "message": 7}))
    status = runs.read_status(tmp_path)
    assert status["state"] == "stopped" and status["epoch"] == 3
    assert not {"best_mean_iou", "pid", "message"} & set(status)
    assert "best_mean_iou, message, pid" in status["problem"]
    (tmp_path / "status.json").write_text('"hello"')
    status = runs.read_status(tmp_path)
    assert status["state"] == "failed" and "status.json" in status["problem"]


@pytest.mark.parametrize("text", DAMAGED_CONFIG)
def test_read_config_raises_one_line_naming_config_json(tmp_path, text):
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(RunError, match="config.json") as raised:
        runs.read_config(tmp_path)
    assert "\n" not in str(raised.value)


def test_read_config_normalizes_a_sound_config(two_runs):
    good, _ = two_runs
    config = runs.read_config(good)["config"]
    assert config["img_size"] == [32, 32] and config["hparams"]["depth"] == 2


@pytest.mark.parametrize("text", ['{"run_id": "x"}', "[1]", '{"config": {"crop": [1, 2, 3]}}'])
@pytest.mark.parametrize("command", [["evaluate"], ["export", "--format", "keras"],
                                     ["predict", "--input", "{input}", "--output", "{output}"],
                                     ["train", "--resume"]])
def test_commands_on_a_damaged_config_exit_2_naming_it(workspace, two_runs, demo_data, tmp_path,
                                                        text, command):
    _, damaged = two_runs
    (damaged / "config.json").write_text(text)
    image = next((demo_data / "images").iterdir())
    argv = [a.format(input=image, output=tmp_path / "out") for a in command]
    argv += [damaged.name] if command[0] == "train" else ["--run", damaged.name]
    code, _, err = cli(workspace, *argv)
    assert code == 2 and "Traceback" not in err, err
    assert err.count("\n") == 1 and "config.json" in err


# Trained runs --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory, demo_data):
    """A stopped tiny run (checkpoint of epoch 1) and its validation score."""
    root = tmp_path_factory.mktemp("readers") / "workspace"
    path = train_tiny_run(root, demo_data, stop_at_check=6)
    code, out, err = cli(root, "evaluate", "--run", path.name, "--json")
    assert code == 0, err
    (path / "eval_val_best.json").unlink()
    return path, json.loads(out)["mean_iou"]


@pytest.fixture
def run(trained, workspace):
    """A fresh copy of the trained run inside `workspace`."""
    source, _ = trained
    return shutil.copytree(source, workspace / "runs" / source.name, symlinks=True)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
@pytest.mark.parametrize("command", [["evaluate"], ["export", "--format", "keras"],
                                     ["predict", "--input", "{input}", "--output", "{output}"]])
def test_a_damaged_checkpoint_names_the_file_not_keras_file_not_found(
        workspace, run, demo_data, tmp_path, damage, command):
    checkpoint = run / "best.keras"
    data = checkpoint.read_bytes()
    checkpoint.write_bytes({"truncate": data[: len(data) // 2], "garbage": os.urandom(500),
                            "empty": b""}[damage])
    image = next((demo_data / "images").iterdir())
    argv = [a.format(input=image, output=tmp_path / "out") for a in command]
    code, _, err = cli(workspace, *argv, "--run", run.name)
    assert code == 2 and "Traceback" not in err, err
    assert str(checkpoint) in err and "--weights last" in err and "not found" not in err


def test_a_damaged_score_cache_is_scored_again(workspace, run, trained):
    cache = run / "eval_val_best.json"
    for text in ["[]", '{"mean_iou": "x"}', DEEP, "{"]:
        cache.write_text(text)
        code, out, err = cli(workspace, "evaluate", "--run", run.name, "--json")
        assert code == 0, err
        assert json.loads(out)["mean_iou"] == pytest.approx(trained[1])
        assert json.loads(cache.read_text())["mean_iou"] == pytest.approx(trained[1])


def test_a_missing_best_checkpoint_scores_last_and_says_so(workspace, run):
    (run / "best.keras").unlink()
    code, out, err = cli(workspace, "evaluate", "--run", run.name, "--json")
    assert code == 0 and json.loads(out)["checkpoint"] == "last", err
    assert not (run / "eval_val_best.json").exists()  # never cached as best's score


# The sealed workspace ------------------------------------------------------------------------


def test_a_run_outside_the_workspace_is_evaluated_without_writing_and_not_exported(
        workspace, trained, tmp_path):
    outside = shutil.copytree(trained[0], tmp_path / "elsewhere" / trained[0].name)
    before = snapshot(outside)
    code, out, err = cli(workspace, "evaluate", "--run", outside, "--json")
    assert code == 0 and json.loads(out)["mean_iou"] == pytest.approx(trained[1]), err
    code, _, err = cli(workspace, "export", "--run", outside, "--format", "keras")
    assert code == 2 and "outside" in err and err.count("\n") == 1, err
    for argv in (["stop", "--run", outside], ["train", "--resume", outside]):
        code, _, err = cli(workspace, *argv)
        assert code == 2 and "outside" in err, (argv, err)
    assert snapshot(outside) == before


def test_a_link_in_runs_leading_out_of_the_workspace_is_never_written_through(
        workspace, trained, tmp_path):
    outside = shutil.copytree(trained[0], tmp_path / "elsewhere" / "target")
    runs.runs_dir(workspace).joinpath("linked").symlink_to(outside, target_is_directory=True)
    before = snapshot(outside)
    code, out, err = cli(workspace, "evaluate", "--run", "linked", "--json")
    assert code == 0 and json.loads(out)["mean_iou"] == pytest.approx(trained[1]), err
    for argv in (["export", "--run", "linked", "--format", "keras"], ["stop", "--run", "linked"],
                 ["train", "--resume", "linked"]):
        code, _, err = cli(workspace, *argv)
        assert code == 2 and "outside" in err and "Traceback" not in err, (argv, err)
    assert snapshot(outside) == before
    code, out, _ = cli(workspace, "runs")
    assert code == 0 and "linked" in out  # still listed: reading is fine


def test_a_link_inside_a_run_folder_leading_out_is_refused_for_writing(workspace, run, tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    (run / "export").symlink_to(target, target_is_directory=True)
    code, _, err = cli(workspace, "export", "--run", run.name, "--format", "keras")
    assert code == 2 and "export" in err and "outside its run folder" in err, err
    assert list(target.iterdir()) == []


def test_checkpoints_that_link_into_the_runs_own_ckpt_folder_work(workspace, run, trained):
    for name in ("best.keras", "last.keras"):
        if not (run / name).is_symlink():  # the checkpoint commit may link them already
            (run / name).rename(run / "ckpt" / f"epoch-1-{name}")
            (run / name).symlink_to(f"ckpt/epoch-1-{name}")
    assert runs.can_write(run.parent.parent, run)
    code, out, err = cli(workspace, "evaluate", "--run", run.name, "--json")
    assert code == 0 and json.loads(out)["mean_iou"] == pytest.approx(trained[1]), err
    code, out, err = cli(workspace, "export", "--run", run.name, "--format", "keras")
    assert code == 0 and (run / "export" / "model-best.keras").is_file(), err


def test_a_checkpoint_linking_out_of_its_run_folder_is_not_loaded(workspace, run, tmp_path):
    outside = tmp_path / "model.keras"
    shutil.copy(run / "best.keras", outside)
    (run / "best.keras").unlink()
    (run / "best.keras").symlink_to(outside)
    code, _, err = cli(workspace, "evaluate", "--run", run.name)
    assert code == 2 and "outside the run folder" in err, err


def test_a_config_json_that_is_a_folder_is_listed_and_named(workspace, two_runs):
    _, damaged = two_runs
    (damaged / "config.json").unlink()
    (damaged / "config.json").mkdir()
    code, out, _ = cli(workspace, "runs")
    assert code == 0 and "a-good" in out and f"damaged: {damaged / 'config.json'}" in out
    code, _, err = cli(workspace, "evaluate", "--run", damaged.name)
    assert code == 2 and "config.json cannot be read" in err, err


def test_a_score_cache_that_cannot_be_written_leaves_the_scores(workspace, run, trained):
    (run / "eval_val_best.json").mkdir()
    code, out, err = cli(workspace, "evaluate", "--run", run.name, "--json")
    assert code == 0 and json.loads(out)["mean_iou"] == pytest.approx(trained[1]), err


def test_a_run_whose_config_json_is_gone_is_still_listed(workspace, two_runs):
    _, damaged = two_runs
    (damaged / "config.json").unlink()
    code, out, _ = cli(workspace, "runs")
    assert code == 0 and f"damaged: {damaged / 'config.json'} is missing" in out, out
    code, _, err = cli(workspace, "evaluate", "--run", damaged.name)
    assert code == 2 and "config.json is missing" in err, err


def test_status_numbers_keep_their_range(tmp_path):
    # Clock ticks since boot pass 2**31 after 248 days of uptime; a PID never does.
    (tmp_path / "status.json").write_text(json.dumps(
        {"state": "stopped", "pid": 2**40, "pid_start": 2**40, "epoch": 2**64}))
    status = runs.read_status(tmp_path)
    assert status["pid_start"] == 2**40 and "pid" not in status and "epoch" not in status


@pytest.mark.parametrize("name,folder", [("train.log", True), ("status.json", True),
                                         ("tensorboard", False), ("ckpt", False)])
def test_a_file_swapped_with_a_folder_is_named_before_anything_is_written(
        workspace, run, name, folder):
    entry = run / name
    if entry.is_dir():
        shutil.rmtree(entry)
    else:
        entry.unlink(missing_ok=True)
    entry.mkdir() if folder else entry.write_text("x")
    for argv in (["train", "--resume", run.name], ["export", "--run", run.name, "--format", "keras"],
                 ["stop", "--run", run.name]):
        code, _, err = cli(workspace, *argv)
        assert code == 2 and str(entry) in err and "Traceback" not in err, (argv, err)
