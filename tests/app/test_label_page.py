"""The Label page without a browser: unlabelled images listed, added images shown, exports
refused, a save refused when the mask changed on disk meanwhile."""

import json

import numpy as np
from PIL import Image

from helpers import png_bytes, write_png
from page_runner import page


def cells(workspace, name="cells"):
    root = workspace / "datasets" / name
    root.mkdir(parents=True)
    (root / "classes.json").write_text(json.dumps(
        {"classes": [{"name": "back"}, {"name": "cell"}], "ignore_value": 255}))
    for stem in ("a", "b"):
        write_png(root / "images" / f"{stem}.png", np.full((16, 16, 3), 60, np.uint8))
        write_png(root / "masks" / f"{stem}.png", np.zeros((16, 16), np.uint8))
    write_png(root / "unlabelled" / "u.png", np.full((16, 16, 3), 90, np.uint8))
    return root


def test_lists_labelled_and_unlabelled_images(workspace):
    cells(workspace)
    app = page("label")
    app.query_params["dataset"] = "cells"
    app.run()
    assert not app.exception, app.exception
    picker = app.selectbox(key="label_image")
    assert picker.options == ["unlabelled/u.png · no mask yet", "images/a.png", "images/b.png"]
    assert "unlabelled 1" in " ".join(c.value for c in app.caption)


def open_image(image, dataset="cells"):
    app = page("label")
    app.query_params["dataset"] = dataset
    app.query_params["image"] = image
    app.run()
    assert not app.exception, app.exception
    return app


def test_a_save_is_refused_when_the_mask_changed_on_disk(workspace):
    root = cells(workspace)
    app = open_image("images/a.png")
    assert app.selectbox(key="label_image").value == "images/a.png"
    assert app.button(key="label_undo").disabled
    changed = np.zeros((16, 16), np.uint8)
    changed[0, 0] = 1
    write_png(root / "masks" / "a.png", changed)  # another tab saved meanwhile
    app.button(key="label_save").click().run()
    assert any("changed on disk after it was opened" in e.value for e in app.error)
    assert np.asarray(Image.open(root / "masks" / "a.png"))[0, 0] == 1
    assert not (root / ".history").exists()


def test_saving_an_empty_start_labels_an_unlabelled_image(workspace):
    root = cells(workspace)
    app = open_image("unlabelled/u.png")
    assert app.radio(key="label_start").value == "empty"
    app.button(key="label_save").click().run()
    assert not app.exception, app.exception
    assert (root / "images" / "u.png").is_file() and (root / "masks" / "u.png").is_file()
    assert any("Saved masks/u.png" in s.value for s in app.success)
    assert app.selectbox(key="label_image").value == "images/u.png"


def test_eraser_to_void_without_a_void_value_and_added_images(workspace):
    root = cells(workspace)
    (root / "classes.json").write_text(json.dumps({"classes": [{"name": "back"},
                                                               {"name": "cell"}]}))
    app = open_image("images/a.png")
    app.radio(key="label_tool").set_value("eraser").run()
    app.radio(key="label_erase_to").set_value("void").run()
    assert any("no void value" in e.value for e in app.error)
    from segcore.data.uploads import add_unlabelled

    add_unlabelled([("v.png", png_bytes(np.zeros((16, 16, 3), np.uint8)))], root)
    app.run()
    assert "unlabelled/v.png · no mask yet" in app.selectbox(key="label_image").options


def test_a_labelling_tool_export_is_refused(workspace):
    root = workspace / "datasets" / "voc"
    for stem in ("a", "b"):
        write_png(root / "JPEGImages" / f"{stem}.png", np.zeros((8, 8, 3), np.uint8))
        write_png(root / "SegmentationClass" / f"{stem}.png", np.zeros((8, 8), np.uint8))
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    (root / "ImageSets" / "Segmentation" / "train.txt").write_text("a\nb\n")
    app = page("label")
    app.query_params["dataset"] = "voc"
    app.run()
    assert [e.value for e in app.error if "export" in e.value] == [
        "voc is a Pascal VOC export: its labels live in that tool's files, so they are edited "
        "there, not here (Label edits datasets of images/ and masks/)."]


def test_the_data_page_offers_unlabelled_uploads(workspace):
    cells(workspace)
    app = page("data")
    app.query_params["dataset"] = "cells"
    app.run()
    assert not app.exception, app.exception
    assert "Add unlabelled images" in [e.label for e in app.expander]
    assert app.button(key="label_upload_add").disabled  # nothing picked yet


def test_a_bands_dataset_opens_as_a_stretched_picture(workspace):
    import tifffile

    root = workspace / "datasets" / "bands"
    (root / "images").mkdir(parents=True)
    (root / "classes.json").write_text(json.dumps(
        {"classes": [{"name": "back"}, {"name": "cell"}]}))
    for stem in ("a", "b"):
        pixels = (np.arange(16 * 16 * 5).reshape(16, 16, 5) * 50).astype(np.uint16)
        tifffile.imwrite(root / "images" / f"{stem}.tif", pixels, photometric="minisblack",
                         planarconfig="contig")
        write_png(root / "masks" / f"{stem}.png", np.zeros((16, 16), np.uint8))
    app = open_image("images/a.tif", dataset="bands")
    assert app.selectbox(key="label_image").value == "images/a.tif"
    assert not app.error, [e.value for e in app.error]


def router_on_label(dataset):
    from streamlit.testing.v1 import AppTest

    from page_runner import REPO

    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    app.query_params["dataset"] = dataset
    app.run()
    app.switch_page("app_pages/label.py").run()
    assert not app.exception, app.exception
    return app


def test_the_image_start_run_and_tool_come_back_after_another_page(app_env):
    root, run_id = app_env
    app = router_on_label("demo")
    assert app.selectbox(key="label_run").value == run_id  # the current run, same classes
    app.selectbox(key="label_image").set_value("images/demo_002.png").run()
    app.radio(key="label_start").set_value("empty").run()
    app.selectbox(key="label_run").set_value("").run()  # "none"
    app.radio(key="label_tool").set_value("polygon").run()
    app.slider(key="label_brush").set_value(20).run()
    for other in ("app_pages/data.py", "app_pages/label.py"):
        app.query_params.clear()  # what a browser's page switch does
        app.switch_page(other).run()
        assert not app.exception, app.exception
    assert app.selectbox(key="label_image").value == "images/demo_002.png"
    assert app.radio(key="label_start").value == "empty"
    assert app.selectbox(key="label_run").value == ""
    assert app.radio(key="label_tool").value == "polygon"
    assert app.slider(key="label_brush").value == 20
    assert not [w.value for w in app.warning]  # no unsaved edits, no widget default clash


def test_runs_trained_on_other_classes_are_not_offered(app_env):
    root, run_id = app_env
    cells(root)
    try:
        app = router_on_label("cells")
        assert app.query_params["run"] in (run_id, [run_id])  # the current run...
        assert app.selectbox(key="label_run").options == ["none"]  # ...is the demo's classes
        assert app.selectbox(key="label_run").value == ""
        assert any("1 run trained on other classes not offered" in c.value for c in app.caption)
        assert not [i for i in app.image if "uncertainty" in str(i.proto)]
    finally:
        import shutil

        shutil.rmtree(root / "datasets" / "cells")
