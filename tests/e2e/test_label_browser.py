"""The Label page in a real Chromium: a painted stroke lands in the mask file exactly, the old
mask goes to history, undo restores; the top-ranked unlabelled image opens pre-filled with
what `predict` writes; ten images labelled from scratch; screenshots of a large image and of
many classes (test-output/e2e/label-*.png)."""

import io
import json
import re
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_browser import (
    ARGS,
    CHROMIUM,
    assert_clean,
    server,  # noqa: F401 (a fixture)
    set_slider,
    shot,
    wait_idle,
)

from helpers import write_png
from segcore import runs
from segcore.training import loop
from segcore.training.config import RunConfig

pytestmark = [pytest.mark.e2e, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium missing")]
NAMES = ["back", "cell", "membrane"]


def make_cells(root, labelled=8, unlabelled=3, size=64, names=NAMES):
    """A workspace dataset of index masks (values 0..n-1): discs of class 1 on class 0, a
    band of class 2, and images that show them."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    colours = [(40, 40, 40), (230, 80, 60), (60, 160, 230)] + [
        tuple(int(c) for c in rng.integers(30, 230, 3)) for _ in names[3:]]
    (root / "classes.json").write_text(json.dumps(
        {"classes": [{"name": n, "color": list(c)} for n, c in zip(names, colours)]}))
    rows, cols = np.indices((size, size))
    for index in range(labelled + unlabelled):
        cy, cx = rng.integers(16, size - 16, 2)
        mask = np.zeros((size, size), np.uint8)
        mask[(rows - cy) ** 2 + (cols - cx) ** 2 < 100] = 1
        mask[size - 10:] = 2 % len(names)
        image = (np.array(colours, np.float64)[mask] * 0.7
                 + rng.integers(0, 60, (size, size, 1))).astype(np.uint8)
        if index < labelled:
            write_png(root / "images" / f"c{index}.png", image)
            write_png(root / "masks" / f"c{index}.png", mask)
        else:
            write_png(root / "unlabelled" / f"u{index}.png", image)
    return root


def choose(page, key, option):
    """Picks `option` of a selectbox by typing it (the list may open out of view)."""
    field = page.locator(f".st-key-{key} input")
    field.click()
    field.fill(option)
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def canvas(page):
    """The canvas that takes the mouse (Fabric draws on an upper canvas over the picture),
    scrolled into view: the mouse reaches only what is on screen."""
    upper = page.locator("canvas.upper-canvas")
    found = upper.last if upper.count() else page.locator("canvas").last
    found.wait_for(state="visible")
    found.evaluate("e => e.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(200)
    return found


def change_count(page):
    """The page's count of changes to the mask being edited (it moves once per stroke)."""
    return int(re.search(r"change (\d+)", page.get_by_text("change ").last.inner_text()).group(1))


def painted(page, before, timeout=8):
    """Whether the page painted a new shape in (its change count moved) within `timeout` s."""
    deadline = time.monotonic() + timeout
    while change_count(page) == before and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    wait_idle(page)
    return change_count(page) > before


def on_canvas(page, gesture):
    """Does `gesture(box)` on the canvas until the page paints it in. A canvas that was just
    redrawn (a new tool, a new mask) may miss the first gesture while it mounts; painting the
    same shape twice gives the same pixels."""
    before = change_count(page)
    for _ in range(3):
        gesture(canvas(page).bounding_box())
        if painted(page, before):
            return
    raise AssertionError("the shape never reached the mask")


def drag(page, points):
    """A brush stroke through canvas `points`; waits for the page to paint it in."""
    def gesture(box):
        page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=4)
        page.mouse.up()
    on_canvas(page, gesture)


def click_canvas(page, points):
    """Clicks on the canvas (polygon vertices, fill seeds); waits for the page to paint."""
    def gesture(box):
        for x, y in points:
            page.mouse.click(box["x"] + x, box["y"] + y)
            page.wait_for_timeout(150)
    on_canvas(page, gesture)


def save(page, saved_text):
    page.get_by_role("button", name="Save mask").click()
    page.get_by_text(saved_text).first.wait_for()
    wait_idle(page)


def read(path):
    return np.asarray(Image.open(path))


