"""Predict: one file name per mask format, full-resolution zoom, exports with card and usage."""

import json
import shutil

import numpy as np

from helpers import png_bytes
from page_runner import page


def no_exceptions(at):
    assert not at.exception, [e.value for e in at.exception]


def masks_download(at):
    return next(d for d in at.get("download_button") if d.proto.label == "Download masks (zip)")


def test_each_mask_format_downloads_under_its_own_name(app_env):
    at = page("predict").run()
    image = png_bytes(np.random.default_rng(0).integers(0, 255, (40, 60, 3), np.uint8))
    at.file_uploader(key="predict_images").set_value([("x.png", image, "image/png")]).run()
    no_exceptions(at)
    names = {}
    for fmt in ("labels", "values", "colours"):
        at.radio(key="mask_format").set_value(fmt).run()
        no_exceptions(at)
        names[fmt] = masks_download(at).proto.help
    assert "x_mask.png" in names["labels"] and "x_values.png" in names["values"]
    assert "x_color.png" in names["colours"]


def test_two_masks_for_one_image_are_said_and_the_last_is_scored(app_env):
    at = page("predict").run()
    image = png_bytes(np.random.default_rng(0).integers(0, 255, (40, 60, 3), np.uint8))
    right = png_bytes(np.zeros((40, 60), np.uint8))
    wrong = png_bytes(np.zeros((20, 30), np.uint8))
    at.file_uploader(key="predict_images").set_value([("x.png", image, "image/png")]).run()
    at.file_uploader(key="predict_masks").set_value(
        [("x_mask.png", wrong, "image/png"), ("x.png", right, "image/png")]).run()
    no_exceptions(at)
    assert [w.value for w in at.warning if "masks pair" in w.value] == [
        "2 masks pair with the images named x: x_mask.png, x.png. The last uploaded is used; "
        "remove the others."]
    assert not [e.value for e in at.error if "mask is" in e.value]  # the right one scored


def test_a_prediction_opens_at_full_resolution_to_zoom_and_pan(app_env):
    at = page("predict").run()
    image = png_bytes(np.random.default_rng(1).integers(0, 255, (300, 1400, 3), np.uint8))
    at.file_uploader(key="predict_images").set_value([("wide.png", image, "image/png")]).run()
    assert not [c for c in at.get("plotly_chart") if "zoom_chart" in c.proto.id]
    toggle = at.toggle(key="zoom_wide")
    assert toggle.label == "Zoom and pan wide.png at full resolution (1400x300)"
    toggle.set_value(True).run()
    no_exceptions(at)
    assert at.radio(key="zoom_picture_wide").options == ["prediction", "image"]
    chart = next(c for c in at.get("plotly_chart") if "zoom_chart_wide" in c.proto.id)
    assert json.loads(chart.proto.spec)["data"][0]["source"].startswith("data:image/jpeg;base64,")
    at.radio(key="zoom_picture_wide").set_value("image").run()
    no_exceptions(at)
    assert any("Drag a box to zoom" in c.value for c in at.caption)


def test_an_export_offers_its_class_map_and_usage_named_as_downloaded(app_env):
    root, run_id = app_env
    export = root / "runs" / run_id / "export"
    shutil.rmtree(export, ignore_errors=True)
    try:
        at = page("predict").run()
        at.selectbox(key="export_format").select("tflite").run()
        at.button(key="export").click().run()
        no_exceptions(at)
        labels = [d.proto.label for d in at.get("download_button")]
        assert "Class map and input (model-best.tflite.json)" in labels, labels
        assert "Usage (model-best.tflite.README.md)" in labels, labels
        assert [e.label for e in at.expander] == ["How to use model-best.tflite"]
        usage = " ".join(m.value for m in at.markdown)
        assert (f"MODEL, CARD, IMAGE = '{run_id}-model-best.tflite', "
                f"'{run_id}-model-best.tflite.json'") in usage
        # An export from before cards existed says how to get them.
        (export / "model-best.tflite.json").unlink()
        at.run()
        assert any("exported without its class map" in c.value for c in at.caption)
    finally:
        shutil.rmtree(export, ignore_errors=True)


def test_a_savedmodel_zip_unpacks_to_the_folder_its_usage_names(app_env):
    import zipfile

    root, run_id = app_env
    export = root / "runs" / run_id / "export"
    shutil.rmtree(export, ignore_errors=True)
    try:
        at = page("predict").run()
        at.selectbox(key="export_format").select("savedmodel").run()
        at.button(key="export").click().run()
        no_exceptions(at)
        with zipfile.ZipFile(export / "savedmodel-best.zip") as archive:
            assert "savedmodel-best/saved_model.pb" in archive.namelist()
        usage = " ".join(m.value for m in at.markdown)
        assert (f"MODEL, CARD, IMAGE = 'savedmodel-best', "
                f"'{run_id}-savedmodel-best.json'") in usage
    finally:
        shutil.rmtree(export, ignore_errors=True)
