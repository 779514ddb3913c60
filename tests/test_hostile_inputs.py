"""A hostile corpus, generated here, fed to the CLI (check-data, train, predict) and the app.

Each bad input must get one clear line naming the file and the problem (exit 2, no
traceback), write nothing outside the workspace, and change no existing dataset or run.
"""

import io
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

from helpers import REPO, make_pair_dataset, png_bytes, write_png, zip_bytes, zip_of_empty_entries
from segcore.errors import WorkspaceError
from segcore.fileio import append_jsonl
from segcore.workspace import safe_name, workspace_root


def _huge_header_png():
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def _bomb_png():
    """A few hundred kB that decode to 144 MP: over the default 100 MP cap."""
    buffer = io.BytesIO()
    Image.new("L", (12_000, 12_000)).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


GOOD = png_bytes(np.zeros((8, 8), np.uint8))
BAD_IMAGES = {
    "zero-byte": (b"", "empty"),
    "truncated-png": (png_bytes(np.random.default_rng(0).integers(0, 255, (32, 32), np.uint8))[:70],
                      "truncated"),
    "text-as-png": (b"just some text", "not an image"),
    "header-100000x100000": (_huge_header_png(), "pixel cap"),
    "decompression-bomb": (_bomb_png(), "pixel cap"),
}


def cli(*args, workspace):
    return subprocess.run([sys.executable, "-m", "segcore", "--workspace", str(workspace),
                           *map(str, args)], capture_output=True, text=True, cwd=REPO)


def one_clear_line(result, *needles):
    assert result.returncode == 2, result.stdout + result.stderr
    text = result.stdout + result.stderr
    assert "Traceback" not in text
    line = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1]
    for needle in needles:
        assert needle in text, (needle, text[-800:])
    return line


@pytest.mark.parametrize("case", list(BAD_IMAGES))
def test_bad_image_in_a_dataset_is_refused_by_check_data_and_train(case, tmp_path, workspace):
    content, message = BAD_IMAGES[case]
    root = make_pair_dataset(tmp_path / "d", count=4, size=(8, 8), classes=2)
    (root / "images" / "1.png").write_bytes(content)
    one_clear_line(cli("check-data", root, workspace=workspace), "1.png", message)
    one_clear_line(cli("train", "--data", root, "--img-size", "16x16", "--epochs", "1",
                       "--batch-size", "2", workspace=workspace), "1.png")
    assert not list((workspace / "runs").glob("*/best.keras"))


@pytest.mark.parametrize("case, mutate, message", [
    ("mask-size", lambda r: write_png(r / "masks" / "0.png", np.zeros((4, 4), np.uint8)), "mask is 4x4"),
    ("undeclared-values", lambda r: write_png(r / "masks" / "0.png", np.full((8, 8), 9, np.uint8)),
     "mask values 9"),
    ("off-palette", lambda r: write_png(r / "masks" / "0.png", np.full((8, 8, 3), (7, 8, 9), np.uint8)),
     "not in the class palette"),
    ("duplicate-stem", lambda r: write_png(r / "images" / "0.jpg", np.zeros((8, 8), np.uint8)),
     "0"),
])
def test_bad_masks_and_layouts(case, mutate, message, tmp_path, workspace):
    root = make_pair_dataset(tmp_path / "d", count=4, size=(8, 8), classes=2)
    (root / "classes.json").write_text(
        '{"classes": [{"name": "a", "color": [0, 0, 0]}, {"name": "b", "color": [255, 255, 255]}]}')
    mutate(root)
    one_clear_line(cli("check-data", root, workspace=workspace), message)



@pytest.mark.parametrize("case, data, message", [
    ("dot-dot", zip_bytes({"../../escape.png": GOOD}), "outside"),
    ("absolute", zip_bytes({"/tmp/escape.png": GOOD}), "absolute"),
    ("nested", zip_bytes({"inner.zip": zip_bytes({"a.png": GOOD})}), "nested"),
    ("50000-entries", zip_of_empty_entries(50_000), "entries"),
    ("bomb", zip_bytes({"images/a.png": b"\0" * (64 << 20)}), "zip bomb"),
])
def test_hostile_zips_via_check_data_and_import(case, data, message, tmp_path, workspace):
    path = tmp_path / f"{case}.zip"
    path.write_bytes(data)
    one_clear_line(cli("check-data", path, workspace=workspace), message)
    one_clear_line(cli("import", path, "--name", "x", workspace=workspace), message)
    assert not (workspace / "datasets" / "x").exists()
    assert not (tmp_path / "escape.png").exists() and not list(tmp_path.parent.glob("escape.png"))


@pytest.mark.parametrize("case", ["zero-byte", "text-as-png", "header-100000x100000"])
def test_predict_refuses_bad_images(case, tmp_path, workspace, demo_data):
    result = cli("train", "--data", demo_data, "--model", "unet", "--depth", "2",
                 "--base-filters", "8", "--img-size", "32x32", "--epochs", "1", workspace=workspace)
    run = result.stdout.strip().splitlines()[-1]
    bad = tmp_path / "bad.png"
    bad.write_bytes(BAD_IMAGES[case][0])
    one_clear_line(cli("predict", "--run", run, "--input", bad, "--output", tmp_path / "out",
                       workspace=workspace), "bad.png")


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", "", " ", ".hidden", "x" * 65, "a\\b"])
def test_typed_names_cannot_traverse(name):
    with pytest.raises(ValueError):
        safe_name(name)


def test_unwritable_workspace_and_full_disk_give_clear_errors(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(WorkspaceError, match="Cannot create the workspace"):
        workspace_root(blocker / "ws")
    with pytest.raises(WorkspaceError, match="/dev/full"):
        append_jsonl("/dev/full", {"epoch": 1})
    result = subprocess.run([sys.executable, "-m", "segcore", "--workspace", str(blocker / "ws"),
                             "runs"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2 and "Cannot create the workspace" in result.stderr


def test_accepted_oddities_read_correctly(tmp_path, workspace):
    root = tmp_path / "odd set"
    labels = np.array([[0, 1], [1, 0]], np.uint8)
    write_png(root / "images" / "ünïcode name.PNG", np.full((2, 2, 4), 200, np.uint8))
    write_png(root / "masks" / "ünïcode name.png", labels)
    deep = np.full((2, 2), 60000, np.uint16)
    Image.fromarray(deep).save(root / "images" / "deep.png")
    write_png(root / "masks" / "deep.png", labels)
    result = cli("check-data", root, workspace=workspace)
    assert result.returncode == 0, result.stdout
    assert "images: all 2" in result.stdout
