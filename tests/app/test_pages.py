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
    at.text_input(key="upload_name_0").input("evil").run()
    at.file_uploader(key="upload_files_0").set_value(
        [("evil.zip", zip_bytes({"../escape.png": b"x"}), "application/zip")]).run()
    at.button(key="upload_save").click().run()
    no_exceptions(at)
    assert any("outside the archive" in e.value for e in at.error)
    assert any(s.value.startswith("demo: 48 images") for s in at.success)  # page still there
    assert not (root / "datasets" / "evil").exists()
    assert not (root.parent / "escape.png").exists()
    at.text_input(key="upload_name_0").input("demo").run()
    at.file_uploader(key="upload_files_0").set_value(
        [("a.png", png_bytes(np.zeros((8, 8), np.uint8)), "image/png")]).run()
    at.button(key="upload_save").click().run()
    assert any("exists already" in e.value for e in at.error)
    assert (root / "datasets" / "demo" / "classes.json").is_file()


def test_good_zip_upload_becomes_a_dataset(app_env, tmp_path):
    root, _ = app_env
    source = make_pair_dataset(tmp_path / "d", count=3, size=(16, 16), classes=2)
    entries = {str(p.relative_to(source)): p.read_bytes() for p in source.rglob("*.png")}
    at = page("data").run()
    at.text_input(key="upload_name_0").input("uploaded").run()
    at.file_uploader(key="upload_files_0").set_value(
        [("d.zip", zip_bytes(entries), "application/zip")]).run()
    at.button(key="upload_save").click().run()
    no_exceptions(at)
    assert (root / "datasets" / "uploaded" / "images" / "0.png").is_file()
    assert at.selectbox(key="dataset_select").value == "uploaded"
    assert any(s.value == "Saved dataset uploaded." for s in at.success)
    assert any(s.value.startswith("uploaded: 3 images, 2 classes") for s in at.success)
    at.selectbox(key="dataset_select").select("demo").run()
    assert any(s.value.startswith("demo: 48 images") for s in at.success)
    assert at.query_params["dataset"] in ("demo", ["demo"])


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


def test_results_page_scores_the_run_once_and_shows_the_worst_images(app_env):
    import json

    root, run_id = app_env
    at = page("results")
    at.query_params["run"] = run_id
    at.run()
    no_exceptions(at)
    assert any("val mean IoU" in m.value for m in at.markdown)
    cache = root / "runs" / run_id / "eval_val_best.json"
    assert cache.is_file()  # the next rerun reads it instead of predicting again
    assert at.multiselect(key="results_runs").value == [run_id]
    assert at.selectbox(key="results_split").options == ["val", "train"]  # the demo has no test
    captions = [c for image in at.image for c in image.captions]
    assert at.slider(key="inspect_count").value == 3
    worst = json.loads(cache.read_text())["per_image"][0]["file"]
    assert f"{worst} · ground truth" in captions, captions
    before = cache.stat().st_mtime_ns
    at.slider(key="results_opacity").set_value(0.8).run()
    no_exceptions(at)
    assert cache.stat().st_mtime_ns == before
    assert at.get("download_button")


def test_results_page_compares_two_runs_and_lists_their_differences(app_env, tmp_path):
    import json
    import shutil

    root, run_id = app_env
    twin = root / "runs" / f"{run_id}-twin"
    shutil.copytree(root / "runs" / run_id, twin)
    info = json.loads((twin / "config.json").read_text())
    info["config"]["lr"] = 0.01
    (twin / "config.json").write_text(json.dumps(info))
    try:
        at = page("results").run()
        at.multiselect(key="results_runs").set_value([run_id, twin.name]).run()
        no_exceptions(at)
        tables = [d.value for d in at.dataframe]  # st.dataframe keys are not exposed here
        assert any(list(t.index) == ["lr"] and list(t.columns) == [run_id, twin.name]
                   for t in tables), tables
        at.selectbox(key="compare_metric").select("val_loss").run()
        no_exceptions(at)
        charts = [c for c in at.get("plotly_chart")]
        assert any("compare_classes" in c.proto.id for c in charts), [c.proto.id for c in charts]
    finally:
        shutil.rmtree(twin)


