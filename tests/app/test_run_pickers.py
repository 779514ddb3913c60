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
