"""A tiny DeepLabV3+ trained from the Train page in a real Chromium (issue 14): the demo data,
family deeplabv3plus with a small encoder and no pretrained weights, 32x32, one epoch.

Its screenshot lands in test-output/e2e/deeplab-train-finished.png, to be looked at.
"""

import json
from pathlib import Path

import pytest
from test_browser import (
    ARGS,
    CHROMIUM,
    assert_clean,
    server,  # noqa: F401 (a fixture)
    set_slider,
    shot,
    wait_idle,
)

from segcore import runs

pytestmark = [pytest.mark.e2e, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium missing")]

ENCODER = "mobilenet_v3_small"


def choose(page, key, option):
    """Picks `option` in the selectbox of widget key `key`."""
    page.locator(f".st-key-{key}").click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def test_train_page_trains_a_tiny_deeplabv3plus(server):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    url, tmp_path = server
    root = tmp_path / "workspace"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(60_000)
        page.goto(url)
        expect(page.get_by_text("48 images, 4 classes")).to_be_visible()  # the demo dataset
        wait_idle(page)

        page.get_by_role("link", name="Train").click()
        expect(page.get_by_role("button", name="Start training")).to_be_visible()
        expect(page.get_by_text("Dataset: demo")).to_be_visible()
        choose(page, "model", "deeplabv3plus (cnn)")
        # The family's own widgets, drawn from the registry, replace U-Net's.
        expect(page.locator(".st-key-hp_encoder")).to_be_visible()
        expect(page.locator(".st-key-hp_depth")).to_have_count(0)
        choose(page, "hp_encoder", ENCODER)
        expect(page.get_by_role("combobox", name="encoder", exact=True)).to_have_value(ENCODER)
        expect(page.get_by_role("combobox", name="encoder weights")).to_have_value("none")
        set_slider(page, "hp_aspp_filters", 0)  # 16 filters
        set_slider(page, "img_h", 0)            # 32 (a multiple of the stride, 16)
        set_slider(page, "img_w", 0)            # 32
        set_slider(page, "epochs", 0)           # 1 epoch
        expect(page.locator(".st-key-img_h [data-testid=stSliderThumbValue]")).to_have_text("32")
        expect(page.locator(".st-key-epochs [data-testid=stSliderThumbValue]")).to_have_text("1")
        wait_idle(page)
        assert_clean(page)
        page.get_by_role("button", name="Start training").click()
        expect(page.get_by_text("Run state: finished")).to_be_visible(timeout=300_000)
        expect(page.locator('.st-key-live_iou:not([data-stale="true"]) .plot-container')).to_be_visible()
        wait_idle(page)
        assert_clean(page)
        shot(page, "deeplab-train-finished")
        run_id = page.url.split("run=")[1].split("&")[0]
        browser.close()

    listed = runs.list_runs(root)
    assert [r.run_id for r in listed] == [run_id]
    run = listed[0]
    assert run.state == "finished" and runs.read_status(run.path)["state"] == "finished"
    stored = json.loads((run.path / "config.json").read_text())["config"]
    assert stored["model"] == "deeplabv3plus"
    assert stored["hparams"]["encoder"] == ENCODER
    assert stored["hparams"]["encoder_weights"] == "none"
    assert stored["hparams"]["aspp_filters"] == 16
    assert list(stored["img_size"]) == [32, 32] and stored["epochs"] == 1
