"""Data page, what the data is: its format, channels, pixel types and sizes, and a preview grid
of masks over the images (multi-channel images through chosen bands)."""

import pandas as pd
import streamlit as st

from segcore.data import load_dataset
from segcore.data.band_view import STRETCH, default_bands, render_bands
from segcore.data.channels import BANDS, InputSpec, read_input
from segcore.data.doctor import summary_facts
from segcore.data.masks import read_mask
from segcore.data.readers import FORMAT_NAMES
from segcore.pictures import overlay
from segcore.training.config import RunConfig

PREVIEW_SIDE = 256  # preview thumbnails are at most this many pixels on a side


def dataset_facts(summary):
    """Format, channels, pixel types and image sizes, as a two-column table."""
    facts = summary_facts(summary, FORMAT_NAMES)
    st.dataframe(pd.DataFrame({"": list(facts), "dataset": list(facts.values())}),
                 key="dataset_facts", hide_index=True)


def split_as_training(path):
    """The dataset split as training splits it by default (`RunConfig`'s split mode, val
    share and seed), so the preview's splits hold the images training will see there."""
    return load_dataset(path, split=RunConfig.split, val_fraction=RunConfig.val_fraction,
                        seed=RunConfig.seed)


@st.cache_data(max_entries=8, show_spinner="Loading the preview…")
def preview_pairs(path, signature, split, count, spec_json, bands, stretch):
    """(stem, uint8 RGB picture, labels) of the first `count` samples, shrunk for display.

    Multi-channel images show `bands` as R, G, B (one: gray), each stretched between the
    `STRETCH` percentiles of its own values when `stretch` is set.
    """
    import cv2

    dataset = split_as_training(path)
    spec = InputSpec(**spec_json)
    pairs = []
    for sample in dataset.samples(split)[:count]:
        image = read_input(sample.image, spec)
        picture = render_bands(image, bands, STRETCH if stretch else None)
        mask = read_mask(sample.mask, dataset.class_map)
        scale = PREVIEW_SIDE / max(picture.shape[:2])
        if scale < 1:
            size = (max(1, round(picture.shape[1] * scale)), max(1, round(picture.shape[0] * scale)))
            picture = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
            mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
        pairs.append((sample.stem, picture, mask))
    return pairs


@st.cache_data(max_entries=8, show_spinner=False)
def preview_splits(path, signature):
    """{split: image count} as training splits the dataset by default: an export or folder
    without a val split holds a share of its train images out, so the preview offers both."""
    dataset = split_as_training(path)
    return {split: len(dataset.samples(split)) for split in ("train", "val", "test")
            if dataset.samples(split)}


def band_choice(name, spec):
    """The bands shown as R, G, B (or one as gray) and whether to stretch them.

    Kept per dataset under the page's own session key, so leaving the page keeps the choice.
    """
    chosen = st.session_state.setdefault("preview_bands", {})
    default = {"bands": default_bands(spec.channels), "stretch": spec.dtype != "uint8"}
    saved = chosen.get(name, default)
    options = list(range(spec.channels))
    st.caption(f"{spec.channels} band{'s' if spec.channels != 1 else ''} ({spec.dtype}): pick "
               "which show as red, green and blue, or one as gray.")
    gray_col, *columns, stretch_col = st.columns(5)
    gray = gray_col.toggle("One band as gray", len(saved["bands"]) == 1,
                           key=f"preview_gray_{name}")
    if gray:
        bands = (columns[0].selectbox("Gray band", options, saved["bands"][0],
                                      key=f"preview_band_gray_{name}"),)
    else:
        start = saved["bands"] if len(saved["bands"]) == 3 else default_bands(max(3, spec.channels))
        bands = tuple(column.selectbox(label, options, min(band, spec.channels - 1),
                                       key=f"preview_band_{label.lower()}_{name}")
                      for column, label, band in zip(columns, ("Red", "Green", "Blue"), start))
    stretch = stretch_col.toggle("Stretch 2–98%", saved["stretch"], key=f"preview_stretch_{name}",
                                 help="Each band from its 2nd to its 98th percentile: 16-bit "
                                      "and float bands fill the picture's range.")
    chosen[name] = {"bands": bands, "stretch": stretch}
    return bands, stretch


def preview(path, signature, summary, class_map):
    """The preview grid: masks over the images of a split, with the mask opacity chosen."""
    st.subheader("Preview")
    spec = InputSpec(**summary.get("input", {"mode": "rgb", "channels": 3, "dtype": "uint8"}))
    if spec.mode == BANDS:
        bands, stretch = band_choice(path.name, spec)
    else:
        bands, stretch = (0, 1, 2), False  # pictures as they are
    splits = preview_splits(str(path), signature)
    left, middle, right = st.columns(3)
    # One widget per dataset and split sizes: with one key for all, the browser kept the
    # first dataset's "train · 38 images" on another dataset's picker.
    counts = ",".join(f"{name}{count}" for name, count in splits.items())
    split = left.selectbox("Split", list(splits), key=f"preview_split:{path.name}:{counts}",
                           format_func=lambda s: f"{s} · {splits[s]} image{'s' * (splits[s] != 1)}")
    count = middle.slider("Images", 4, 24, 8, 4, key="preview_count")
    opacity = right.slider("Mask opacity", 0.0, 1.0, 0.5, 0.05, key="preview_opacity")
    columns = st.columns(4)
    pairs = preview_pairs(str(path), signature, split, count,
                          {"mode": spec.mode, "channels": spec.channels, "dtype": spec.dtype},
                          tuple(bands), stretch)
    for index, (stem, picture, mask) in enumerate(pairs):
        columns[index % 4].image(overlay(picture, mask, class_map, opacity), caption=stem,
                                 width="stretch")
