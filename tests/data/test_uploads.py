"""Uploads become datasets: pairing, class files, colour masks, damaged masks, names."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from helpers import png_bytes
from segcore.data.classes import ClassMap
from segcore.data.uploads import (
    ColoursNeedNames,
    UploadProblems,
    colour_class_map,
    save_uploads,
    suggest_name,
)
from segcore.errors import DataError


def tiny_png(value=0, size=(8, 8)):
    return png_bytes(np.full(size, value, np.uint8))


def test_loose_uploads_pair_by_mask_suffix_and_masks_folder(tmp_path):
    files = [("a.png", tiny_png(10)), ("a_mask.png", tiny_png(1)),
             ("set/images/b.png", tiny_png(20)), ("set/masks/b.png", tiny_png(0)),
             ("c d é.PNG", tiny_png(30)), ("c d é_mask.png", tiny_png(1))]
    dest = save_uploads(files, tmp_path / "new")
    assert sorted(p.name for p in (dest / "images").iterdir()) == ["a.png", "b.png", "c d é.png"]
    assert sorted(p.name for p in (dest / "masks").iterdir()) == ["a.png", "b.png", "c d é.png"]
    assert [p.name for p in tmp_path.iterdir()] == ["new"]  # the staging folder is gone


def test_folder_upload_keeps_split_folders(tmp_path):
    files = [(f"data/{split}/{kind}/{i}.png", tiny_png(i % 2))
             for split in ("train", "val") for kind in ("images", "masks") for i in range(2)]
    dest = save_uploads(files, tmp_path / "split")
    assert (dest / "train" / "images" / "1.png").is_file()
    assert (dest / "val" / "masks" / "0.png").is_file()


@pytest.mark.parametrize("files, message", [
    ([], "Nothing was uploaded"),
    ([("a.png", tiny_png())], "None of the 1 uploaded files is a mask"),
    ([("a.png", tiny_png()), ("b_mask.png", tiny_png())], "no matching mask"),
    ([("a.txt", b"hello")], "not an image file"),
    ([("a.png", tiny_png()), ("a_mask.png", tiny_png(1, (4, 4)))], "mask is 4x4"),
    ([("x.zip", b"PK"), ("a.png", tiny_png())], "either one zip"),
])
def test_bad_uploads_raise_one_data_error_and_leave_nothing(tmp_path, files, message):
    with pytest.raises(DataError, match=message):
        save_uploads(files, tmp_path / "bad")
    assert list(tmp_path.iterdir()) == []


def test_upload_never_replaces_an_existing_dataset(tmp_path):
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "marker").write_text("x")
    with pytest.raises(DataError, match="exists already"):
        save_uploads([("a.png", tiny_png()), ("a_mask.png", tiny_png())],
                              tmp_path / "keep")
    assert (tmp_path / "keep" / "marker").read_text() == "x"


def test_folder_upload_keeps_its_classes_json_and_skips_hidden_files(tmp_path):
    classes = b'{"classes": [{"name": "bg", "value": 0}, {"name": "fg", "value": 1}]}'
    files = [("d/classes.json", classes), ("d/.DS_Store", b"junk"),
             ("d/images/a.png", tiny_png()), ("d/masks/a.png", tiny_png(1))]
    dest = save_uploads(files, tmp_path / "d")
    assert (dest / "classes.json").read_bytes() == classes
    assert not list(dest.rglob(".DS_Store"))


def test_two_names_that_sanitize_alike_are_refused_not_overwritten(tmp_path):
    files = [("a?.png", tiny_png()), ("a.png", tiny_png()), ("a_mask.png", tiny_png())]
    with pytest.raises(DataError, match="would both be saved as images/a.png"):
        save_uploads(files, tmp_path / "x")


def test_suggest_name_from_zip_or_folder():
    assert suggest_name(["my data (v2).zip"]) == "my-data--v2"
    assert suggest_name(["cracks/images/a.png", "cracks/masks/a.png"]) == "cracks"
    assert suggest_name(["a.png"]) == ""
    assert suggest_name([]) == ""


def shapes(size=(48, 64)):
    """A label map of 0 (background), 1 (a disc) and 2 (a bar)."""
    labels = np.zeros(size, np.uint8)
    cv2.circle(labels, (20, 24), 12, 1, -1)
    labels[5:15, 40:60] = 2
    return labels


def jpeg_roundtrip(array, quality=75):
    """The pixels a mask has after a trip through JPEG (saved as PNG afterwards)."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())))


PALETTE = np.array([[0, 0, 0], [200, 30, 40], [30, 200, 40]], np.uint8)


