"""The whole product in a real Chromium: demo data -> train 2 epochs -> results -> predict."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import REPO, write_png

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-gpu"]
OUT = REPO / "test-output" / "e2e"
pytestmark = [pytest.mark.e2e, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium missing")]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    port = free_port()
    env = dict(os.environ, SEGCORE_HOME=str(tmp_path / "workspace"))
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.headless", "true"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    yield url, tmp_path
    process.terminate()
    process.wait(timeout=20)
    log.close()


def set_slider(page, key, presses):
    """Moves a slider by keyboard: Home, then ArrowRight `presses` times."""
    thumb = page.locator(f".st-key-{key} input[type=range]").first
    thumb.focus()
    thumb.press("Home")
    for _ in range(presses):
        thumb.press("ArrowRight")
    page.wait_for_timeout(400)


def live_point_counts(page, until, timeout=180):
    """Counts the loss chart's markers every half second until `until` shows."""
    counts, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts.append(page.locator(".st-key-live_loss .scatterlayer .point").count())
        if page.get_by_text(until).count():
            page.wait_for_timeout(2500)
            counts.append(page.locator(".st-key-live_loss .scatterlayer .point").count())
            return counts
        page.wait_for_timeout(500)
    raise AssertionError(f"{until!r} never appeared; marker counts {counts}")


def assert_clean(page):
    exceptions = page.get_by_test_id("stException")
    assert exceptions.count() == 0, exceptions.first.inner_text()


def shot(page, name):
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)


def test_demo_train_results_predict(server):
    from playwright.sync_api import expect, sync_playwright

    url, tmp_path = server
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100}, accept_downloads=True)
        page.set_default_timeout(60_000)
        page.goto(url)
        expect(page.get_by_text("48 images, 4 classes")).to_be_visible()
        assert_clean(page)
        shot(page, "1-data")

        page.get_by_role("link", name="Train").click()
        expect(page.get_by_role("button", name="Start training")).to_be_visible()
        set_slider(page, "hp_depth", 0)         # depth 2
        set_slider(page, "hp_base_filters", 0)  # 8 filters
        set_slider(page, "img_h", 2)            # 96
        set_slider(page, "img_w", 2)            # 96
        set_slider(page, "epochs", 1)           # 2 epochs
        page.get_by_role("button", name="Start training").click()
        points = live_point_counts(page, until="Run state: finished")
        assert points[0] < points[-1], points  # the live chart gained points while we watched
        assert_clean(page)
        shot(page, "2-train")

        page.get_by_role("link", name="Results").click()
        expect(page.get_by_text("Per-class IoU")).to_be_visible(timeout=120_000)
        expect(page.locator(".st-key-per_class_iou .plot-container")).to_be_visible()
        assert_clean(page)
        shot(page, "3-results")

        page.get_by_role("link", name="Predict").click()
        # A demo image enlarged past the training size, so prediction runs in tiles.
        demo = tmp_path / "workspace" / "datasets" / "demo" / "images" / "demo_000.png"
        image = write_png(tmp_path / "upload.png",
                          np.asarray(Image.open(demo).resize((300, 260), Image.NEAREST)))
        page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(image))
        download = page.get_by_role("button", name="Download masks (zip)")
        expect(download).to_be_visible(timeout=120_000)
        with page.expect_download() as info:
            download.click()
        saved = tmp_path / "masks.zip"
        info.value.save_as(saved)
        import zipfile

        assert zipfile.ZipFile(saved).namelist() == ["upload_mask.png"]
        assert_clean(page)
        shot(page, "4-predict")
        browser.close()
    shutil.copy(tmp_path / "server.log", OUT / "server.log")
