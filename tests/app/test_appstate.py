"""Page logic as plain functions: polling, ETA, uploads, class table, warnings, run tables."""

import json
import os

import numpy as np
import pytest

from helpers import png_bytes
from segcore import appstate, runlock
from segcore.errors import ConfigError, DataError
from segcore.runs import RunInfo


HELD = []  # run locks this process holds: its runs read as alive while the tests run


def write_run(path, state, epochs=(), steps=(), total=4, steps_per_epoch=10, pid=None, torn=False):
    """A run folder; without `pid` it reads as alive (this process holds its trainer lock)."""
    path.mkdir(parents=True, exist_ok=True)
    status = {"state": state, "epochs": total, "steps_per_epoch": steps_per_epoch,
              "pid": pid or os.getpid(), "best_mean_iou": 0.5}
    if pid is None:
        HELD.append(runlock.TrainerLock(path.parent).hold_run(path))
    (path / "status.json").write_text(json.dumps(status))
    lines = [json.dumps({"kind": "step", **s}) for s in steps]
    lines += [json.dumps({"kind": "epoch", **e}) for e in epochs]
    text = "\n".join(lines) + "\n" + ('{"kind": "epo' if torn else "")
    (path / "metrics.jsonl").write_text(text)
    (path / "config.json").write_text(json.dumps({"config": {"model": "unet", "epochs": total}}))
    return path


def test_progress_of_a_queued_run_is_zero_and_keeps_polling(tmp_path):
    progress = appstate.run_progress(write_run(tmp_path / "r", "queued"))
    assert progress["fraction"] == 0 and progress["active"] and progress["eta_seconds"] is None
    assert appstate.poll_interval(progress["active"]) == 1.0


def test_progress_mid_first_epoch_estimates_eta_from_the_step_rate(tmp_path):
    steps = [{"step": 5, "epoch": 0, "loss": 1.0, "time": 100.0},
             {"step": 10, "epoch": 0, "loss": 0.9, "time": 110.0}]
    progress = appstate.run_progress(write_run(tmp_path / "r", "running", steps=steps))
    assert progress["fraction"] == pytest.approx(10 / 40)
    assert progress["eta_seconds"] == pytest.approx(2.0 * 30)  # 2 s per step, 30 steps left


def test_progress_after_an_epoch_uses_epoch_time_and_skips_a_torn_line(tmp_path):
    steps = [{"step": 20, "epoch": 1, "loss": 0.5, "time": 1.0}]
    epochs = [{"epoch": 1, "seconds": 30.0}, {"epoch": 2, "seconds": 50.0}]
    progress = appstate.run_progress(
        write_run(tmp_path / "r", "running", epochs=epochs, steps=steps, torn=True))
    assert progress["epoch"] == 2 and progress["fraction"] == pytest.approx(0.5)
    assert progress["eta_seconds"] == pytest.approx(40.0 * 4 * 0.5)
    assert appstate.format_eta(progress["eta_seconds"]) == "1m 20s"


def test_a_running_run_whose_process_died_reads_as_failed_and_stops_polling(tmp_path):
    progress = appstate.run_progress(write_run(tmp_path / "r", "running", pid=2**22 + 7))
    assert progress["state"] == "failed" and not progress["active"]
    assert "resume" in progress["message"]
    assert appstate.poll_interval(progress["active"]) is None
    assert appstate.can_resume("failed") and appstate.can_resume("stopped")
    assert not appstate.can_resume("finished") and not appstate.can_resume("running")


def test_finished_run_is_complete_even_if_stopped_early_by_patience(tmp_path):
    epochs = [{"epoch": 1, "seconds": 3.0}]
    progress = appstate.run_progress(write_run(tmp_path / "r", "finished", epochs=epochs))
    assert progress["fraction"] == 1.0 and not progress["active"]


def test_format_eta():
    assert appstate.format_eta(None) == "estimating…"
    assert appstate.format_eta(59.9) == "59s"
    assert appstate.format_eta(3725) == "62m 05s"


def test_config_differences_lists_only_settings_that_differ_flattened():
    a = {"model": "unet", "lr": 0.001, "augment": {"hflip": True, "vflip": False}}
    b = {"model": "unet", "lr": 0.01, "augment": {"hflip": True, "vflip": True}, "crop": [16, 16]}
    diff = appstate.config_differences({"a": a, "b": b})
    assert set(diff) == {"lr", "augment.vflip", "crop"}
    assert diff["lr"] == {"a": 0.001, "b": 0.01}
    assert diff["crop"] == {"a": None, "b": [16, 16]}
    assert appstate.config_differences({"a": a, "a2": dict(a)}) == {}


