"""Uploads in a real Chromium: colour masks named in the proposed table, JPEG-damaged masks
listed and snapped, the Clear button (issue 13, points 2 and 3)."""

import io

import cv2
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

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
PALETTE = np.array([[0, 0, 0], [200, 30, 40], [30, 200, 40]], np.uint8)


def labels(index, size=(96, 128)):
    out = np.zeros(size, np.uint8)
    cv2.circle(out, (32 + 8 * index, 48), 24, 1, -1)
    out[10:30, 80:120] = 2
    return out


def through_jpeg(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=75)
    return np.asarray(Image.open(buffer))


def loose_files(folder, mask_of, count=3):
    rng = np.random.default_rng(0)
    paths = []
    for index in range(count):
        paths.append(write_png(folder / f"street {index}.png",
                               rng.integers(0, 255, (96, 128, 3), np.uint8)))
        paths.append(write_png(folder / f"street {index}_mask.png", mask_of(labels(index))))
    return [str(p) for p in paths]


def test_colour_and_jpeg_damaged_uploads(server):  # noqa: F811 (the fixture)
    from playwright.sync_api import expect, sync_playwright

    url, tmp_path = server
    colour = loose_files(tmp_path / "colour", lambda m: PALETTE[m])
    damaged = loose_files(tmp_path / "jpeg", lambda m: through_jpeg(((m > 0) * 255).astype(
        np.uint8)))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(60_000)
        page.goto(url)
        expect(page.get_by_text("48 images, 4 classes")).to_be_visible()
        page.get_by_text("Upload a new dataset").click()

        # Colour masks without a classes.json: their colours come back as a table to name.
        page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(colour)
        wait_idle(page)
        page.locator("[class*='st-key-upload_name_'] input").fill("streets")
        page.locator("[class*='st-key-upload_name_'] input").press("Enter")
        wait_idle(page)
        page.get_by_role("button", name="Save dataset").click()
        expect(page.get_by_text("name the 3 colours found in them")).to_be_visible()
        expect(page.get_by_text("--classes")).to_have_count(0)
        wait_idle(page)
        assert_clean(page)
        shot(page, "upload-1-colours-proposed")
        page.get_by_role("button", name="Save with these classes").click()
        expect(page.get_by_text("Saved dataset streets.")).to_be_visible()
        expect(page.get_by_text("streets: 3 images, 3 classes")).to_be_visible()
        wait_idle(page)

        # JPEG-damaged binary masks: every file named as uploaded, then snapped on request.
        page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(damaged)
        wait_idle(page)
        page.locator("[class*='st-key-upload_name_'] input").fill("cells")
        page.locator("[class*='st-key-upload_name_'] input").press("Enter")
        wait_idle(page)
        page.get_by_role("button", name="Save dataset").click()
        expect(page.get_by_text("found 3 problems in the upload")).to_be_visible()
        expect(page.get_by_text("street 2_mask.png:", exact=False)).to_be_visible()
        wait_idle(page)
        assert_clean(page)
        shot(page, "upload-2-jpeg-problems")

        # Clear empties the picker; the same files picked again save after snapping.
        page.get_by_role("button", name="Clear").click()
        wait_idle(page)
        expect(page.get_by_text("street 0_mask.png")).to_have_count(0)
        page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(damaged)
        wait_idle(page)
        page.locator("[class*='st-key-upload_name_'] input").fill("cells")
        page.locator("[class*='st-key-upload_name_'] input").press("Enter")
        wait_idle(page)
        page.get_by_role("button", name="Save dataset").click()
        page.get_by_role("button", name="Snap to the nearest class and save").click()
        expect(page.get_by_text("cells: 3 images, 2 classes")).to_be_visible()
        wait_idle(page)
        assert_clean(page)
        shot(page, "upload-3-snapped")
        browser.close()
