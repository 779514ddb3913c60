"""Datasets and runs managed in the app: rename, delete after a confirmation saying what goes,
run names beside ids; the first-open guide and its demo run; the few-steps warning before
Start."""

import shutil

import pytest
from streamlit.testing.v1 import AppTest

from helpers import make_pair_dataset
from page_runner import REPO, page
from segcore import launch, runs
from segcore.training.config import RunConfig


def no_exceptions(at):
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.slow  # the demo run trains in a real background process
def test_first_open_shows_the_guide_and_the_demo_run_starts_and_opens_train(workspace):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()
    no_exceptions(at)
    guide = [i.value for i in at.info if "New here?" in i.value]
    assert guide and all(step in guide[0] for step in ("**Data**", "**Train**", "**Results**",
                                                       "**Predict**")), guide
    at.button(key="demo_run").click().run()
    no_exceptions(at)
    started = runs.list_runs(workspace)
    try:
        assert [r.name for r in started] == ["demo-run"]
        assert started[0].config["config"]["epochs"] == 4
        # Now on Train, showing the demo run and its settings (not the defaults).
        assert any("Dataset: **demo**" in c.value for c in at.caption)
        assert at.query_params["run"] in (started[0].run_id, [started[0].run_id])
        assert at.slider(key="epochs").value == 4 and at.slider(key="hp_depth").value == 2
        assert at.selectbox(key="watch_run").options == [f"{started[0].run_id} · demo-run"]
        fresh = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()  # new tab
        sidebar = [m.value for m in fresh.sidebar.markdown]  # the run's line polls: a fragment
        assert f"**{started[0].run_id}** · demo-run  \nrunning" in sidebar or \
            f"**{started[0].run_id}** · demo-run  \nqueued" in sidebar, sidebar
        assert not any("training steps per epoch" in w.value for w in at.warning)
    finally:
        assert launch.stop_run(workspace, started[0].run_id, timeout=60) in runs.FINAL
    at.switch_page("app_pages/data.py").run()
    assert not any("New here?" in i.value for i in at.info)  # a run exists now


def test_train_warns_before_start_when_an_epoch_has_few_steps(app_env):
    at = page("train").run()  # the demo: 48 images, a fifth held out, batch size 8
    no_exceptions(at)
    assert any(w.value.startswith("Only 4 training steps per epoch (38 training images at "
                                  "batch size 8)") for w in at.warning), [w.value for w in at.warning]
    at.slider(key="batch_size").set_value(2).run()
    assert not any("training steps per epoch" in w.value for w in at.warning)


def test_a_run_is_named_then_deleted_after_a_confirmation(app_env):
    root, run_id = app_env
    twin = shutil.copytree(root / "runs" / run_id, root / "runs" / f"{run_id}-b")
    try:
        at = page("train")
        at.query_params["run"] = twin.name
        at.run()
        no_exceptions(at)
        at.text_input(key=f"run_name_edit_{twin.name}").input("baseline")
        at.button(key="save_run_name").click().run()
        no_exceptions(at)
        assert any(s.value == f"Run {twin.name} is now named baseline." for s in at.success)
        assert runs.read_run_name(twin) == "baseline"
        assert f"{twin.name} · baseline" in at.selectbox(key="watch_run").options
        predict = page("predict")
        predict.query_params["run"] = twin.name
        predict.run()
        assert f"{twin.name} · baseline" in predict.selectbox(key="predict_run").options

        at.button(key="delete_run").click().run()
        question = [w.value for w in at.warning if w.value.startswith("Delete run")]
        assert question and f"**{twin.name} · baseline** (finished, trained on demo)" in \
            question[0] and "files" in question[0], [w.value for w in at.warning]
        at.button(key="delete_run_cancel").click().run()
        assert not any(w.value.startswith("Delete run") for w in at.warning)
        assert twin.is_dir()
        at.button(key="delete_run").click().run()
        at.button(key="delete_run_confirm").click().run()
        no_exceptions(at)
        assert not twin.exists()
        assert any(s.value == f"Deleted run {twin.name}." for s in at.success)
        # The tab falls back to a run that is left (other tests may have added runs here).
        left = at.query_params["run"]
        left = left[0] if isinstance(left, list) else left
        assert left != twin.name and (root / "runs" / left).is_dir()
    finally:
        shutil.rmtree(twin, ignore_errors=True)


def test_a_dataset_is_renamed_then_deleted_after_a_confirmation(app_env):
    root, _ = app_env
    make_pair_dataset(root / "datasets" / "cells", count=3, size=(16, 16), classes=2)
    # A run trained on it (its folder only): it follows the rename and outlives the deletion.
    trained = runs.create_run(root, RunConfig(data=str(root / "datasets" / "cells")))
    runs.write_status(trained, state="finished")
    try:
        at = page("data")
        at.query_params["dataset"] = "cells"
        at.run()
        no_exceptions(at)
        at.text_input(key="dataset_new_name_cells").input("cells2")
        at.button(key="rename_dataset").click().run()
        no_exceptions(at)
        assert (root / "datasets" / "cells2").is_dir() and not (root / "datasets" / "cells").exists()
        assert at.selectbox(key="dataset_select").value == "cells2"
        assert any(s.value == "Renamed cells to cells2." for s in at.success)

        at.button(key="delete_dataset").click().run()
        question = [w.value for w in at.warning if w.value.startswith("Delete dataset")]
        assert question and "**cells2**? Its 6 files" in question[0] \
            and f"Runs trained on it stay (1: {trained.name})" in question[0], question
        at.button(key="delete_dataset_confirm").click().run()
        no_exceptions(at)
        assert not (root / "datasets" / "cells2").exists()
        assert at.selectbox(key="dataset_select").value == "demo"
        assert any(s.value == "Deleted dataset cells2." for s in at.success)
        assert any("cannot be renamed or deleted" in c.value for c in at.caption)  # the demo

        train = page("train")
        train.query_params["run"] = trained.name
        train.run()
        no_exceptions(train)
        assert any(f"Run {trained.name} was trained on dataset **cells2** (deleted since)"
                   in w.value for w in train.warning), [w.value for w in train.warning]
    finally:
        shutil.rmtree(trained, ignore_errors=True)
        shutil.rmtree(root / "datasets" / "cells", ignore_errors=True)
        shutil.rmtree(root / "datasets" / "cells2", ignore_errors=True)


def test_start_names_the_run_and_a_bad_name_is_refused_before_a_run_exists(app_env, monkeypatch):
    root, run_id = app_env
    before = len(runs.list_runs(root))
    at = page("train").run()
    at.text_input(key="run_name").input("no spaces").run()
    at.button(key="start").click().run()
    no_exceptions(at)
    assert any("The run name 'no spaces' is not allowed" in e.value for e in at.error)
    assert len(runs.list_runs(root)) == before
    started = []
    monkeypatch.setattr(launch, "start_run",
                        lambda root, config, name=None: started.append(name) or run_id)
    at.text_input(key="run_name").input("lr-test").run()
    at.button(key="start").click().run()
    no_exceptions(at)
    assert started == ["lr-test"]
    assert at.text_input(key="run_name").value == ""  # the next run is named afresh
