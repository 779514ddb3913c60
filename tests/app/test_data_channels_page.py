"""The Data page shows a multi-channel dataset's channels and previews chosen bands."""

import numpy as np
import pytest
import tifffile

from helpers import write_png
from page_runner import page

BANDS = 5


@pytest.fixture
def bands_workspace(tmp_path, monkeypatch):
    """A workspace holding `sat`: 4 images of 5 uint16 bands (32x24) with their masks."""
    root = tmp_path / "workspace"
    data = root / "datasets" / "sat"
    rng = np.random.default_rng(1)
    images = []
    for index in range(4):
        pixels = rng.integers(0, 3000, (24, 32, BANDS)).astype(np.uint16)
        pixels[..., 4] += 20000  # band 4 is bright: a stretched picture shows it alike
        (data / "images").mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(data / "images" / f"{index}.tif", pixels, photometric="minisblack",
                         planarconfig="contig")
        write_png(data / "masks" / f"{index}.png", rng.integers(0, 2, (24, 32)).astype(np.uint8))
        images.append(pixels)
    monkeypatch.setenv("SEGCORE_HOME", str(root))
    return images


def captions(at):
    """The captions of the preview's images (one per image, the image's stem)."""
    return [c for image in at.get("image") for c in image.captions]


def test_facts_and_a_preview_of_chosen_bands(bands_workspace):
    at = page("data")
    at.query_params["dataset"] = "sat"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    facts = next(d.value for d in at.dataframe if "dataset" in d.value.columns)
    shown = dict(zip(facts[""], facts["dataset"]))
    assert shown["format"] == "images + masks"
    assert shown["channels"].startswith("5, kept as they are")
    assert shown["pixel types"] == "4 images: 5 x uint16"
    assert shown["image sizes (WxH)"] == "32x24 (4)"
    # Defaults: bands 0, 1, 2 as red, green, blue, stretched (16-bit).
    assert [at.selectbox(key=f"preview_band_{c}_sat").value for c in ("red", "green", "blue")] \
        == [0, 1, 2]
    assert at.toggle(key="preview_stretch_sat").value
    shown_stems = captions(at)
    assert len(shown_stems) == 3  # the train split's three images (one is val)

    at.selectbox(key="preview_band_red_sat").set_value(4).run()
    at.toggle(key="preview_gray_sat").set_value(True).run()
    at.selectbox(key="preview_band_gray_sat").set_value(3).run()
    assert not at.exception, [e.value for e in at.exception]
    # The choice is the page's own session state: it outlives the widgets.
    assert at.session_state["preview_bands"]["sat"] == {"bands": (3,), "stretch": True}
    assert captions(at) == shown_stems
