"""The whole product in a real Chromium: demo data -> train 2 epochs -> results -> predict."""

import io
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
# The live chart as drawn now: during a poll the browser may still hold the last copy (stale).
LIVE_LOSS = '.st-key-live_loss:not([data-stale="true"])'
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


def live_point_counts(page, until, timeout=180, on_first_point=None):
    """Counts the loss chart's markers every half second until `until` shows; calls
    `on_first_point` once, when the chart first draws a line mid-run."""
    counts, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts.append(page.locator(f"{LIVE_LOSS} .scatterlayer .point").count())
        drawn = page.locator(f"{LIVE_LOSS} .scatterlayer .trace").count()
        if on_first_point and drawn and not page.get_by_text(until).count():
            on_first_point()
            on_first_point = None
        if page.get_by_text(until).count():
            page.wait_for_timeout(2500)
            counts.append(page.locator(f"{LIVE_LOSS} .scatterlayer .point").count())
            return counts
        page.wait_for_timeout(500)
    raise AssertionError(f"{until!r} never appeared; marker counts {counts}")


def assert_clean(page):
    exceptions = page.get_by_test_id("stException")
    assert exceptions.count() == 0, exceptions.first.inner_text()


def shot(page, name):
    """Screenshot of the whole page: Streamlit scrolls inside its main section, not the
    document, so the viewport is stretched to the section's height for the picture."""
    OUT.mkdir(parents=True, exist_ok=True)
    height = page.evaluate(
        "Math.max(...[...document.querySelectorAll('[data-testid=stMain], "
        "[data-testid=stMainBlockContainer]')].map(e => e.scrollHeight), 900)")
    page.set_viewport_size({"width": 1400, "height": min(int(height) + 80, 6000)})
    page.wait_for_timeout(800)
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1100})


def quick_shot(page, name):
    """The live view as it is now: no viewport change, so the run cannot finish meanwhile."""
    page.locator(LIVE_LOSS).first.scroll_into_view_if_needed()
    page.screenshot(path=str(OUT / f"{name}.png"))


def wait_idle(page):
    """Waits until the app's script has finished its run (the status widget is gone)."""
    page.wait_for_timeout(300)
    expect_hidden = page.get_by_test_id("stStatusWidget")
    deadline = time.monotonic() + 120
    while expect_hidden.count() and time.monotonic() < deadline:
        page.wait_for_timeout(250)


