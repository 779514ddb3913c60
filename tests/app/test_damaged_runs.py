"""Pages with damaged run folders in the workspace: one clear message each, never a traceback."""

import json
import os
import shutil
from contextlib import contextmanager

import pytest

from page_runner import page


def no_exceptions(at):
    assert not at.exception, [e.value for e in at.exception]


@contextmanager
def twins(root, run_id, damage):
    """Copies of the trained run, each with one file replaced or added: {suffix: (file, bytes)}."""
    made = {}
    try:
        for suffix, (name, data) in damage.items():
            twin = root / "runs" / f"{run_id}-{suffix}"
            shutil.copytree(root / "runs" / run_id, twin)
            (twin / name).unlink(missing_ok=True)  # a file the run may not have, added
            (twin / name).write_bytes(data)
            made[suffix] = twin.name
        yield made
    finally:
        for name in made.values():
            shutil.rmtree(root / "runs" / name)


DAMAGE = {"config": ("config.json", b"[1]"), "status": ("status.json", b'{"pid": [1]}'),
          "keras": ("best.keras", os.urandom(300))}


def test_results_page_leaves_out_a_damaged_config_and_names_a_damaged_checkpoint(app_env):
    root, run_id = app_env
    with twins(root, run_id, DAMAGE) as made:
        at = page("results").run()
        no_exceptions(at)
        assert any(made["config"] in w.value and "config.json" in w.value for w in at.warning)
        options = at.multiselect(key="results_runs").options
        assert made["config"] not in options and {made["status"], made["keras"]} <= set(options)
        at.multiselect(key="results_runs").set_value([made["status"]]).run()
        no_exceptions(at)
        assert any("val mean IoU" in m.value for m in at.markdown)
        at.multiselect(key="results_runs").set_value([made["keras"]]).run()
        no_exceptions(at)
        assert any("best.keras" in e.value and "damaged" in e.value for e in at.error), [
            e.value for e in at.error]


@pytest.mark.parametrize("which", ["config", "status"])
def test_train_page_and_sidebar_show_a_damaged_run_without_a_traceback(app_env, which):
    root, run_id = app_env
    with twins(root, run_id, {which: DAMAGE[which]}) as made:
        at = page("train")
        at.query_params["run"] = made[which]
        at.run()
        no_exceptions(at)
        assert made[which] in at.selectbox(key="watch_run").options
        name = DAMAGE[which][0]
        shown = [e.value for e in at.error] + [c.value for c in at.caption]
        assert any(name in text for text in shown), shown


def test_results_page_leaves_out_a_run_linked_from_outside_the_workspace(app_env, tmp_path):
    root, run_id = app_env
    outside = shutil.copytree(root / "runs" / run_id, tmp_path / "elsewhere")
    link = root / "runs" / f"{run_id}-linked"
    link.symlink_to(outside, target_is_directory=True)
    try:
        before = sorted(p.name for p in outside.iterdir())
        at = page("results").run()
        no_exceptions(at)
        assert link.name not in at.multiselect(key="results_runs").options
        assert any(link.name in w.value and "outside" in w.value for w in at.warning)
        assert sorted(p.name for p in outside.iterdir()) == before
    finally:
        link.unlink()


def test_train_page_names_a_damaged_auto_json_and_shows_a_sound_one(app_env):
    root, run_id = app_env
    with twins(root, run_id, {"auto": ("auto.json", b'{"choices": [1, 2]}')}) as made:
        at = page("train")
        at.query_params["run"] = made["auto"]
        at.run()
        no_exceptions(at)
        assert any("auto.json" in w.value and "damaged" in w.value for w in at.warning), [
            w.value for w in at.warning]
        (root / "runs" / made["auto"] / "auto.json").write_text(json.dumps({
            "source": "train --auto", "choices": [
                {"setting": "lr", "value": 0.003, "reason": "a reason for people", "given": False}]}))
        at.run()
        no_exceptions(at)
        assert not any("auto.json" in w.value for w in at.warning)
        assert any("a reason for people" in m.value for m in at.markdown)
