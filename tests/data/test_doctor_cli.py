import io
import subprocess
import sys

import cv2
import numpy as np
from PIL import Image

from helpers import REPO, make_pair_dataset, write_png, zip_bytes


def check(*args):
    result = subprocess.run([sys.executable, "-m", "segcore", "check-data", *map(str, args)],
                            capture_output=True, text=True, cwd=REPO)
    assert "Traceback" not in result.stdout + result.stderr
    return result


def test_healthy_dataset_prints_summary_and_exits_0(tmp_path):
    root = make_pair_dataset(tmp_path / "d", count=4, size=(8, 8), classes=3)
    result = check(root)
    assert result.returncode == 0, result.stdout
    assert "images: all 4" in result.stdout and "classes: 3" in result.stdout


def test_every_problem_gets_one_line_and_exit_2(tmp_path):
    root = make_pair_dataset(tmp_path / "d", count=4, size=(8, 8), classes=3)
    write_png(root / "masks" / "1.png", np.zeros((4, 4), np.uint8))  # wrong size
    (root / "images" / "2.png").write_bytes(b"text, not a png")  # not an image
    write_png(root / "images" / "lonely.png", np.zeros((8, 8), np.uint8))
    result = check(root)
    assert result.returncode == 2
    lines = result.stdout.strip().splitlines()
    assert any("1.png: mask is 4x4 but its image 1.png is 8x8" in line for line in lines)
    assert any("2.png" in line and "not an image" in line for line in lines)
    assert any("lonely.png: no matching mask" in line for line in lines)


def test_when_every_mask_is_refused_only_the_refusals_are_said(tmp_path):
    root = make_pair_dataset(tmp_path / "d", count=2, size=(8, 8), classes=3)
    for name in ("0.png", "1.png"):
        write_png(root / "masks" / name, np.full((4, 4), 1, np.uint8))  # wrong size, classes
    result = check(root)
    assert result.returncode == 2
    lines = [line for line in result.stdout.strip().splitlines() if "mask is 4x4" in line]
    assert len(lines) == 2
    # Not "the masks hold no class values": they do; none was left to read them from.
    assert "class values" not in result.stdout


def test_undeclared_values_named_and_zips_checked(tmp_path):
    root = make_pair_dataset(tmp_path / "d", count=2, size=(8, 8), classes=3)
    (root / "classes.json").write_text('{"names": ["a", "b"]}')
    result = check(root)
    assert result.returncode == 2 and "mask values 2 are not among" in result.stdout
    evil = tmp_path / "evil.zip"
    evil.write_bytes(zip_bytes({"../x.png": b"1"}))
    result = check(evil)
    assert result.returncode == 2 and "evil.zip" in result.stdout


def test_empty_dataset_and_missing_folder(tmp_path):
    (tmp_path / "e" / "images").mkdir(parents=True)
    (tmp_path / "e" / "masks").mkdir()
    assert "empty" in check(tmp_path / "e").stdout
    assert check(tmp_path / "nope").returncode == 2


def jpeg_artefact_dataset(root, count=4, size=(48, 64)):
    """Binary masks that went through JPEG and were saved as PNG (as the issue's user had)."""
    rng = np.random.default_rng(0)
    for index in range(count):
        mask = np.zeros(size, np.uint8)
        cv2.circle(mask, (16 + 6 * index, 24), 12, 255, -1)
        buffer = io.BytesIO()
        Image.fromarray(mask).save(buffer, format="JPEG", quality=80)
        write_png(root / "masks" / f"{index}.png", np.asarray(Image.open(buffer)))
        write_png(root / "images" / f"{index}.png", rng.integers(0, 255, (*size, 3), np.uint8))
    return root


def test_jpeg_artefact_masks_are_an_error_naming_every_file(tmp_path):
    root = jpeg_artefact_dataset(tmp_path / "d")
    result = check(root)
    assert result.returncode == 2, result.stdout
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 4 and "classes" not in result.stdout  # not "256 classes"
    for index, line in enumerate(lines):
        assert line.startswith(f"{root / 'masks' / f'{index}.png'}: ")
        assert "JPEG compression" in line and "Save masks losslessly (PNG)" in line


def test_jpeg_mask_files_are_each_named_once(tmp_path):
    root = make_pair_dataset(tmp_path / "d", count=3, size=(8, 8), classes=2)
    for path in sorted((root / "masks").iterdir()):
        Image.open(path).convert("L").save(path.with_suffix(".jpg"))
        path.unlink()
    result = check(root)
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 3, lines
    assert all("a JPEG mask" in line and "losslessly (PNG)" in line for line in lines)


def test_a_zip_of_damaged_masks_names_its_entries_and_import_lists_every_problem(tmp_path):
    root = jpeg_artefact_dataset(tmp_path / "d", count=3)
    archive = tmp_path / "cells.zip"
    archive.write_bytes(zip_bytes({str(p.relative_to(root)): p.read_bytes()
                                   for p in root.rglob("*.png")}))
    result = check(archive)
    assert result.returncode == 2
    assert [line.split(": ")[0] for line in result.stdout.strip().splitlines()] == [
        f"{archive}/masks/{i}.png" for i in range(3)]
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "segcore", "--workspace", str(workspace), "import", str(archive),
         "--name", "cells"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{archive}: not imported, 3 problems:" in result.stderr
    assert all(f"{archive}/masks/{i}.png: " in result.stderr for i in range(3))
    assert not (workspace / "datasets" / "cells").exists()
