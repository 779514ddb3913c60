"""Two browser sessions, a reload and a server restart: the disk is the truth."""

import time

import pytest

from page_runner import page
from segcore import launch, runs

pytestmark = pytest.mark.slow


def small_settings(at):
    at.slider(key="hp_depth").set_value(2)
    at.slider(key="hp_base_filters").set_value(8)
    at.select_slider(key="img_h").set_value(32)
    at.select_slider(key="img_w").set_value(32)
    at.slider(key="epochs").set_value(200)
    return at


def test_second_session_is_told_why_and_a_new_session_finds_the_live_run(app_env):
    root, _ = app_env
    first, second = page("train").run(), page("train").run()
    small_settings(first).run()
    small_settings(second).run()
    first.button(key="start").click().run()
    run_id = None
    try:
        assert not first.exception and not first.error
        active = launch.active_run(root)
        assert active is not None
        run_id = active.run_id
        assert first.query_params["run"] == [run_id] or first.query_params["run"] == run_id
        second.button(key="start").click().run()
        assert not second.exception
        assert len(runs.list_runs(root)) == 2  # the fixture's run and exactly one new run
        assert any("one run at a time" in m.value for m in list(second.error) + list(second.info))
        # A reload, another tab, or a restarted server: a fresh session with the URL's run id.
        fresh = page("train")
        fresh.query_params["run"] = run_id
        fresh.run()
        deadline = time.monotonic() + 60
        while not any("Run state: **running**" in m.value for m in fresh.markdown):
            assert time.monotonic() < deadline, [m.value for m in fresh.markdown]
            time.sleep(1)
            fresh.run()
        fresh.button(key="stop").click().run()
    finally:
        if run_id:
            assert launch.stop_run(root, run_id, timeout=90) == "stopped"
