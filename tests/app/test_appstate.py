"""Data page logic as plain functions: doctor caching, warnings, class table and editor."""

import pytest

from segcore import appstate
from segcore.errors import ConfigError
from segcore.training.settings import run_summary


def test_folder_signature_changes_when_a_file_changes(tmp_path):
    (tmp_path / "a.png").write_bytes(b"1")
    before = appstate.folder_signature(tmp_path)
    assert appstate.folder_signature(tmp_path) == before
    (tmp_path / "classes.json").write_text("{}")
    assert appstate.folder_signature(tmp_path) != before


def test_problem_lines_name_files_relative_to_the_dataset(tmp_path):
    root = tmp_path / "datasets" / "mine"
    lines = appstate.relative_problems([f"{root}/masks/a.png: bad", f"{root}: empty"], root)
    assert lines == ["mine/masks/a.png: bad", "mine: empty"]


def test_dataset_warnings_flag_rare_and_absent_classes_few_images_and_mixed_sizes():
    summary = {"images_per_split": {"all": 4}, "sizes": {"64x64": 3, "32x32": 1},
               "classes": [{"name": "bg", "value": 0, "pixel_share": 0.995},
                           {"name": "crack", "value": 1, "pixel_share": 0.005},
                           {"name": "rust", "value": 2, "pixel_share": 0.0}],
               "void_share": 0.0}
    text = " ".join(appstate.dataset_warnings(summary))
    assert "Only 4 images" in text and "'crack' covers only 0.50%" in text
    assert "'rust' (mask value 2) never occurs" in text and "2 sizes" in text
    healthy = dict(summary, images_per_split={"all": 40}, sizes={"64x64": 40},
                   classes=summary["classes"][:1])
    assert appstate.dataset_warnings(healthy) == []


def test_class_share_table_suggests_inverse_and_median_weights():
    summary = {"classes": [{"name": "a", "value": 0, "pixel_share": 0.625},
                           {"name": "b", "value": 1, "pixel_share": 0.0625},
                           {"name": "c", "value": 2, "pixel_share": 0.3125}]}
    rows = appstate.class_share_table(summary)
    assert [r["median"] for r in rows] == [0.5, 5.0, 1.0]  # class_weights.py's worked example
    assert [r["inverse"] for r in rows] == [0.533, 5.333, 1.067]


def test_class_map_from_table_builds_or_names_the_bad_row():
    class_map = appstate.class_map_from_table(["bg", "fg"], ["#000000", "ff8800"], [0, 255], -1)
    assert class_map.colors == [(0, 0, 0), (255, 136, 0)] and class_map.ignore_value is None
    assert appstate.class_map_from_table(["a"], ["#010203"], [1], 11).ignore_value == 11
    for args, message in [
        ((["bg", ""], ["#000000", "#ffffff"], [0, 1], -1), "Row 2: every class needs a name"),
        ((["bg", "fg"], ["#000000", "red"], [0, 1], -1), "Row 2: colour 'red'"),
        ((["bg", "fg"], ["#000000", "#ffffff"], [0, "x"], -1), "Row 2: mask value 'x'"),
        ((["bg", "bg"], ["#000000", "#ffffff"], [0, 1], -1), "distinct"),
        ((["bg", "fg"], ["#000000", "#ffffff"], [0, 0], -1), "distinct"),
        ((["bg", "fg"], ["#000000", "#ffffff"], [0, 1], 1), "differ from the void"),
    ]:
        with pytest.raises(ConfigError, match=message):
            appstate.class_map_from_table(*args)


def test_run_summary_reads_like_the_settings():
    config = {"model": "unet", "hparams": {"depth": 2}, "img_size": [32, 32], "epochs": 2,
              "batch_size": 8, "lr": 0.003, "optimizer": "adam", "schedule": "cosine",
              "loss": "ce"}
    assert run_summary(config) == (
        "unet depth=2 · 32x32 · 2 epochs · batch 8 · lr 0.003 adam/cosine · loss ce")


def test_run_summary_names_the_class_weighting_and_how_the_correction_is_set():
    config = {"model": "unet", "hparams": {}, "img_size": [32, 32], "epochs": 2,
              "batch_size": 8, "lr": 0.003, "optimizer": "adam", "schedule": "cosine",
              "loss": "ce", "class_weights": "median", "prior_correction": 0.5}
    assert run_summary(config).endswith("loss ce · class weights median, prior correction 0.5")
    fitted = run_summary({**config, "prior_fit": "train"})
    assert fitted.endswith("class weights median, prior correction fitted from 0.5")
    assert run_summary({**config, "class_weights": "none"}).endswith("· loss ce")
    smoothed = run_summary({**config, "label_smoothing": 0.1})
    assert smoothed.endswith("loss ce, label smoothing 0.1 · class weights median, prior "
                             "correction 0.5")
    assert run_summary({**config, "label_smoothing": 0.0}) == run_summary(config)
