"""Results page logic as plain functions: run tables, differences, what compares and how."""

import math

from test_progress import write_run

from segcore import comparison
from segcore.runs import RunInfo


def run_info(tmp_path, run_id, data="/ws/datasets/demo", names=("bg", "cell"), fingerprint="f1",
             epochs=(), status=None):
    """A RunInfo over a run folder holding `epochs` in its metrics."""
    path = write_run(tmp_path / run_id, "finished", epochs=epochs)
    config = {"config": {"model": "unet", "data": data, "epochs": 2, "batch_size": 8},
              "class_map": {"classes": [{"name": n, "color": [0, 0, 0], "value": i}
                                        for i, n in enumerate(names)]},
              "dataset_fingerprint": fingerprint}
    return RunInfo(run_id, path, status or {"state": "finished", "best_mean_iou": 0.41234},
                   config)


def test_runs_table_names_the_dataset_and_counts_classes(tmp_path):
    info = run_info(tmp_path, "r1", epochs=[{"epoch": 1, "seconds": 60.0},
                                            {"epoch": 2, "seconds": 30.0}])
    assert comparison.runs_table([info]) == [{
        "run": "r1", "dataset": "demo", "classes": 2, "model": "unet", "state": "finished",
        "epochs": "2/2", "best val mean IoU": 0.4123, "minutes": 1.5}]


def test_settings_read_as_typed_whole_numbers_stay_whole():
    texts = [comparison.setting_text(v) for v in (4, 4.0, 0.001, 1e-5, None, True, [32, 48],
                                                  {"depth": 2}, "adam")]
    assert texts == ["4", "4", "0.001", "1e-05", "—", "yes", "32x48", '{"depth": 2}', "adam"]
    rows = comparison.differences_rows({"batch_size": {"a": 4, "b": 8},
                                        "lr": {"a": 0.001, "b": 0.01}})
    assert rows == {"batch_size": {"a": "4", "b": "8"}, "lr": {"a": "0.001", "b": "0.01"}}


def test_runs_of_one_dataset_and_classes_compare_without_a_warning(tmp_path):
    a, b = run_info(tmp_path, "a"), run_info(tmp_path, "b")
    assert comparison.comparison_notes([a, b]) == []
    assert comparison.comparison_notes([a]) == []


def test_other_datasets_a_changed_dataset_and_other_classes_are_each_said(tmp_path):
    a = run_info(tmp_path, "a")
    other = run_info(tmp_path, "b", data="/ws/datasets/cells", names=("bg", "cell", "nucleus"))
    notes = comparison.comparison_notes([a, other])
    assert len(notes) == 2
    assert "different datasets (a: demo; b: cells)" in notes[0]
    assert "different classes (a: bg, cell; b: bg, cell, nucleus)" in notes[1]
    assert "shows only the 2 they share (bg, cell)" in notes[1]
    changed = run_info(tmp_path, "c", fingerprint="f2")
    assert comparison.comparison_notes([a, changed]) == [
        "Dataset demo changed between these runs (files added, removed or edited): their "
        "validation images may differ."]
    apart = run_info(tmp_path, "d", names=("sky", "road"))
    assert "no class is in all of them, so there is no per-class chart" in (
        comparison.comparison_notes([a, apart])[0])


def test_per_class_comparison_keeps_the_shared_classes_and_says_who_is_left_out(tmp_path):
    a = run_info(tmp_path, "a", names=("bg", "cell"))
    b = run_info(tmp_path, "b", names=("cell", "nucleus", "bg"))
    c = run_info(tmp_path, "c")
    curves = {"a": [{"epoch": 1, "val_mean_iou": 0.5, "per_class_iou": [0.9, 0.1]},
                    {"epoch": 2, "val_mean_iou": 0.6, "per_class_iou": [0.95, 0.25]}],
              "b": [{"epoch": 1, "val_mean_iou": 0.4, "per_class_iou": [0.3, 0.2, 0.8]}],
              "c": [{"epoch": 1, "val_mean_iou": math.nan, "per_class_iou": [None, None]}]}
    names, values, notes = comparison.per_class_comparison([a, b, c], curves)
    assert names == ["bg", "cell"]
    assert values == {"a": [0.95, 0.25], "b": [0.8, 0.3]}  # b's classes in a's order
    assert notes == ["Run c has no validated epoch yet: it is left out of the per-class chart."]


def test_scores_name_their_checkpoint_epoch_and_a_run_still_training():
    finished = {"state": "finished", "epoch": 30, "epochs": 30, "best_epoch": 27}
    assert comparison.score_source(finished) == "best checkpoint (epoch 27)"
    assert comparison.score_source(finished, "last") == "last checkpoint (epoch 30)"
    running = {"state": "running", "epoch": 5, "epochs": 30, "best_epoch": 3}
    assert comparison.score_source(running) == (
        "best checkpoint (epoch 3); still training: 5 of 30 epochs done, scores follow each "
        "better checkpoint")


def test_config_differences_lists_only_settings_that_differ_flattened():
    a = {"model": "unet", "lr": 0.001, "augment": {"hflip": True, "vflip": False}}
    b = {"model": "unet", "lr": 0.01, "augment": {"hflip": True, "vflip": True}, "crop": [16, 16]}
    diff = comparison.config_differences({"a": a, "b": b})
    assert set(diff) == {"lr", "augment.vflip", "crop"}
    assert diff["lr"] == {"a": 0.001, "b": 0.01}
    assert diff["crop"] == {"a": None, "b": [16, 16]}
    assert comparison.config_differences({"a": a, "a2": dict(a)}) == {}


def test_metrics_csv_has_one_row_per_run_epoch_and_spreads_per_class_lists():
    csv = comparison.metrics_csv({"a": [{"epoch": 1, "val_mean_iou": 0.5,
                                       "per_class_iou": [0.9, None]}],
                                "b": [{"epoch": 1, "val_mean_iou": 0.6}]})
    lines = csv.strip().splitlines()
    assert lines[0] == "run,epoch,val_mean_iou,per_class_iou_0,per_class_iou_1"
    assert lines[1] == "a,1,0.5,0.9,"
    assert lines[2] == "b,1,0.6,,"


def test_best_epoch_skips_unscored_epochs():
    records = [{"epoch": 1, "val_mean_iou": float("nan")}, {"epoch": 2, "val_mean_iou": 0.4},
               {"epoch": 3, "val_mean_iou": 0.3}, {"epoch": 4, "val_mean_iou": None}]
    assert comparison.best_epoch(records)["epoch"] == 2
    assert comparison.best_epoch([]) is None
