"""Exports and predictions never overwrite silently: new names per checkpoint, or --overwrite.

One tiny run is trained for the module; commands run in-process through `segcore.cli.main`.
"""

import io
import os
import time
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pytest

from helpers import write_png
from run_folders import train_tiny_run
from segcore.cli import main
from segcore.errors import RunError
from segcore.export import export_model, export_path
from segcore.pictures import output_stems


@pytest.fixture(scope="module")
def trained(tmp_path_factory, demo_data):
    workspace = tmp_path_factory.mktemp("ws") / "workspace"
    workspace.mkdir()
    return workspace, train_tiny_run(workspace, demo_data, epochs=1)


def cli(workspace, *argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--workspace", str(workspace), *map(str, argv)])
    return code, out.getvalue(), err.getvalue()


def one_line(code, err, *needles):
    assert code == 2 and "Traceback" not in err, err
    line = err.strip().splitlines()[-1]
    for needle in needles:
        assert needle in line, (needle, line)
    return line


def test_best_and_last_exports_have_their_own_names_and_a_second_export_is_refused(trained):
    workspace, run = trained
    code, out, err = cli(workspace, "export", "--run", run.name, "--format", "keras")
    best = run / "export" / "model-best.keras"
    assert code == 0 and out.strip() == str(best), err
    code, out, err = cli(workspace, "export", "--run", run.name, "--format", "keras",
                         "--weights", "last")
    assert code == 0 and out.strip() == str(run / "export" / "model-last.keras"), err
    before = best.stat().st_mtime_ns
    code, _, err = cli(workspace, "export", "--run", run.name, "--format", "keras")
    one_line(code, err, str(best), "exists already", "--overwrite")
    assert best.stat().st_mtime_ns == before
    code, out, err = cli(workspace, "export", "--run", run.name, "--format", "keras", "--overwrite")
    assert code == 0 and best.stat().st_mtime_ns != before, err
    models = sorted(p.name for p in (run / "export").iterdir() if p.suffix == ".keras")
    assert models == ["model-best.keras", "model-last.keras"]


def test_a_second_savedmodel_export_replaces_the_folder_instead_of_merging(trained):
    workspace, run = trained
    (run / "export").mkdir(exist_ok=True)
    killed = run / "export" / ".export-killed"  # left by an export killed long ago
    (killed / "savedmodel-last").mkdir(parents=True)
    os.utime(killed, (time.time() - 7200,) * 2)
    path = export_model(run, "savedmodel", "last")
    assert path == export_path(run, "savedmodel", "last") and (path / "saved_model.pb").is_file()
    (path / "stale.txt").write_text("from an older export")
    with pytest.raises(RunError, match="exists already"):
        export_model(run, "savedmodel", "last")
    assert (path / "stale.txt").is_file()
    export_model(run, "savedmodel", "last", overwrite=True)
    assert (path / "saved_model.pb").is_file() and not (path / "stale.txt").exists()
    assert not list((run / "export").glob(".*")), "no staging folder left behind"


def test_output_stems_keep_plain_names_and_separate_shared_stems():
    assert output_stems(["a.png", "b.jpg"]) == ["a", "b"]
    assert output_stems(["a.png", "a.jpg", "b.tif"]) == ["a_png", "a_jpg", "b"]
    assert output_stems(["a.png", "a.PNG", "a_png.bmp"]) == ["a_png", "a_PNG_2", "a_png_3"]


def test_images_sharing_a_stem_get_their_own_masks(trained, tmp_path):
    workspace, run = trained
    folder = tmp_path / "in"
    pixels = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    write_png(folder / "a.png", pixels)
    write_png(folder / "a.bmp", 255 - pixels)
    code, _, err = cli(workspace, "predict", "--run", run.name, "--input", folder,
                       "--output", tmp_path / "out")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").glob("*_mask.png")) == ["a_bmp_mask.png",
                                                                           "a_png_mask.png"]


def test_a_second_prediction_into_one_folder_is_refused_unless_overwrite(trained, tmp_path):
    workspace, run = trained
    image = write_png(tmp_path / "x.png", np.zeros((32, 32, 3), np.uint8))
    out = tmp_path / "out"
    assert cli(workspace, "predict", "--run", run.name, "--input", image, "--output", out)[0] == 0
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert set(before) == {"x_mask.png", "x_overlay.png", "x_color.png"}
    code, _, err = cli(workspace, "predict", "--run", run.name, "--input", image, "--output", out)
    one_line(code, err, "x_mask.png", "exists already", "--overwrite")
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    code, _, err = cli(workspace, "predict", "--run", run.name, "--input", image, "--output", out,
                       "--overwrite")
    assert code == 0, err


@pytest.mark.parametrize("where", ["a file", "under a file", "/proc"])
def test_an_output_that_is_a_file_or_unwritable_exits_2(trained, tmp_path, where):
    workspace, run = trained
    image = write_png(tmp_path / "x.png", np.zeros((32, 32, 3), np.uint8))
    target = {"a file": image, "under a file": image / "out",
              "/proc": "/proc/segcore-cannot-write-here"}[where]
    code, _, err = cli(workspace, "predict", "--run", run.name, "--input", image, "--output", target)
    one_line(code, err, "--output", str(target))
    assert image.read_bytes()[:4] == b"\x89PNG"