def test_a_stroke_lands_exactly_in_the_mask_and_undo_restores(server):  # noqa: F811
    from playwright.sync_api import sync_playwright

    url, tmp_path = server
    root = make_cells(tmp_path / "workspace" / "datasets" / "cells")
    mask_file = root / "masks" / "c0.png"
    before = read(mask_file).copy()
    original_bytes = mask_file.read_bytes()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(60_000)
        page.goto(f"{url}/label?dataset=cells&image=images/c0.png")
        page.get_by_text("Start from", exact=True).wait_for()
        wait_idle(page)
        choose(page, "label_class", "membrane")
        set_slider(page, "label_brush", 3)  # 4 image pixels
        wait_idle(page)
        # 64x64 at "fit" is 8x: canvas (100, 200)-(400, 200) is image (12.5, 25)-(50, 25).
        drag(page, [(100, 200), (200, 200), (300, 200), (400, 200)])
        assert_clean(page)
        shot(page, "label-stroke")
        save(page, "Saved masks/c0.png")
        after = read(mask_file)
        rows, cols = np.indices(before.shape)
        x, y = cols + 0.5, rows + 0.5
        dx = np.maximum(0, np.maximum(12.5 - x, x - 50))
        stroke = dx ** 2 + (y - 25) ** 2 <= 2 ** 2  # pixel centres within the brush radius
        assert (after[stroke] == 2).all()
        assert np.array_equal(after[~stroke], before[~stroke])
        assert (after != before).sum() == (stroke & (before != 2)).sum() > 0
        kept = sorted((root / ".history" / "masks").iterdir())
        assert len(kept) == 1 and kept[0].read_bytes() == original_bytes
        page.locator(".st-key-label_undo button").click()
        page.get_by_text("Unsaved edits", exact=True).wait_for()
        save(page, "Saved masks/c0.png; the previous version is kept")
        assert np.array_equal(read(mask_file), before)
        assert len(list((root / ".history" / "masks").iterdir())) == 2
        # Add unlabelled images: the uploaded file lands in unlabelled/ and in the picker.
        page.get_by_text("Add unlabelled images").click()
        buffer = io.BytesIO()
        Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(buffer, format="PNG")
        page.locator(".st-key-label_upload input[type=file]").set_input_files(
            files=[{"name": "fresh.png", "mimeType": "image/png", "buffer": buffer.getvalue()}])
        # Under load the upload may still be on its way: "Add them" must see the file.
        page.locator(".st-key-label_upload").get_by_text("fresh.png").wait_for()
        page.get_by_role("button", name="Add them").click()
        page.get_by_text("Added 1 image to cells/unlabelled/.").wait_for()
        assert (root / "unlabelled" / "fresh.png").is_file()
        assert_clean(page)
        browser.close()


def train_run(workspace, data):
    config = RunConfig(data=str(data), model="unet", hparams={"depth": 2, "base_filters": 8},
                       img_size=(64, 64), epochs=6, batch_size=4, seed=1, log_every=2)
    path = runs.create_run(workspace, config)
    loop.train(config, path, stream=io.StringIO())
    return path


def test_the_most_uncertain_image_opens_prefilled_with_predict_output(server):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    from segcore.cli import main

    url, tmp_path = server
    workspace = tmp_path / "workspace"
    root = make_cells(workspace / "datasets" / "cells")
    run = train_run(workspace, root)
    with redirect_stdout(io.StringIO()) as out, redirect_stderr(io.StringIO()):
        assert main(["--workspace", str(workspace), "rank", "--run", run.name, "--json"]) == 0
    scores = {Path(e["image"]).name: e["score"] for e in json.loads(out.getvalue())}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(90_000)
        page.goto(f"{url}/label?dataset=cells&run={run.name}")
        page.get_by_role("button", name="Rank unlabelled images by the run's uncertainty").click()
        picked = page.locator(".st-key-label_image input")
        expect(picked).to_have_value(re.compile(r"unlabelled/u\d+\.png · uncertainty 0\.\d+"),
                                     timeout=90_000)
        wait_idle(page)
        name = re.match(r"unlabelled/(\S+)", picked.input_value()).group(1)
        # The page's top image is the command's (a near-tie may swap within float noise).
        assert scores[name] == pytest.approx(max(scores.values()), abs=1e-4)
        top = root / "unlabelled" / name
        page.get_by_text("mean ").first.wait_for()  # the uncertainty map beside the image
        shot(page, "label-ranked")
        save(page, f"Saved masks/{name}")
        assert_clean(page)
        # Results: the worst image's "Correct this mask" opens it in the painter.
        page.goto(f"{url}/results?dataset=cells&run={run.name}")
        link = page.get_by_role("link", name="Correct this mask").first
        link.wait_for(timeout=120_000)
        worst = page.get_by_text(" · ground truth").first.inner_text().split(" · ")[0]
        link.click()
        expect(page.locator(".st-key-label_image input")).to_have_value(f"images/{worst}")
        page.get_by_text(f"mask masks/{worst}").wait_for()
        assert_clean(page)
        browser.close()
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        assert main(["--workspace", str(workspace), "predict", "--run", run.name, "--input",
                     str(root / "images" / name), "--output", str(tmp_path / "predicted")]) == 0
    predicted = read(tmp_path / "predicted" / f"{top.stem}_mask.png")
    assert not top.exists() and (root / "images" / name).is_file()
    # Index masks: the class values are the labels, so the saved pre-fill is predict's mask.
    assert np.array_equal(read(root / "masks" / name), predicted)


