"""Results: runs of other datasets or classes are flagged, tables read as typed, runs coloured."""

import json
import re
import shutil

from page_runner import page


def no_exceptions(at):
    assert not at.exception, [e.value for e in at.exception]


def twin_of(root, run_id, suffix, change):
    """A copy of the run whose config.json `change` edits."""
    # Links kept as links: ckpt/current must stay the link to the committed generation.
    twin = shutil.copytree(root / "runs" / run_id, root / "runs" / f"{run_id}-{suffix}",
                           symlinks=True)
    info = json.loads((twin / "config.json").read_text())
    change(info)
    (twin / "config.json").write_text(json.dumps(info))
    return twin


def test_runs_of_another_dataset_and_classes_are_flagged_and_still_compared(app_env):
    root, run_id = app_env

    def elsewhere(info):
        info["config"]["data"] = str(root / "datasets" / "cells")
        info["config"]["batch_size"] = 4
        info["class_map"]["classes"][-1]["name"] = "nucleus"

    twin = twin_of(root, run_id, "cells", elsewhere)
    try:
        at = page("results")
        at.query_params["run"] = run_id
        at.run()
        at.multiselect(key="results_runs").set_value([run_id, twin.name]).run()
        no_exceptions(at)
        warnings = [w.value for w in at.warning]
        assert any(f"different datasets ({run_id}: demo; {twin.name}: cells)" in w
                   for w in warnings), warnings
        assert any("different classes" in w and "shows only the 3 they share" in w
                   for w in warnings), warnings
        # The per-class chart is drawn over the shared classes instead of vanishing.
        charts = {c.proto.id: c for c in at.get("plotly_chart")}
        classes = next(c for key, c in charts.items() if "compare_classes" in key)
        assert "nucleus" not in classes.proto.spec
        curves = next(c for key, c in charts.items() if "compare_runs" in key)
        assert "#0072B2" in curves.proto.spec and "#E69F00" in curves.proto.spec
        tables = [d.value for d in at.dataframe]
        runs_table = next(t for t in tables if "dataset" in t.columns)
        assert list(runs_table["dataset"]) == ["demo", "cells"]
        assert list(runs_table["classes"]) == [4, 4]
        diff = next(t for t in tables if list(t.columns) == [run_id, twin.name])
        assert diff.loc["batch_size"].tolist() == ["8", "4"]  # not "8.0", "4.0"
        captions = [c.value for c in at.caption]
        assert any(re.fullmatch(r"Scores of the best checkpoint \(epoch [12]\)\.", c)
                   for c in captions), captions
    finally:
        shutil.rmtree(twin)


def test_a_run_without_a_validated_epoch_is_named_not_silently_dropped(app_env):
    root, run_id = app_env
    twin = twin_of(root, run_id, "unscored", lambda info: None)
    (twin / "metrics.jsonl").write_text("")
    try:
        at = page("results").run()
        at.multiselect(key="results_runs").set_value([run_id, twin.name]).run()
        no_exceptions(at)
        assert [i.value for i in at.info] == [
            f"Run {twin.name} has no validated epoch yet: it is left out of the per-class "
            "chart."]
        assert any("compare_classes" in c.proto.id for c in at.get("plotly_chart"))
        assert not at.warning  # same dataset, same classes: nothing to warn about
    finally:
        shutil.rmtree(twin)


def test_scores_of_a_run_still_training_name_the_checkpoint_epoch(app_env):
    from segcore import runs
    from segcore.runlock import TrainerLock

    root, run_id = app_env
    live = twin_of(root, run_id, "live", lambda info: None)
    runs.write_status(live, state="running", epochs=5)
    lock = TrainerLock(live.parent).hold_run(live)  # this process is its "trainer": alive
    try:
        at = page("results")
        at.query_params["run"] = live.name
        at.run()
        no_exceptions(at)
        captions = [c.value for c in at.caption]
        assert any(re.fullmatch(r"Scores of the best checkpoint \(epoch [12]\); still training: "
                                r"2 of 5 epochs done, scores follow each better checkpoint\.", c)
                   for c in captions), captions
    finally:
        lock.release()
        shutil.rmtree(live)
