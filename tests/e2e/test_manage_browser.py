"""First open, the demo run, and managing runs and datasets, in a real Chromium."""

import re
from pathlib import Path

import pytest
from test_browser import (
    ARGS,
    CHROMIUM,
    assert_clean,
    choose,
    server,  # noqa: F401 (a fixture)
    shot,
    wait_idle,
)

from helpers import make_pair_dataset
from segcore import runs

pytestmark = [pytest.mark.e2e, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium missing")]


def test_first_open_demo_run_then_name_and_delete_it_and_a_dataset(server):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    url, tmp_path = server
    root = tmp_path / "workspace"
    make_pair_dataset(root / "datasets" / "cells", count=6, size=(32, 32), classes=2)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(60_000)
        page.goto(url)
        expect(page.get_by_text("New here? Four pages, in this order")).to_be_visible()
        wait_idle(page)
        shot(page, "manage-1-first-open")

        # One click: a short demo run starts and Train opens on it; it finishes quickly.
        page.get_by_role("button", name="Start a short demo run").click()
        expect(page).to_have_url(re.compile(r"/train\?.*run="), timeout=60_000)
        expect(page.get_by_text("Run state: finished")).to_be_visible(timeout=120_000)
        (run,) = runs.list_runs(root)
        assert run.name == "demo-run" and run.state == "finished"
        wait_idle(page)
        assert_clean(page)
        shot(page, "manage-2-demo-run-finished")

        # Rename it, then delete it after the confirmation.
        page.locator(".st-key-manage_run_expander summary").click()
        field = page.locator(f".st-key-run_name_edit_{run.run_id} input")
        field.fill("first-try")
        field.press("Enter")
        wait_idle(page)
        page.get_by_role("button", name="Save name").click()
        expect(page.get_by_text(f"Run {run.run_id} is now named first-try.")).to_be_visible()
        expect(page.get_by_test_id("stSidebar").get_by_text("first-try")).to_be_visible()
        page.get_by_role("button", name="Delete run…").click()  # the expander stays open
        expect(page.get_by_text(f"Delete run {run.run_id} · first-try (finished, trained on "
                                "demo)?")).to_be_visible()
        wait_idle(page)
        shot(page, "manage-3-delete-run-asks")
        page.get_by_role("button", name=f"Delete {run.run_id} for good").click()
        expect(page.get_by_text(f"Deleted run {run.run_id}.")).to_be_visible()
        assert not runs.list_runs(root)

        # A dataset: picked, then deleted after the confirmation; the guide is back.
        page.get_by_role("link", name="Data").click()
        choose(page, "dataset_select", "cells")
        expect(page.get_by_text("cells: 6 images, 2 classes")).to_be_visible()
        page.locator(".st-key-manage_dataset_expander summary").click()
        page.get_by_role("button", name="Delete dataset…").click()
        expect(page.get_by_text("Delete dataset cells? Its 12 files")).to_be_visible()
        wait_idle(page)
        shot(page, "manage-4-delete-dataset-asks")
        page.get_by_role("button", name="Delete cells for good").click()
        expect(page.get_by_text("Deleted dataset cells.")).to_be_visible()
        expect(page.get_by_text("New here? Four pages, in this order")).to_be_visible()
        assert not (root / "datasets" / "cells").exists()
        wait_idle(page)
        assert_clean(page)
        shot(page, "manage-5-after-deletes")
        browser.close()
