import numpy as np
import pytest

from helpers import make_pair_dataset, png_bytes, zip_bytes
from page_runner import page


def no_exceptions(at):
    assert not at.exception, [e.value for e in at.exception]


def test_data_page_shows_demo_summary_chart_and_preview(app_env):
    at = page("data").run()
    no_exceptions(at)
    assert at.selectbox(key="dataset_select").value == "demo"
    assert any("48 images" in s.value and "4 classes" in s.value for s in at.success)
    assert at.slider(key="preview_opacity").value == 0.5


def test_bad_upload_shows_one_error_and_keeps_existing_data(app_env):
    root, _ = app_env
    at = page("data").run()
    at.text_input(key="upload_name").input("evil").run()
    at.file_uploader(key="upload_files").set_value(
        [("evil.zip", zip_bytes({"../escape.png": b"x"}), "application/zip")]).run()
    at.button(key="upload_save").click().run()
    no_exceptions(at)
    assert any("outside the archive" in e.value for e in at.error)
    assert not (root / "datasets" / "evil").exists()
    assert not (root.parent / "escape.png").exists()
    at.text_input(key="upload_name").input("demo").run()
    at.file_uploader(key="upload_files").set_value(
        [("a.png", png_bytes(np.zeros((8, 8), np.uint8)), "image/png")]).run()
    at.button(key="upload_save").click().run()
    assert any("exists already" in e.value for e in at.error)
    assert (root / "datasets" / "demo" / "classes.json").is_file()


def test_good_zip_upload_becomes_a_dataset(app_env, tmp_path):
    root, _ = app_env
    source = make_pair_dataset(tmp_path / "d", count=3, size=(16, 16), classes=2)
    entries = {str(p.relative_to(source)): p.read_bytes() for p in source.rglob("*.png")}
    at = page("data").run()
    at.text_input(key="upload_name").input("uploaded").run()
    at.file_uploader(key="upload_files").set_value(
        [("d.zip", zip_bytes(entries), "application/zip")]).run()
    at.button(key="upload_save").click().run()
    no_exceptions(at)
    assert (root / "datasets" / "uploaded" / "images" / "0.png").is_file()


def test_train_page_builds_widgets_from_the_registry(app_env):
    at = page("train").run()
    no_exceptions(at)
    assert at.slider(key="hp_depth").value == 4
    at.selectbox(key="model").select("reseg").run()
    no_exceptions(at)
    assert at.selectbox(key="hp_rnn_type").value == "gru"
    assert at.slider(key="hp_rnn_units").max == 128


def test_train_page_shows_the_run_from_the_url(app_env):
    _, run_id = app_env
    at = page("train")
    at.query_params["run"] = run_id
    at.run()
    no_exceptions(at)
    assert any("Run state: **finished**" in m.value for m in at.markdown)


def test_results_page_scores_the_run(app_env):
    _, run_id = app_env
    at = page("results")
    at.query_params["run"] = run_id
    at.run()
    no_exceptions(at)
    assert any("val mean IoU" in m.value for m in at.markdown)
    assert at.selectbox(key="inspect_image").options


def test_predict_page_predicts_an_upload_and_rejects_junk(app_env):
    at = page("predict").run()
    no_exceptions(at)
    image = png_bytes(np.random.default_rng(0).integers(0, 255, (70, 90, 3), np.uint8))
    at.file_uploader(key="predict_images").set_value(
        [("x.png", image, "image/png"), ("junk.png", b"not a png", "image/png")]).run()
    no_exceptions(at)
    assert any("junk.png" in e.value for e in at.error)
    assert len(at.get("download_button")) >= 1


@pytest.mark.parametrize("name, data, message", [
    ("empty.png", b"", "empty"),
    ("text.png", b"plain text", "not an image"),
    ("nested.zip", zip_bytes({"in.zip": zip_bytes({"a.png": b"1"})}), "nested"),
    ("slip.zip", zip_bytes({"../../x.png": b"1"}), "outside"),
])
def test_hostile_uploads_get_st_error_and_write_nothing(app_env, name, data, message):
    root, _ = app_env
    before = sorted(p.name for p in (root / "datasets").iterdir())
    at = page("data").run()
    at.text_input(key="upload_name").input("hostile").run()
    at.file_uploader(key="upload_files").set_value([(name, data, "application/octet-stream")]).run()
    at.button(key="upload_save").click().run()
    no_exceptions(at)
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert sorted(p.name for p in (root / "datasets").iterdir()) == before