def test_predict_page_predicts_an_upload_and_rejects_junk(app_env):
    at = page("predict").run()
    no_exceptions(at)
    image = png_bytes(np.random.default_rng(0).integers(0, 255, (70, 90, 3), np.uint8))
    at.file_uploader(key="predict_images").set_value(
        [("x.png", image, "image/png"), ("junk.png", b"not a png", "image/png")]).run()
    no_exceptions(at)
    assert any("junk.png" in e.value for e in at.error)
    assert [d for d in at.get("download_button") if d.proto.label == "Download masks (zip)"]
    assert any("Upload its mask" in c.value for c in at.caption)


def test_predict_page_scores_against_an_uploaded_mask_and_names_a_bad_one(app_env):
    image = png_bytes(np.random.default_rng(1).integers(0, 255, (40, 48, 3), np.uint8))
    at = page("predict").run()
    at.file_uploader(key="predict_images").set_value(
        [("a.png", image, "image/png"), ("b.png", image, "image/png")]).run()
    at.file_uploader(key="predict_masks").set_value([
        ("a_mask.png", png_bytes(np.zeros((40, 48), np.uint8)), "image/png"),
        ("b.png", png_bytes(np.zeros((10, 10), np.uint8)), "image/png"),
    ]).run()
    no_exceptions(at)
    captions = [c for image in at.image for c in image.captions]
    assert any("errors in red · mean IoU" in c for c in captions), captions
    assert [e.value for e in at.error] == ["b.png: The mask is 10x10 but its image is 48x40."]


def test_train_page_resume_offered_for_a_stopped_run_and_picker_lists_runs(app_env):
    import json
    import shutil

    root, run_id = app_env
    stopped = root / "runs" / f"{run_id}-stopped"
    shutil.copytree(root / "runs" / run_id, stopped)
    status = json.loads((stopped / "status.json").read_text())
    (stopped / "status.json").write_text(json.dumps(dict(status, state="stopped")))
    try:
        at = page("train")
        at.query_params["run"] = stopped.name
        at.run()
        no_exceptions(at)
        assert at.button(key="resume")
        assert set(at.selectbox(key="watch_run").options) >= {run_id, stopped.name}
        at.selectbox(key="watch_run").select(run_id).run()
        no_exceptions(at)
        assert any("Run state: **finished**" in m.value for m in at.markdown)
        assert not [b for b in at.button if b.key == "resume"]
    finally:
        shutil.rmtree(stopped)


def test_class_editor_refuses_classes_that_do_not_fit_the_masks(app_env):
    root, _ = app_env
    classes = root / "datasets" / "demo" / "classes.json"
    before = classes.read_text()
    at = page("data").run()
    at.session_state["class_table_demo_0"] = {
        "edited_rows": {1: {"value": 7}}, "added_rows": [], "deleted_rows": []}
    at.run()
    at.button(key="save_classes").click().run()
    no_exceptions(at)
    assert any("Classes not saved" in e.value for e in at.error), [e.value for e in at.error]
    assert classes.read_text() == before


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
    at.text_input(key="upload_name_0").input("hostile").run()
    at.file_uploader(key="upload_files_0").set_value([(name, data, "application/octet-stream")]).run()
    at.button(key="upload_save").click().run()
    no_exceptions(at)
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert sorted(p.name for p in (root / "datasets").iterdir()) == before


def test_results_page_says_so_when_a_runs_dataset_is_gone(app_env):
    import json
    import shutil

    root, run_id = app_env
    orphan = root / "runs" / f"{run_id}-orphan"
    shutil.copytree(root / "runs" / run_id, orphan)
    info = json.loads((orphan / "config.json").read_text())
    info["config"]["data"] = str(root / "datasets" / "deleted")
    (orphan / "config.json").write_text(json.dumps(info))
    try:
        at = page("results")
        at.query_params["run"] = orphan.name
        at.run()
        no_exceptions(at)
        assert any("Cannot open the dataset run" in w.value and "deleted" in w.value
                   for w in at.warning), [w.value for w in at.warning]
        # The rest of the page still shows what the run's own records hold.
        assert "Training curves" in [h.value for h in at.subheader]
    finally:
        shutil.rmtree(orphan)