def choose(page, key, option):
    """Picks `option` in the selectbox with key `key`.

    A page that is still laying out (a late uploader or chart) can close the dropdown right
    after the click, so the click is repeated until the option shows.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(4):
        page.locator(f".st-key-{key}").click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=10_000)
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
            wait_idle(page)
    raise AssertionError(f"{option!r} never showed in the {key} picker")


def small_folder(tmp_path, demo, count=6):
    """A dataset folder like one a user keeps: images/ and masks/, taken from the demo."""
    folder = tmp_path / "my cells"
    for index in range(count):
        stem = f"demo_{index:03d}"
        for kind in ("images", "masks"):
            image = Image.open(demo / kind / f"{stem}.png")
            write_png(folder / kind / f"cell {index}.png",
                      np.asarray(image.resize((48, 48), Image.NEAREST)))
    return folder


def test_demo_train_results_predict(server):
    from playwright.sync_api import expect, sync_playwright

    url, tmp_path = server
    demo = tmp_path / "workspace" / "datasets" / "demo"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100}, accept_downloads=True)
        page.set_default_timeout(60_000)
        page.goto(url)
        # The first visit writes the demo dataset: on a busy machine that outlasts expect's 5 s.
        expect(page.get_by_text("48 images, 4 classes")).to_be_visible(timeout=60_000)
        expect(page.locator(".st-key-class_shares .plot-container")).to_be_visible()
        expect(page.get_by_test_id("stImage").first).to_be_visible()
        wait_idle(page)
        assert_clean(page)
        shot(page, "1-data")

        # A folder upload (images/ + masks/) becomes a saved dataset named after the folder.
        page.get_by_text("Upload a new dataset").click()
        folder = small_folder(tmp_path, demo)
        page.get_by_test_id("stFileUploaderDropzoneInput").nth(1).set_input_files(str(folder))
        expect(page.get_by_text("cell 0.png").first).to_be_visible()
        wait_idle(page)
        page.get_by_role("button", name="Save dataset").click()
        expect(page.get_by_text("Saved dataset my-cells.")).to_be_visible()
        expect(page.get_by_text("my-cells: 6 images, 4 classes")).to_be_visible()
        wait_idle(page)
        assert_clean(page)
        shot(page, "1b-data-uploaded")
        choose(page, "dataset_select", "demo")
        expect(page.get_by_text("48 images, 4 classes")).to_be_visible()
        wait_idle(page)

        page.get_by_role("link", name="Train").click()
        expect(page.get_by_role("button", name="Start training")).to_be_visible()
        expect(page.get_by_text("Dataset: demo")).to_be_visible()
        set_slider(page, "hp_depth", 0)         # depth 2
        set_slider(page, "hp_base_filters", 0)  # 8 filters
        set_slider(page, "img_h", 3)            # 128: epochs long enough to watch one end
        set_slider(page, "img_w", 3)            # 128
        set_slider(page, "epochs", 1)           # 2 epochs
        page.get_by_text("Advanced").click()
        set_slider(page, "log_every", 0)        # a train-loss point every step: a live line
        page.get_by_role("button", name="Start training").click()
        expect(page.get_by_text("Run state: running")).to_be_visible(timeout=120_000)
        assert "run=" in page.url  # a reload or a second tab shows this run
        points = live_point_counts(page, until="Run state: finished",
                                   on_first_point=lambda: quick_shot(page, "2a-train-live"))
        assert points[0] < points[-1], points  # the live chart gained points while we watched
        expect(page.locator('.st-key-live_iou:not([data-stale="true"]) .plot-container')).to_be_visible()
        wait_idle(page)
        assert_clean(page)
        shot(page, "2b-train-finished")
        run_id = page.url.split("run=")[1].split("&")[0]
        # A second tab (and so a reload) opened on the URL shows the same run from disk.
        other = browser.new_page(viewport={"width": 1400, "height": 1100})
        other.goto(page.url)
        expect(other.get_by_text("Run state: finished")).to_be_visible()
        expect(other.get_by_text(f"{run_id} · finished · 2/2 epochs")).to_be_visible()
        assert_clean(other)
        other.close()

        page.get_by_role("link", name="Results").click()
        expect(page.get_by_text("Per-class IoU")).to_be_visible(timeout=120_000)
        expect(page.locator(".st-key-per_class_iou .plot-container")).to_be_visible()
        expect(page.locator(".st-key-confusion .plot-container")).to_be_visible()
        expect(page.get_by_text("ground truth").first).to_be_visible(timeout=120_000)
        wait_idle(page)
        assert_clean(page)
        shot(page, "3-results")

        page.get_by_role("link", name="Predict").click()
        # A demo image enlarged past the training size, so prediction runs in tiles; its mask
        # enlarged alike, so the error map shows too.
        image = write_png(tmp_path / "upload.png", np.asarray(
            Image.open(demo / "images" / "demo_000.png").resize((300, 260), Image.NEAREST)))
        mask = write_png(tmp_path / "upload_mask.png", np.asarray(
            Image.open(demo / "masks" / "demo_000.png").resize((300, 260), Image.NEAREST)))
        inputs = page.get_by_test_id("stFileUploaderDropzoneInput")
        inputs.nth(0).set_input_files(str(image))
        download = page.get_by_role("button", name="Download masks (zip)")
        expect(download).to_be_visible(timeout=120_000)
        inputs.nth(1).set_input_files(str(mask))
        expect(page.get_by_text("errors in red").first).to_be_visible(timeout=60_000)
        with page.expect_download() as info:
            download.click()
        saved = tmp_path / "masks.zip"
        info.value.save_as(saved)
        import zipfile

        with zipfile.ZipFile(saved) as archive:
            assert archive.namelist() == ["upload_mask.png"]
            mask_png = Image.open(io.BytesIO(archive.read("upload_mask.png")))
            assert mask_png.size == (300, 260)
        page.get_by_role("button", name="Export").click()
        exported = page.get_by_role("button", name="Download model-best.keras")
        expect(exported).to_be_visible(timeout=120_000)
        wait_idle(page)
        assert_clean(page)
        shot(page, "4-predict")
        browser.close()
    shutil.copy(tmp_path / "server.log", OUT / "server.log")
