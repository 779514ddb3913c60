"""The user's place in a real Chromium: a picked dataset, a moved Train slider and an
Advanced select survive the sidebar links, another page, a reload and a new tab (no training
needed)."""

import re
from pathlib import Path

import pytest
from test_browser import (
    ARGS,
    CHROMIUM,
    assert_clean,
    choose,
    server,  # noqa: F401 (a fixture)
    set_slider,
    shot,
    wait_idle,
)

from helpers import make_pair_dataset
from segcore import runs
from segcore.training.config import RunConfig

pytestmark = [pytest.mark.e2e, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium missing")]


def expect_train_place(page, dataset, epochs):
    """The Train page shows the dataset and the moved slider, and the URL names the dataset."""
    from playwright.sync_api import expect

    expect(page.get_by_text(f"Dataset: {dataset}")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/train\?.*dataset={dataset}"))
    expect(page.locator(".st-key-epochs [data-testid=stSliderThumbValue]")).to_have_text(
        str(epochs))
    wait_idle(page)
    assert_clean(page)


def expect_step_compiler(page, value):
    """The Advanced expander's "Step compiler" select shows `value` (opened if closed)."""
    from playwright.sync_api import expect

    select = page.locator(".st-key-jit")
    if not select.is_visible():
        page.locator(".st-key-advanced_expander summary").click()
    expect(select).to_be_visible()
    expect(select.get_by_role("combobox", name="Step compiler")).to_have_value(value)


def open_tab(browser, url):
    """A new tab of the app's address, the size and patience of the other browser tests."""
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.set_default_timeout(60_000)
    page.goto(url)
    return page


def test_dataset_and_settings_are_kept_across_links_pages_reloads_and_tabs(server):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    url, tmp_path = server
    root = tmp_path / "workspace"
    make_pair_dataset(root / "datasets" / "cells", count=6, size=(32, 32), classes=2)
    # A finished run of the demo dataset (its folder only: nothing needs to train here).
    run = runs.create_run(root, RunConfig(data=str(root / "datasets" / "demo"), epochs=7,
                                          img_size=(64, 96), batch_size=4))
    runs.write_status(run, state="finished")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = open_tab(browser, url)
        expect(page.get_by_text("48 images, 4 classes")).to_be_visible()
        wait_idle(page)

        # Pick a dataset, then follow the sidebar link (it drops the query string).
        choose(page, "dataset_select", "cells")
        expect(page.get_by_text("cells: 6 images, 2 classes")).to_be_visible()
        # The preview's split picker counts this dataset's images, not the demo's.
        expect(page.get_by_role("combobox", name="Split")).to_have_value("train · 5 images")
        wait_idle(page)
        page.get_by_role("link", name="Train").click()
        expect_train_place(page, "cells", 30)

        # Move a slider, visit another page by its sidebar link, come back the same way.
        set_slider(page, "epochs", 4)  # 1 + 4 = 5 epochs
        expect_train_place(page, "cells", 5)
        expect_step_compiler(page, "off")
        choose(page, "jit", "xla")  # a select inside the closed-by-default expander
        expect_step_compiler(page, "xla")
        wait_idle(page)
        page.get_by_role("link", name="Results").click()
        expect(page.get_by_text("No trained runs yet")).to_be_visible()
        expect(page).to_have_url(re.compile(r"/results\?.*dataset=cells"))
        page.get_by_role("link", name="Train").click()
        expect_train_place(page, "cells", 5)
        shot(page, "place-1-train-after-results")

        # A reload, then a new tab on the bare address: the workspace kept the place.
        page.reload()
        expect_train_place(page, "cells", 5)
        expect_step_compiler(page, "xla")
        shot(page, "place-1b-step-compiler-after-reload")
        other = open_tab(browser, url)
        expect(other.get_by_text("cells: 6 images, 2 classes")).to_be_visible()
        expect(other).to_have_url(re.compile(r"dataset=cells"))
        wait_idle(other)
        other.get_by_role("link", name="Train").click()
        expect_train_place(other, "cells", 5)
        shot(other, "place-2-new-tab-train")

        # The run shown trained on another dataset: a warning, and its settings on request.
        warning = other.get_by_text(f"Run {run.name} was trained on dataset demo")
        expect(warning).to_be_visible()
        other.get_by_role("button", name="Use this run's settings").click()
        expect(other.get_by_text(f"Settings of {run.name} applied, dataset demo.")).to_be_visible()
        expect_train_place(other, "demo", 7)
        expect(other.locator(".st-key-img_w [data-testid=stSliderThumbValue]")).to_have_text("96")
        expect(warning).to_have_count(0)
        shot(other, "place-3-use-run-settings")
        browser.close()


def test_paste_classes_come_from_the_dataset_and_are_kept_over_a_reload(server):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    from segcore.place import read_place

    url, tmp_path = server
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = open_tab(browser, url)
        expect(page.get_by_text("48 images, 4 classes")).to_be_visible()
        wait_idle(page)
        page.get_by_role("link", name="Train").click()
        expect(page.get_by_text("Dataset: demo")).to_be_visible()
        wait_idle(page)
        chips = page.locator(".st-key-aug_paste [data-tag]")
        expect(chips).to_have_count(0)
        choose(page, "aug_paste", "triangle")
        page.keyboard.press("Escape")
        expect(chips).to_have_text(["triangle"])
        wait_idle(page)
        assert_clean(page)
        shot(page, "paste-1-picked")
        assert read_place(tmp_path / "workspace")["train_settings"]["augment"]["paste"] == [
            "triangle"]
        page.reload()
        expect(page.get_by_text("Dataset: demo")).to_be_visible()
        expect(chips).to_have_text(["triangle"])
        browser.close()
