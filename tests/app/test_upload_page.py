"""Data page uploads: class files, colour masks named in a table, damaged masks snapped,
a Clear button, every problem listed, warnings folded."""

import io
import json
import shutil

import cv2
import numpy as np
from PIL import Image

from helpers import png_bytes, write_png
from page_runner import page

PALETTE = np.array([[0, 0, 0], [200, 30, 40], [30, 200, 40]], np.uint8)


def no_exceptions(at):
    assert not at.exception, [e.value for e in at.exception]


def shapes(index, size=(48, 64)):
    labels = np.zeros(size, np.uint8)
    cv2.circle(labels, (16 + 4 * index, 24), 12, 1, -1)
    labels[5:15, 40:60] = 2
    return labels


def through_jpeg(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=75)
    return np.asarray(Image.open(buffer))


def pairs(mask_of, count=3):
    rng = np.random.default_rng(0)
    files = []
    for index in range(count):
        files.append((f"img {index}.png", png_bytes(rng.integers(0, 255, (48, 64, 3), np.uint8)),
                      "image/png"))
        files.append((f"img {index}_mask.png", png_bytes(mask_of(shapes(index))), "image/png"))
    return files


def upload(at, files, name):
    at.text_input(key="upload_name_0").input(name).run()
    at.file_uploader(key="upload_files_0").set_value(files).run()
    at.button(key="upload_save").click().run()
    no_exceptions(at)
    return at


def test_colour_masks_and_their_classes_json_upload_as_files(app_env):
    root, _ = app_env
    classes = {"classes": [{"name": n, "color": c.tolist()}
                           for n, c in zip(["bg", "disc", "bar"], PALETTE)]}
    files = pairs(lambda labels: PALETTE[labels]) + [
        ("classes.json", json.dumps(classes).encode(), "application/json")]
    at = page("data").run()
    assert ".json" in at.file_uploader(key="upload_files_0").proto.type
    upload(at, files, "coloured")
    try:
        assert any(s.value.startswith("coloured: 3 images, 3 classes") for s in at.success)
        assert json.loads((root / "datasets" / "coloured" / "classes.json").read_text())[
            "classes"][1]["name"] == "disc"
    finally:
        shutil.rmtree(root / "datasets" / "coloured", ignore_errors=True)


def test_colour_masks_without_classes_get_their_colours_proposed_to_name(app_env):
    root, _ = app_env
    at = upload(page("data").run(), pairs(lambda labels: PALETTE[labels]), "named")
    assert any("name the 3 colours found" in i.value for i in at.info), [i.value for i in at.info]
    assert not any("--classes" in e.value or ".upload-" in e.value for e in at.error)
    assert not (root / "datasets" / "named").exists()
    at.session_state["colour_table_0"] = {"edited_rows": {
        0: {"void": True}, 1: {"name": "disc"}, 2: {"name": "bar"}},
        "added_rows": [], "deleted_rows": []}
    at.run()
    at.button(key="upload_save_classes").click().run()
    no_exceptions(at)
    try:
        saved = json.loads((root / "datasets" / "named" / "classes.json").read_text())
        assert [c["name"] for c in saved["classes"]] == ["disc", "bar"]
        assert saved["void_color"] == [0, 0, 0]
        assert any(s.value == "Saved dataset named." for s in at.success)
        assert at.file_uploader(key="upload_files_1").value in (None, [])  # emptied
    finally:
        shutil.rmtree(root / "datasets" / "named", ignore_errors=True)


def test_clear_empties_the_picker_and_forgets_the_offer(app_env):
    at = upload(page("data").run(), pairs(lambda labels: PALETTE[labels]), "cleared")
    assert at.button(key="upload_save_classes")
    at.button(key="upload_clear").click().run()
    no_exceptions(at)
    assert not [b for b in at.button if b.key == "upload_save_classes"]
    assert not [u for u in at.get("file_uploader") if u.key == "upload_files_0"]
    assert at.file_uploader(key="upload_files_1").value in (None, [])
    assert at.text_input(key="upload_name_1").value == ""


def test_jpeg_damaged_masks_list_every_problem_and_snap_into_a_new_dataset(app_env):
    root, _ = app_env
    files = pairs(lambda labels: through_jpeg(((labels > 0) * 255).astype(np.uint8)))
    at = upload(page("data").run(), files, "jpegged")
    assert any("found 3 problems in the upload" in e.value for e in at.error)
    listed = next(e.value for e in at.error if e.value.startswith("- "))
    assert all(f"img {i}_mask.png: " in listed for i in range(3)), listed
    assert "JPEG compression" in listed and ".upload-" not in listed
    assert not (root / "datasets" / "jpegged").exists()
    at.button(key="upload_snap").click().run()
    no_exceptions(at)
    try:
        assert any("snapped to their classes" in s.value for s in at.success)
        assert any(s.value.startswith("jpegged: 3 images, 2 classes") for s in at.success)
    finally:
        shutil.rmtree(root / "datasets" / "jpegged", ignore_errors=True)


def test_a_saved_jpeg_damaged_dataset_blocks_training_and_offers_a_snapped_copy(app_env):
    root, _ = app_env
    folder = root / "datasets" / "damaged"
    for name, data, _ in pairs(lambda labels: through_jpeg((labels * 100).astype(np.uint8))):
        kind = "masks" if "_mask" in name else "images"
        write_png(folder / kind / name.replace("_mask", ""),
                  np.asarray(Image.open(io.BytesIO(data))))
    before = {p.name: p.read_bytes() for p in (folder / "masks").iterdir()}
    try:
        at = page("train")
        at.query_params["dataset"] = "damaged"
        at.run()
        no_exceptions(at)
        assert at.button(key="start").disabled
        at = page("data")
        at.query_params["dataset"] = "damaged"
        at.run()
        no_exceptions(at)
        assert any("found 3 problems in damaged" in e.value for e in at.error)
        at.button(key="snap_copy").click().run()
        no_exceptions(at)
        assert {p.name: p.read_bytes() for p in (folder / "masks").iterdir()} == before
        assert at.selectbox(key="dataset_select").value == "damaged-snapped"
        assert any(s.value.startswith("damaged-snapped: 3 images, 3 classes")
                   for s in at.success), [s.value for s in at.success]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(root / "datasets" / "damaged-snapped", ignore_errors=True)


def test_more_than_three_warnings_fold_into_one_box(app_env):
    root, _ = app_env
    folder = root / "datasets" / "warned"
    for index, size in enumerate([(16, 16), (16, 24), (24, 16)]):
        mask = np.zeros(size, np.uint8)
        mask[0, 0] = 1  # class 1 is rare; classes.json below declares an absent class 2
        write_png(folder / "images" / f"{index}.png", np.zeros((*size, 3), np.uint8))
        write_png(folder / "masks" / f"{index}.png", mask)
    (folder / "classes.json").write_text(json.dumps({"names": ["bg", "rare", "absent"]}))
    try:
        at = page("data")
        at.query_params["dataset"] = "warned"
        at.run()
        no_exceptions(at)
        assert len(at.warning) == 1, [w.value for w in at.warning]
        box = at.warning[0].value
        assert box.startswith("4 things to look at in warned:")
        assert "Only 3 images" in box and "'absent'" in box and "'rare'" in box
        assert "3 sizes" in box
    finally:
        shutil.rmtree(folder, ignore_errors=True)
