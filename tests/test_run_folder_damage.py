"""Property: random damage to any file of a run folder gives exit 0 with a correct result, or a
clean exit 2 (one line naming the problem), never a traceback or exit 1.

The run folder comes from a tiny training, made once per module and copied per example; its
files are enumerated at test time, so whatever a run folder holds is covered.
"""

import io
import json
import shutil
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from run_folders import train_tiny_run
from segcore import runs
from segcore.cli import main

DAMAGES = ("truncate", "garble", "random", "delete", "wrong_json", "wrong_field", "empty", "deep",
           "folder")
WRONG_VALUES = ([], [1], "hello", {"a": [1]}, None, -1, 2**40, 1e308, True, 0.5, float("nan"))


def cli(workspace, *argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--workspace", str(workspace), *map(str, argv)])
    return code, out.getvalue(), err.getvalue()


def clean_exit(code, err, argv):
    assert code in (0, 2), (argv, code, err)
    assert "Traceback" not in err and "internal error" not in err, (argv, err)
    if code == 2:
        assert err.startswith("error: ") and err.count("\n") == 1, (argv, err)


@pytest.fixture(scope="module")
def template(tmp_path_factory, demo_data):
    """A stopped tiny run (epoch 1 of 2 committed), its score caches, and reference results."""
    root = tmp_path_factory.mktemp("damage") / "workspace"
    path = train_tiny_run(root, demo_data, stop_at_check=6)
    image = sorted((demo_data / "images").iterdir())[0]
    scores, masks = {}, {}
    for which in ("best", "last"):
        code, out, err = cli(root, "evaluate", "--run", path.name, "--weights", which, "--json")
        assert code == 0, err
        scores[which] = json.loads(out)["mean_iou"]
        masks[which] = runs_mask(root, path, image, which)
    return {"run": path, "image": image, "scores": scores, "masks": masks}


def runs_mask(workspace, path, image, which="best"):
    out = Path(tempfile.mkdtemp(dir=workspace.parent))
    code, _, err = cli(workspace, "predict", "--run", path, "--input", image, "--output", out,
                       "--weights", which)
    assert code == 0, err
    from PIL import Image

    return np.asarray(Image.open(out / f"{image.stem}_mask.png"))


def entries(run):
    """Every file and folder of the run folder (a link is damaged as itself)."""
    return sorted(str(p.relative_to(run)) for p in run.rglob("*"))


def wrong_field(data, value, draw):
    """Replaces one value, at a random depth of a JSON object, by `value`."""
    node = data
    while True:
        keys = sorted(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            return False
        key = draw(st.sampled_from(keys))
        if isinstance(node[key], (dict, list)) and node[key] and draw(st.booleans()):
            node = node[key]
            continue
        node[key] = value
        return True


def damage(path, kind, draw):
    """Applies one kind of damage to `path` (a link is replaced, never written through; a
    folder is replaced by a damaged file, or emptied by "folder")."""
    data = b"" if path.is_symlink() or not path.is_file() else path.read_bytes()
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.is_symlink() or kind in ("delete", "folder"):
        path.unlink()
    if kind == "folder":  # a file replaced by a folder of the same name, or a folder emptied
        path.mkdir()
    if kind in ("delete", "folder"):
        return
    if kind == "truncate":
        data = data[: draw(st.integers(0, max(0, len(data) - 1)))]
    elif kind == "garble" and data:
        start = draw(st.integers(0, len(data) - 1))
        junk = draw(st.binary(min_size=1, max_size=64))
        data = data[:start] + junk + data[start + len(junk):]
    elif kind == "random" or kind == "garble":
        data = draw(st.binary(min_size=1, max_size=512))
    elif kind in ("wrong_json", "wrong_field"):
        value = draw(st.sampled_from(WRONG_VALUES))
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        if kind == "wrong_field" and isinstance(parsed, (dict, list)) and wrong_field(
                parsed, value, draw):
            value = parsed
        data = json.dumps(value).encode()
    elif kind == "empty":
        data = b""
    elif kind == "deep":
        data = b"[" * 100_000 + b"]" * 100_000
    path.write_bytes(data)


def damaged_copy(template, draw, damages=DAMAGES):
    """A workspace holding a copy of the template run with one entry damaged."""
    workspace = Path(tempfile.mkdtemp(prefix="damage-")) / "workspace"
    run = shutil.copytree(template["run"], runs.runs_dir(workspace) / template["run"].name,
                          symlinks=True)
    name = draw(st.sampled_from(entries(run)), label="file")
    kind = draw(st.sampled_from(damages), label="damage")
    damage(run / name, kind, draw)
    return workspace, run


@settings(max_examples=50, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.data())
def test_read_commands_on_a_damaged_run(template, data):
    workspace, run = damaged_copy(template, data.draw)
    try:
        for argv in (["runs"], ["runs", "--json"]):
            code, out, err = cli(workspace, *argv)
            assert code == 0 and run.name in out and "Traceback" not in err, (argv, err)
        code, out, err = cli(workspace, "evaluate", "--run", run.name, "--json")
        clean_exit(code, err, "evaluate")
        if code == 0:  # the score of the checkpoint it says it scored
            result = json.loads(out)
            assert result["mean_iou"] == pytest.approx(template["scores"][result["checkpoint"]])
        output = workspace.parent / "predicted"
        code, _, err = cli(workspace, "predict", "--run", run.name, "--input", template["image"],
                           "--output", output)
        clean_exit(code, err, "predict")
        if code == 0:
            from PIL import Image

            mask = np.asarray(Image.open(output / f"{template['image'].stem}_mask.png"))
            which = "best" if (run / "best.keras").is_file() else "last"
            np.testing.assert_array_equal(mask, template["masks"][which])
        code, _, err = cli(workspace, "export", "--run", run.name, "--format", "keras")
        clean_exit(code, err, "export")
        if code == 0:
            assert next((run / "export").glob("*.keras")).stat().st_size > 0
    finally:
        shutil.rmtree(workspace.parent)


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.data())
def test_resume_of_a_damaged_stopped_run(template, data):
    workspace, run = damaged_copy(template, data.draw)
    try:
        code, out, err = cli(workspace, "train", "--resume", run.name)
        clean_exit(code, err, "train --resume")
        if code == 0:  # finished: epoch 2 trained on top of the checkpoint of epoch 1
            assert runs.read_status(run)["state"] == "finished"
            assert [e["epoch"] for e in runs.read_metrics(run)[0]][-1:] == [2]
    finally:
        shutil.rmtree(workspace.parent)