def test_ten_images_labelled_from_scratch(server, capsys):  # noqa: F811
    """What a new user does: for each unlabelled image, fill the background, outline the cell
    with the polygon tool, paint the band with the brush, save. Times the whole walk."""
    from playwright.sync_api import sync_playwright

    url, tmp_path = server
    root = make_cells(tmp_path / "workspace" / "datasets" / "cells", labelled=2, unlabelled=10)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(60_000)
        page.goto(f"{url}/label?dataset=cells")
        page.get_by_text("Start from", exact=True).wait_for()
        wait_idle(page)
        started = time.monotonic()
        for index in range(2, 12):
            name = f"u{index}.png"
            choose(page, "label_image", f"unlabelled/{name} · no mask yet")
            page.locator(".st-key-label_start").get_by_text("an empty mask").click()
            wait_idle(page)
            choose(page, "label_class", "cell")
            page.locator(".st-key-label_tool").get_by_text("polygon", exact=True).click()
            wait_idle(page)
            click_canvas(page, [(150, 150), (300, 150), (300, 300), (150, 300), (150, 150)])
            choose(page, "label_class", "membrane")
            page.locator(".st-key-label_tool").get_by_text("brush", exact=True).click()
            wait_idle(page)
            drag(page, [(10, 470), (250, 470), (500, 470)])
            save(page, f"Saved masks/{name}")
        elapsed = time.monotonic() - started
        assert_clean(page)
        browser.close()
    assert sorted(p.name for p in (root / "unlabelled").iterdir()) == []
    for index in range(2, 12):
        mask = read(root / "masks" / f"u{index}.png")
        assert set(np.unique(mask).tolist()) == {0, 1, 2}
        assert (mask[19:37, 19:37] == 1).all()  # canvas 150..300 at 8x is image 18.75..37.5
    with capsys.disabled():
        print(f"\nten images labelled in the browser in {elapsed:.0f} s")


def test_a_large_image_with_many_classes_zoomed_panned_filled_and_erased(server):  # noqa: F811
    from playwright.sync_api import sync_playwright

    url, tmp_path = server
    root = tmp_path / "workspace" / "datasets" / "stripes"
    names = [f"class {index:02d}" for index in range(30)]
    colours = [[(37 * i) % 256, (91 * i) % 256, (157 * i) % 256] for i in range(30)]
    root.mkdir(parents=True)
    (root / "classes.json").write_text(json.dumps({
        "classes": [{"name": n, "color": c} for n, c in zip(names, colours)],
        "ignore_value": 255, "void_color": [0, 0, 0]}))
    height, width = 2000, 3000
    mask = np.repeat((np.arange(width) // 100).astype(np.uint8)[None], height, axis=0)
    ramp = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    image = (np.array(colours, np.float32)[mask] * 0.5 + ramp * 0.5).astype(np.uint8)
    for stem in ("big", "other"):
        write_png(root / "images" / f"{stem}.png", image)
        write_png(root / "masks" / f"{stem}.png", mask)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(60_000)
        page.goto(f"{url}/label?dataset=stripes&image=images/big.png")
        page.get_by_text("Start from", exact=True).wait_for()
        wait_idle(page)
        canvas(page)  # drawn (the picture of a 3000x2000 image at "fit")
        page.locator(".st-key-label_class input").click()  # the class list, open
        page.wait_for_timeout(500)
        shot(page, "label-many-classes")
        page.keyboard.press("Escape")
        choose(page, "label_zoom", "2x")
        thumb = page.locator(".st-key-label_pan_x input[type=range]").first
        thumb.focus()
        thumb.press("End")  # x0 = 3000 - 700 / 2
        wait_idle(page)
        choose(page, "label_class", "class 07")
        page.locator(".st-key-label_tool").get_by_text("fill", exact=True).click()
        wait_idle(page)
        # Canvas (60, 100) at 2x from x0 = 2650 is image (2680, 50): stripe 26, filled.
        click_canvas(page, [(60, 100)])
        page.locator(".st-key-label_tool").get_by_text("eraser", exact=True).click()
        page.locator(".st-key-label_erase_to").get_by_text("void", exact=True).click()
        wait_idle(page)
        drag(page, [(400, 300), (650, 300)])  # image (2850, 150) to (2975, 150): void
        shot(page, "label-large")
        save(page, "Saved masks/big.png")
        assert_clean(page)
        browser.close()
    saved = read(root / "masks" / "big.png")
    assert (saved[:, 2600:2700] == 7).all()
    assert (saved == 255).sum() > 0 and (saved[:, :2600] == mask[:, :2600]).all()
    voided = np.argwhere(saved == 255)
    assert voided[:, 1].min() >= 2845 and voided[:, 1].max() <= 2980
    assert voided[:, 0].min() >= 145 and voided[:, 0].max() <= 155
    assert set(np.unique(saved).tolist()) <= set(range(30)) | {255}
