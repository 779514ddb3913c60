"""The current run follows the run pickers of Results and Predict (URL and workspace)."""

import shutil

import pytest

from page_runner import page
from segcore.place import read_place


@pytest.mark.parametrize("name, key", [("predict", "predict_run"), ("results", "results_runs")])
def test_a_run_picked_on_a_page_becomes_the_current_run(app_env, name, key):
    root, run_id = app_env
    twin = shutil.copytree(root / "runs" / run_id, root / "runs" / f"{run_id}-b")
    try:
        at = page(name).run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.query_params["run"] in (twin.name, [twin.name])  # the newest by default
        if name == "predict":
            at.selectbox(key=key).select(run_id).run()
        else:
            at.multiselect(key=key).set_value([run_id, twin.name]).run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.query_params["run"] in (run_id, [run_id])
        assert read_place(root)["run"] == run_id
    finally:
        shutil.rmtree(twin)


def test_the_urls_dataset_and_run_hold_after_a_sidebar_link(app_env):
    """A tab opened at `?dataset=demo&run=…` while the workspace last kept another dataset
    and run: a sidebar link drops the query, and the next page still shows the URL's."""
    from streamlit.testing.v1 import AppTest

    from page_runner import REPO
    from segcore.place import keep_place

    root, run_id = app_env
    other = shutil.copytree(root / "datasets" / "demo", root / "datasets" / "other")
    twin = shutil.copytree(root / "runs" / run_id, root / "runs" / f"{run_id}-b")
    try:
        keep_place(root, dataset="other", run=twin.name)
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
        at.query_params.update(dataset="demo", run=run_id)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        for target in ("train", "results", "label"):
            at.query_params.clear()  # what a browser's page switch does
            at.switch_page(f"app_pages/{target}.py").run()
            assert not at.exception, [e.value for e in at.exception]
            assert at.query_params["dataset"] in ("demo", ["demo"]), target
            assert at.query_params["run"] in (run_id, [run_id]), target
    finally:
        shutil.rmtree(other)
        shutil.rmtree(twin)