def tiny_png(value=0, size=(8, 8)):
    return png_bytes(np.full(size, value, np.uint8))


def test_loose_uploads_pair_by_mask_suffix_and_masks_folder(tmp_path):
    files = [("a.png", tiny_png(10)), ("a_mask.png", tiny_png(1)),
             ("set/images/b.png", tiny_png(20)), ("set/masks/b.png", tiny_png(0)),
             ("c d é.PNG", tiny_png(30)), ("c d é_mask.png", tiny_png(1))]
    dest = appstate.save_uploads(files, tmp_path / "new")
    assert sorted(p.name for p in (dest / "images").iterdir()) == ["a.png", "b.png", "c d é.png"]
    assert sorted(p.name for p in (dest / "masks").iterdir()) == ["a.png", "b.png", "c d é.png"]
    assert [p.name for p in tmp_path.iterdir()] == ["new"]  # the staging folder is gone


def test_folder_upload_keeps_split_folders(tmp_path):
    files = [(f"data/{split}/{kind}/{i}.png", tiny_png(i % 2))
             for split in ("train", "val") for kind in ("images", "masks") for i in range(2)]
    dest = appstate.save_uploads(files, tmp_path / "split")
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
        appstate.save_uploads(files, tmp_path / "bad")
    assert list(tmp_path.iterdir()) == []


def test_upload_never_replaces_an_existing_dataset(tmp_path):
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "marker").write_text("x")
    with pytest.raises(DataError, match="exists already"):
        appstate.save_uploads([("a.png", tiny_png()), ("a_mask.png", tiny_png())],
                              tmp_path / "keep")
    assert (tmp_path / "keep" / "marker").read_text() == "x"


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


def test_option_help_comes_from_the_run_config():
    assert "weight decay" in appstate.option_help("weight_decay")
    with pytest.raises(KeyError):
        appstate.option_help("nope")


def test_run_summary_and_runs_table(tmp_path):
    config = {"model": "unet", "hparams": {"depth": 2}, "img_size": [32, 32], "epochs": 2,
              "batch_size": 8, "lr": 0.003, "optimizer": "adam", "schedule": "cosine",
              "loss": "ce"}
    assert appstate.run_summary(config) == (
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


def test_folder_upload_keeps_its_classes_json_and_skips_hidden_files(tmp_path):
    classes = b'{"classes": [{"name": "bg", "value": 0}, {"name": "fg", "value": 1}]}'
    files = [("d/classes.json", classes), ("d/.DS_Store", b"junk"),
             ("d/images/a.png", tiny_png()), ("d/masks/a.png", tiny_png(1))]
    dest = appstate.save_uploads(files, tmp_path / "d")
    assert (dest / "classes.json").read_bytes() == classes
    assert not list(dest.rglob(".DS_Store"))


def test_two_names_that_sanitize_alike_are_refused_not_overwritten(tmp_path):
    files = [("a?.png", tiny_png()), ("a.png", tiny_png()), ("a_mask.png", tiny_png())]
    with pytest.raises(DataError, match="would both be saved as images/a.png"):
        appstate.save_uploads(files, tmp_path / "x")


def test_suggest_name_from_zip_or_folder():
    assert appstate.suggest_name(["my data (v2).zip"]) == "my-data--v2"
    assert appstate.suggest_name(["cracks/images/a.png", "cracks/masks/a.png"]) == "cracks"
    assert appstate.suggest_name(["a.png"]) == ""
    assert appstate.suggest_name([]) == ""


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


def test_progress_is_not_full_while_the_last_validation_runs(tmp_path):
    steps = [{"step": 40, "epoch": 3, "loss": 0.5, "time": 1.0}]
    epochs = [{"epoch": n, "seconds": 10.0} for n in (1, 2, 3)]
    progress = appstate.run_progress(
        write_run(tmp_path / "r", "running", epochs=epochs, steps=steps))
    assert progress["fraction"] == 0.99 and progress["eta_seconds"] > 0


def test_best_epoch_skips_unscored_epochs():
    records = [{"epoch": 1, "val_mean_iou": float("nan")}, {"epoch": 2, "val_mean_iou": 0.4},
               {"epoch": 3, "val_mean_iou": 0.3}, {"epoch": 4, "val_mean_iou": None}]
    assert appstate.best_epoch(records)["epoch"] == 2
    assert appstate.best_epoch([]) is None