def colour_upload(jpeg=False):
    rng = np.random.default_rng(0)
    files = []
    for index in range(3):
        labels = np.roll(shapes(), 4 * index, axis=1)
        mask = PALETTE[labels]
        files += [(f"{index}.png", png_bytes(rng.integers(0, 255, (48, 64, 3), np.uint8))),
                  (f"{index}_mask.png", png_bytes(jpeg_roundtrip(mask) if jpeg else mask))]
    return files


def test_the_same_file_picked_twice_counts_once(tmp_path):
    files = [("a.png", tiny_png()), ("a_mask.png", tiny_png(1))]
    dest = save_uploads(files + files, tmp_path / "d")
    assert [p.name for p in (dest / "masks").iterdir()] == ["a.png"]
    with pytest.raises(DataError, match="a.png and a.png would both be saved.*press Clear"):
        save_uploads(files + [("a.png", tiny_png(9))], tmp_path / "e")


def test_colour_masks_without_classes_propose_their_colours(tmp_path):
    with pytest.raises(ColoursNeedNames) as raised:
        save_uploads(colour_upload(), tmp_path / "c")
    assert not (tmp_path / "c").exists()
    found = [colour for colour, _ in raised.value.colours]
    assert found == [(0, 0, 0), (200, 30, 40), (30, 200, 40)]  # most pixels first
    assert sum(share for _, share in raised.value.colours) == pytest.approx(1.0, abs=1e-3)
    assert "--classes" not in str(raised.value) and "name the 3 colours" in str(raised.value)
    classes = colour_class_map(["sky", "disc", "bar"], found, [True, False, False])
    dest = save_uploads(colour_upload(), tmp_path / "c", classes=classes)
    saved = ClassMap.load(dest / "classes.json")
    assert saved.names == ["disc", "bar"] and saved.void_color == (0, 0, 0)


def test_colour_class_table_names_its_mistakes():
    with pytest.raises(DataError, match="Row 2: every class needs a name"):
        colour_class_map(["a", " "], [(0, 0, 0), (1, 1, 1)], [False, False])
    with pytest.raises(DataError, match="at most one colour as void"):
        colour_class_map(["a", "b"], [(0, 0, 0), (1, 1, 1)], [True, True])


def test_an_uploaded_classes_json_is_the_class_file_and_named_as_uploaded(tmp_path):
    good = b'{"classes": [{"name": "bg", "color": [0, 0, 0]}, {"name": "disc", "color": [200, 30, 40]}, {"name": "bar", "color": [30, 200, 40]}]}'
    dest = save_uploads(colour_upload() + [("classes.json", good)], tmp_path / "d")
    assert ClassMap.load(dest / "classes.json").names == ["bg", "disc", "bar"]
    with pytest.raises(DataError) as raised:
        save_uploads(colour_upload() + [("my classes.json", b"{not json")], tmp_path / "e")
    assert str(raised.value).startswith("my classes.json: cannot read the class file")
    assert ".upload-" not in str(raised.value)


def test_jpeg_damaged_masks_list_every_problem_by_uploaded_name_and_snap_on_request(tmp_path):
    files = []
    for index in range(3):
        labels = np.roll(shapes(), 4 * index, axis=1)
        files += [(f"cell {index}.png", png_bytes(labels * 40)),
                  (f"cell {index}_mask.png", png_bytes(jpeg_roundtrip(((labels > 0) * 255).astype(np.uint8))))]
    with pytest.raises(UploadProblems) as raised:
        save_uploads(files, tmp_path / "d")
    problems = raised.value.problems
    assert raised.value.defective and len(problems) == 3
    assert [p.split(":")[0] for p in problems] == [f"cell {i}_mask.png" for i in range(3)]
    assert all("JPEG compression" in p and "Save masks losslessly" in p for p in problems)
    assert not any(".upload-" in p or str(tmp_path) in p for p in problems)
    dest = save_uploads(files, tmp_path / "d", snap=True)
    for index, name in enumerate(sorted((dest / "masks").iterdir())):
        want = (np.roll(shapes(), 4 * index, axis=1) > 0) * 255
        got = np.asarray(Image.open(name))
        assert set(np.unique(got)) == {0, 255} and (got == want).mean() > 0.97


def test_jpeg_damaged_colour_masks_snap_to_the_named_colours(tmp_path):
    classes = colour_class_map(["bg", "disc", "bar"], [tuple(c) for c in PALETTE],
                               [False] * 3)
    with pytest.raises(UploadProblems) as raised:
        save_uploads(colour_upload(jpeg=True), tmp_path / "d", classes=classes)
    assert raised.value.defective and "distinct colours" in raised.value.problems[0]
    dest = save_uploads(colour_upload(jpeg=True), tmp_path / "d", classes=classes, snap=True)
    got = np.asarray(Image.open(dest / "masks" / "0.png"))
    want = PALETTE[shapes()]
    assert (got == want).all(axis=-1).mean() > 0.97
