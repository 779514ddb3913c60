"""Page logic as plain functions: class table, warnings, run tables, downloads."""

import numpy as np
import pytest
from test_progress import write_run

from segcore import appstate
from segcore.errors import ConfigError, DataError
from segcore.runs import RunInfo
from segcore.training.settings import run_summary


def test_config_differences_lists_only_settings_that_differ_flattened():
    a = {"model": "unet", "lr": 0.001, "augment": {"hflip": True, "vflip": False}}
    b = {"model": "unet", "lr": 0.01, "augment": {"hflip": True, "vflip": True}, "crop": [16, 16]}
    diff = appstate.config_differences({"a": a, "b": b})
    assert set(diff) == {"lr", "augment.vflip", "crop"}
    assert diff["lr"] == {"a": 0.001, "b": 0.01}
    assert diff["crop"] == {"a": None, "b": [16, 16]}
    assert appstate.config_differences({"a": a, "a2": dict(a)}) == {}


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
    assert [r["median"] for r in rows] == [0.5, 5.0, 1.0]  # losses.py's worked example
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


def test_run_summary_and_runs_table(tmp_path):
    config = {"model": "unet", "hparams": {"depth": 2}, "img_size": [32, 32], "epochs": 2,
              "batch_size": 8, "lr": 0.003, "optimizer": "adam", "schedule": "cosine",
              "loss": "ce"}
    assert run_summary(config) == (
        "unet depth=2 · 32x32 · 2 epochs · batch 8 · lr 0.003 adam/cosine · loss ce")
    path = write_run(tmp_path / "r1", "finished",
                     epochs=[{"epoch": 1, "seconds": 60.0}, {"epoch": 2, "seconds": 30.0}])
    info = RunInfo("r1", path, {"state": "finished", "best_mean_iou": 0.41234},
                   {"config": config})
    assert appstate.runs_table([info]) == [{
        "run": "r1", "model": "unet", "state": "finished", "epochs": "2/2",
        "best val mean IoU": 0.4123, "minutes": 1.5}]


def test_metrics_csv_has_one_row_per_run_epoch_and_spreads_per_class_lists():
    csv = appstate.metrics_csv({"a": [{"epoch": 1, "val_mean_iou": 0.5,
                                       "per_class_iou": [0.9, None]}],
                                "b": [{"epoch": 1, "val_mean_iou": 0.6}]})
    lines = csv.strip().splitlines()
    assert lines[0] == "run,epoch,val_mean_iou,per_class_iou_0,per_class_iou_1"
    assert lines[1] == "a,1,0.5,0.9,"
    assert lines[2] == "b,1,0.6,,"


def test_masks_download_as_labels_raw_values_or_colours():
    from segcore.data.classes import ClassMap

    class_map = ClassMap(["bg", "fg"], [(0, 0, 0), (255, 0, 0)], [0, 255])
    labels = np.array([[0, 1], [255, 1]], np.uint8)
    assert appstate.mask_for_download(labels, class_map) is labels
    assert appstate.mask_for_download(labels, class_map, "values").tolist() == [[0, 255], [0, 255]]
    colours = appstate.mask_for_download(labels, class_map, "colours")
    assert colours.shape == (2, 2, 3) and colours[0, 1].tolist() == [255, 0, 0]
    with pytest.raises(ConfigError):
        appstate.mask_for_download(labels, class_map, "jpeg")


def test_pair_masks_by_stem_with_or_without_the_mask_suffix():
    pairs = appstate.pair_masks(["a.png", "b.jpg", "c.png"], ["a_mask.png", "b.png"])
    assert pairs == {"a.png": "a_mask.png", "b.jpg": "b.png"}


def test_mask_scores_and_a_mask_of_the_wrong_size():
    truth = np.array([[0, 1], [1, 255]], np.uint8)
    iou, accuracy = appstate.mask_scores(np.array([[0, 1], [0, 0]], np.uint8), truth, 2)
    assert accuracy == pytest.approx(2 / 3) and iou == pytest.approx((0.5 + 0.5) / 2)
    with pytest.raises(DataError, match="mask is 3x2 but its image is 2x2"):
        appstate.mask_scores(np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8), 2)


def test_shrink_keeps_small_images_and_bounds_large_ones():
    small = np.zeros((10, 20, 3), np.uint8)
    assert appstate.shrink(small) is small
    big = np.zeros((3000, 1500), np.uint8)
    assert appstate.shrink(big, 1000, nearest=True).shape == (1000, 500)


def test_best_epoch_skips_unscored_epochs():
    records = [{"epoch": 1, "val_mean_iou": float("nan")}, {"epoch": 2, "val_mean_iou": 0.4},
               {"epoch": 3, "val_mean_iou": 0.3}, {"epoch": 4, "val_mean_iou": None}]
    assert appstate.best_epoch(records)["epoch"] == 2
    assert appstate.best_epoch([]) is None