def test_a_broken_dataset_lists_its_problems_and_blocks_training(app_env):
    import shutil

    root, _ = app_env
    broken = make_pair_dataset(root / "datasets" / "broken", count=3, size=(16, 16), classes=2)
    (broken / "masks" / "1.png").unlink()
    try:
        at = page("data")
        at.query_params["dataset"] = "broken"
        at.run()
        no_exceptions(at)
        lines = [e.value for e in at.error]
        assert any("- broken/images/1.png: no matching mask in broken/masks." in line
                   for line in lines), lines
        assert not any(str(root) in line for line in lines)  # no absolute paths
        at = page("train")
        at.query_params["dataset"] = "broken"
        at.run()
        no_exceptions(at)
        assert any("fix them on the Data page" in e.value for e in at.error)
        assert at.button(key="start").disabled
    finally:
        shutil.rmtree(broken)


@pytest.mark.parametrize("name", ["train", "results", "predict"])
def test_a_run_id_in_the_url_cannot_point_outside_the_runs_folder(app_env, name):
    root, run_id = app_env
    at = page(name)
    at.query_params["run"] = f"../runs/{run_id}"
    at.run()
    no_exceptions(at)
    assert not any(run_id in m.value and "../" in m.value for m in at.markdown)
    if name == "train":  # the newest real run is shown instead, and the URL names it
        assert at.query_params["run"] in (run_id, [run_id])
        assert not any("No run yet" in i.value for i in at.info)


def test_class_editor_saves_a_rename_and_forgets_the_applied_edits(app_env):
    root, _ = app_env
    classes = root / "datasets" / "demo" / "classes.json"
    before = classes.read_text()
    try:
        at = page("data").run()
        at.session_state["class_table_demo_0"] = {
            "edited_rows": {0: {"name": "sky"}}, "added_rows": [], "deleted_rows": []}
        at.run()
        at.button(key="save_classes").click().run()
        no_exceptions(at)
        assert any(s.value == "Classes saved." for s in at.success)
        assert '"sky"' in classes.read_text()
        assert at.session_state["class_table_demo_1"]["edited_rows"] == {}  # a fresh editor
    finally:
        classes.write_text(before)


def test_save_without_files_or_name_says_what_is_missing(app_env):
    at = page("data").run()
    at.button(key="upload_save").click().run()
    assert [e.value for e in at.error] == [
        "Nothing was uploaded: pick files, a zip or a folder first."]
    at.file_uploader(key="upload_files_0").set_value(
        [("a.png", png_bytes(np.zeros((8, 8), np.uint8)), "image/png")]).run()
    at.button(key="upload_save").click().run()
    assert [e.value for e in at.error] == [
        "Name the dataset first (letters, digits, '.', '_' or '-')."]
    at.file_uploader(key="upload_files_0").set_value(
        [("my set.zip", zip_bytes({"a.png": b"x"}), "application/zip")]).run()
    assert at.text_input(key="upload_name_0").placeholder == "my-set"  # named after the zip
    no_exceptions(at)


def test_train_page_counts_the_models_parameters_on_demand(app_env):
    at = page("train").run()
    at.slider(key="hp_depth").set_value(2).run()
    at.slider(key="hp_base_filters").set_value(8).run()
    at.button(key="model_size").click().run()
    no_exceptions(at)
    line = next(m.value for m in at.markdown if "parameters" in m.value)
    assert line.startswith("**unet**: ") and "GFLOPs per 128x128 image · 4 classes" in line


@pytest.mark.parametrize("name", ["results", "predict"])
def test_results_and_predict_say_a_running_run_shows_after_its_first_epoch(workspace, name):
    from segcore import runlock, runs
    from segcore.commands.data import ensure_demo
    from segcore.training.config import RunConfig

    config = RunConfig(data=str(ensure_demo(workspace)), model="unet", epochs=2)
    at = page(name).run()
    assert any("No trained runs yet" in i.value for i in at.info)
    path = runs.create_run(workspace, config, **runlock.identity())  # queued, trainer alive
    at = page(name).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(f"Run {path.name} is queued: it saves its first checkpoint" in i.value
               for i in at.info), [i.value for i in at.info]
