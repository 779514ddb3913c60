"""Results comparing runs of two datasets, a 3000x3000 prediction zoomed and an export's
usage notes, in a real Chromium.

Screenshots land in test-output/e2e/ (compare-*.png, zoom-*.png) to be looked at.
"""

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_browser import (
    ARGS,
    CHROMIUM,
    assert_clean,
    server,  # noqa: F401 (a fixture)
    shot,
    wait_idle,
)

from helpers import write_png
from segcore import runs
from segcore.commands.data import ensure_demo
from segcore.training import loop
from segcore.training.config import RunConfig

pytestmark = [pytest.mark.e2e, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium missing")]


def test_results_flag_other_datasets_and_predict_zooms_a_large_image(server):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    url, tmp_path = server
    root = tmp_path / "workspace"
    demo = ensure_demo(root)
    config = RunConfig(data=str(demo), model="unet", hparams={"depth": 2, "base_filters": 8},
                       img_size=(32, 32), epochs=2, batch_size=8, seed=0)
    run = runs.create_run(root, config)
    loop.train(config, run, stream=io.StringIO())
    # The same run as if trained on another dataset with other classes and batch size.
    twin = shutil.copytree(run, root / "runs" / f"{run.name}-cells")
    info = json.loads((twin / "config.json").read_text())
    info["config"].update(data=str(root / "datasets" / "cells"), batch_size=4)
    info["class_map"]["classes"][-1]["name"] = "nucleus"
    (twin / "config.json").write_text(json.dumps(info))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(120_000)
        expect.set_options(timeout=120_000)  # scoring and a 3000x3000 prediction take a while
        page.goto(f"{url}/results?run={run.name}")
        expect(page.locator(".st-key-per_class_iou .plot-container")).to_be_visible()
        # A fresh server's first visit opens a page URL: still the app's own navigation, not
        # Streamlit's listing of a pages/ folder (app, common, data, ...).
        nav = page.locator("[data-testid=stSidebarNav]")
        expect(nav).to_contain_text("Results")
        assert "common" not in nav.inner_text()
        wait_idle(page)
        page.locator(".st-key-results_runs").click()
        page.get_by_role("option", name=twin.name).click()
        page.keyboard.press("Escape")
        expect(page.get_by_text("These runs trained on different datasets")).to_be_visible()
        expect(page.get_by_text("These runs have different classes")).to_be_visible()
        expect(page.locator(".st-key-compare_classes .plot-container")).to_be_visible()
        expect(page.get_by_text("Scores of the best checkpoint (epoch")).to_be_visible()
        wait_idle(page)
        assert_clean(page)
        shot(page, "compare-1-results-two-datasets")

        big = write_png(tmp_path / "big.png", np.asarray(Image.open(
            demo / "images" / "demo_000.png").convert("RGB").resize((3000, 3000),
                                                                    Image.BILINEAR)))
        page.get_by_role("link", name="Predict").click()
        page.get_by_test_id("stFileUploaderDropzoneInput").nth(0).set_input_files(str(big))
        toggle = page.get_by_text("Zoom and pan big.png at full resolution (3000x3000)")
        expect(toggle).to_be_visible()
        wait_idle(page)
        toggle.click()
        chart = page.locator(".st-key-zoom_chart_big .plot-container")
        expect(chart).to_be_visible()
        wait_idle(page)
        assert_clean(page)
        chart.scroll_into_view_if_needed()
        page.screenshot(path=str(shot_path("zoom-1-whole")))
        # Drag a small box: the browser zooms into the full-resolution picture, no rerun.
        area = page.locator(".st-key-zoom_chart_big .nsewdrag").first.bounding_box()
        x, y = area["x"] + area["width"] * 0.45, area["y"] + area["height"] * 0.45
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 40, y + 40, steps=5)
        page.mouse.up()
        page.wait_for_timeout(1000)
        page.screenshot(path=str(shot_path("zoom-2-zoomed")))
        ticks = page.locator(".st-key-zoom_chart_big .xtick text").evaluate_all(
            "texts => texts.map(t => Number(t.textContent.replace(/[^0-9.]/g, '')))")
        assert ticks and max(ticks) - min(ticks) < 1000, ticks  # was 0..3000: zoomed in

        # An export comes with its class map and usage, readable in place.
        page.get_by_role("button", name="Export").click()
        expect(page.get_by_role("button", name="Usage (model-best.keras.README.md)")).to_be_visible()
        page.get_by_text("How to use model-best.keras").click()
        expect(page.get_by_text(f"MODEL, CARD, IMAGE = '{run.name}-model-best.keras'")).to_be_visible()
        wait_idle(page)
        assert_clean(page)
        shot(page, "zoom-3-predict-export")
        browser.close()


def shot_path(name):
    from test_browser import OUT

    OUT.mkdir(parents=True, exist_ok=True)
    return OUT / f"{name}.png"
