"""Damaged label maps (JPEG, anti-aliasing) are found, and snapped into a clean copy."""

import io

import cv2
import numpy as np
from PIL import Image

from helpers import make_pair_dataset, write_png
from segcore.data.defects import mask_defect, snap_dataset, solid_colours
from segcore.data.doctor import check_folder
from segcore.data.synthetic import make_synthetic


def disc(size=(64, 64), value=255):
    mask = np.zeros(size, np.uint8)
    cv2.circle(mask, (30, 30), 15, value, -1)
    mask[40:60, 45:60] = value
    return mask


def through_jpeg(array, quality=75):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(buffer))


def test_jpeg_and_anti_aliased_masks_are_named_with_their_fix():
    for quality in (50, 90, 95):
        message = mask_defect(through_jpeg(disc(), quality), "m.png")
        assert message.startswith("m.png: ") and "near just 2 (0, 255)" in message
    smooth = cv2.resize(cv2.resize(disc(), (256, 256), interpolation=cv2.INTER_NEAREST),
                        (50, 50), interpolation=cv2.INTER_AREA)
    assert "anti-aliasing" in mask_defect(smooth, "aa.png")
    colours = np.array([[0, 0, 0], [200, 30, 40], [30, 200, 40]], np.uint8)
    labels = (disc(value=1) + (np.arange(64)[:, None] < 10)).clip(0, 2).astype(np.uint8)
    assert "distinct colours" in mask_defect(through_jpeg(colours[labels]), "c.png")


def test_real_label_maps_pass(tmp_path):
    rng = np.random.default_rng(0)
    assert mask_defect(disc()) is None
    assert mask_defect(disc(value=1) + (rng.random((64, 64)) < 0.001)) is None  # a few specks
    for classes in (2, 3, 12):  # the test suite's random masks are not "a few modes"
        assert mask_defect(rng.integers(0, classes, (32, 32)).astype(np.uint8)) is None
    lines = np.zeros((64, 64), np.uint8)
    lines[::4] = 255  # thin structures (membranes) have no interior
    assert mask_defect(lines) is None
    index = np.zeros((64, 64), np.uint8)
    for value in range(20):  # 20 classes in blocks
        index[(value // 5) * 16:(value // 5 + 1) * 16, (value % 5) * 12:(value % 5 + 1) * 12] = value
    assert mask_defect(index) is None
    close = np.zeros((32, 32, 3), np.uint8)
    close[:, 16:] = (10, 0, 0)  # two palette colours 10 apart stay two classes
    close[8:24, 8:24] = (200, 200, 200)
    assert mask_defect(close) is None
    assert [c for c, _ in solid_colours([close])] == [0, 10 << 16, 0xC8C8C8]
    demo = make_synthetic(tmp_path / "demo", count=8)
    assert check_folder(demo).ok


def test_snap_writes_a_clean_copy_and_keeps_the_source(tmp_path):
    source = make_pair_dataset(tmp_path / "src", count=3, size=(64, 64), classes=2)
    for index in range(3):
        write_png(source / "masks" / f"{index}.png", through_jpeg(np.roll(disc(), 5 * index)))
    (source / "masks" / "2.png").rename(source / "masks" / "2.jpg")  # a JPEG file, too
    before = {p.name: p.read_bytes() for p in (source / "masks").iterdir()}
    report = check_folder(source)
    assert len(report.problems) == 3 and len(report.summary["defective_masks"]) == 3
    copy = snap_dataset(source, tmp_path / "snapped")
    assert {p.name: p.read_bytes() for p in (source / "masks").iterdir()} == before
    assert sorted(p.name for p in (copy / "masks").iterdir()) == ["0.png", "1.png", "2.png"]
    report = check_folder(copy)
    assert report.ok, report.problems
    assert [c["value"] for c in report.summary["classes"]] == [0, 255]
    for index in range(3):
        snapped = np.asarray(Image.open(copy / "masks" / f"{index}.png"))
        assert (snapped == np.roll(disc(), 5 * index)).mean() > 0.98
