"""Predict page: masks for uploaded images (tiled when large), zoom, error maps, export."""

import json
import math
import shutil
from pathlib import Path

import streamlit as st

from app_pages.common import current_run, fail, finished_runs, no_runs_yet, set_run, tta_choice
from segcore import predict_view
from segcore.data.masks import read_mask
from segcore.errors import SegcoreError
from segcore.export import EXPORT_FORMATS, export_model, export_path
from segcore.export_card import sidecar_names, usage_text
from segcore.inference import WHICH, RunPredictor
from segcore.pictures import error_map, output_stems, overlay, to_uint8


@st.cache_resource(max_entries=2, show_spinner="Loading the run's model…")
def predictor(path, mtime, tta=False):
    return RunPredictor(path, tta=tta)


def predicted_labels(model, run_path, mtime, upload, image):
    """Labels of one upload, kept in the session so moving a slider does not predict again."""
    cache = st.session_state.setdefault("predictions", {})
    key = (run_path, mtime, upload.file_id, model.tta)
    if key not in cache:
        with st.spinner(f"Predicting {upload.name} ({image.shape[1]}x{image.shape[0]})…"):
            cache[key] = model.predict(image)
        while len(cache) > 32:  # oldest first: dicts keep insertion order
            cache.pop(next(iter(cache)))
    return cache[key]


def exported_files(run_path):
    """(key, file, export name) of each export ready to download; a SavedModel folder as its
    zip."""
    files = []
    for fmt in EXPORT_FORMATS:
        for which in WHICH:
            path = name = export_path(run_path, fmt, which)
            if path.is_dir():
                path = path.with_name(path.name + ".zip")
            if path.is_file():
                files.append((f"{fmt}_{which}", path, name.name))
    return files


def export_sidecars(where, run_path, key, name):
    """Downloads of an export's card and README, under the names the downloads get (the run
    id in front). Returns the README to read in place, or None."""
    card_name, readme_name = sidecar_names(name)
    card_path = run_path / "export" / card_name
    if not card_path.is_file():
        where.caption(f"{name} was exported without its class map and usage notes; tick "
                      f"*Replace {name}* and export it again to get them.")
        return None
    prefix = f"{run_path.name}-"
    # A SavedModel's zip unpacks to its own folder name, whatever the zip is saved as.
    model_file = name if (run_path / "export" / name).is_dir() else prefix + name
    try:
        card = json.loads(card_path.read_text())
        readme = usage_text(card, model_file, prefix + card_name)
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as error:  # edited by hand
        where.caption(f"{card_path.name} cannot be read ({error}); export {name} again.")
        return None
    left, right = where.columns(2)
    left.download_button(f"Class map and input ({card_name})", data=card_path.read_bytes(),
                         file_name=prefix + card_name, mime="application/json",
                         key=f"export_card_{key}", on_click="ignore")
    right.download_button(f"Usage ({readme_name})", data=readme, file_name=prefix + readme_name,
                          mime="text/markdown", key=f"export_readme_{key}", on_click="ignore")
    return usage_text(card, model_file, prefix + card_name, level=4)


def export_section(run_path):
    st.subheader("Export the model")
    left, right = st.columns([1, 3])
    fmt = left.selectbox("Format", EXPORT_FORMATS, key="export_format",
                         help="keras: Keras 3 file · savedmodel: TF Serving (zipped) · "
                              "tflite: mobile and edge, float32")
    which = left.selectbox("Weights", WHICH, key="export_weights",
                           help="best: the epoch with the best validation mean IoU · "
                                "last: the latest epoch")
    target = export_path(run_path, fmt, which)
    # An earlier export is replaced only when asked: it may be what was downloaded and tested.
    replace = target.exists() and left.checkbox(f"Replace {target.name}", key="export_replace")
    if left.button("Export", key="export"):
        if target.exists() and not replace:
            left.warning(f"{target.name} exists already; tick *Replace {target.name}* to "
                         "export it again.")
        else:
            try:
                with st.spinner(f"Exporting {fmt} ({which} weights)…"):
                    path = Path(export_model(run_path, fmt, which, overwrite=replace))
            except SegcoreError as error:
                fail(error)
            if path.is_dir():
                # The folder itself in the zip: unzipping gives `savedmodel-best/`, as the
                # usage notes name it, not its files loose in the current folder.
                shutil.make_archive(str(path), "zip", path.parent, path.name)
    ready = exported_files(run_path)
    if not ready:
        right.caption("Nothing exported yet for this run.")
    usages = []
    for key, path, name in ready:
        right.download_button(f"Download {path.name} ({path.stat().st_size / 1e6:.1f} MB)",
                              data=path.read_bytes, file_name=f"{run_path.name}-{path.name}",
                              key=f"export_download_{key}", on_click="ignore")
        usage = export_sidecars(right, run_path, key, name)
        if usage:
            usages.append((name, usage))
    for name, usage in usages:  # the page's width: the snippet's lines stay readable
        with st.expander(f"How to use {name}"):
            st.markdown(usage)


def show_prediction(upload, stem, image, labels, class_map, truth_upload, alpha):
    columns = st.columns(3)
    columns[0].image(predict_view.shrink(image), width="stretch",
                     caption=f"{upload.name} ({image.shape[1]}x{image.shape[0]})")
    blended = overlay(image, labels, class_map, alpha)
    columns[1].image(predict_view.shrink(blended), caption="prediction", width="stretch")
    # Pictures for the zoom view; the error map is made only when it is shown.
    pictures = {"prediction": lambda: blended, "image": lambda: image}
    truth = None
    if truth_upload is None:
        columns[2].caption("Upload its mask to see the errors.")
    else:
        try:
            truth = read_mask(truth_upload.getvalue(), class_map, name=truth_upload.name)
            iou, accuracy = predict_view.mask_scores(labels, truth, class_map.num_classes)
        except SegcoreError as error:
            columns[2].error(f"{truth_upload.name}: {error}"
                             if truth_upload.name not in str(error) else str(error))
            truth = None
    if truth is not None:
        iou_text = "n/a" if iou is None or math.isnan(iou) else f"{iou:.3f}"
        columns[2].image(predict_view.shrink(error_map(labels, truth), nearest=True),
                         width="stretch", caption=f"errors in red · mean IoU {iou_text} · "
                                                  f"pixel accuracy {accuracy:.3f}")
        pictures["errors"] = lambda: error_map(labels, truth)
    zoom_view(upload.name, stem, image.shape, pictures)


def zoom_view(name, stem, shape, pictures):
    """The full-resolution picture of one upload, to zoom and pan in the browser."""
    height, width = shape[:2]
    if not st.toggle(f"Zoom and pan {name} at full resolution ({width}x{height})",
                     key=f"zoom_{stem}"):
        return
    shown = st.radio("Picture", list(pictures), horizontal=True, key=f"zoom_picture_{stem}")
    st.plotly_chart(predict_view.zoom_figure(pictures[shown](), f"{name} · {shown}"),
                    key=f"zoom_chart_{stem}", config={"scrollZoom": True})
    sent = "" if max(height, width) <= 4096 else " (sent at 4096 px on its longer side)"
    st.caption(f"Drag a box to zoom, drag with the pan tool or scroll to move, double-click "
               f"to see the whole image{sent}.")


def predict_page():
    st.title("Predict")
    available = finished_runs()
    if not available:
        no_runs_yet()
        return
    ids = [r.run_id for r in available]
    index = ids.index(current_run()) if current_run() in ids else 0
    shown = {r.run_id: r.label for r in available}  # the id with the run's name beside it
    run_id = st.selectbox("Run", ids, index=index, key="predict_run",
                          format_func=lambda r: shown.get(r, r),
                          on_change=lambda: set_run(st.session_state["predict_run"]))
    run_path = available[ids.index(run_id)].path
    tta = tta_choice(st, "predict", run_path)
    checkpoint = run_path / "best.keras"
    mtime = checkpoint.stat().st_mtime if checkpoint.is_file() else 0
    try:
        model = predictor(str(run_path), mtime, tta)
    except SegcoreError as error:
        fail(error)
    st.caption(f"Classes: {', '.join(model.class_map.names)} · trained at "
               f"{model.tile[0]}x{model.tile[1]}; larger images are predicted in overlapping "
               "tiles at the training scale.")
    images = st.file_uploader("Images (any size)", accept_multiple_files=True,
                              type=["png", "jpg", "jpeg", "tif", "tiff", "bmp"],
                              key="predict_images")
    masks = st.file_uploader("Ground-truth masks (optional, same names, or name_mask.png)",
                             accept_multiple_files=True, type=["png", "bmp", "tif", "tiff"],
                             key="predict_masks")
    left, right = st.columns(2)
    alpha = left.slider("Overlay opacity", 0.0, 1.0, 0.5, 0.05, key="predict_opacity")
    mask_format = right.radio("Downloaded masks hold", list(predict_view.MASK_FORMATS),
                              format_func=predict_view.MASK_FORMATS.get, key="mask_format")
    for conflict in predict_view.mask_conflicts([m.name for m in masks or []]):
        st.warning(conflict)
    masks_by_name = {m.name: m for m in masks or []}
    pairs = predict_view.pair_masks([u.name for u in images or []], list(masks_by_name))
    outputs = {}
    stems = output_stems(u.name for u in images or [])  # a.png and a.jpg: two masks in the zip
    for upload, stem in zip(images or [], stems):
        try:
            image = model.read(upload.getvalue(), name=upload.name, compact=True)
            labels = predicted_labels(model, str(run_path), mtime, upload, image)
            image = to_uint8(image)  # bands are shown as a picture of their first ones
        except SegcoreError as error:
            st.error(str(error))
            continue
        outputs[predict_view.mask_file_name(stem, mask_format)] = predict_view.png_bytes(
            predict_view.mask_for_download(labels, model.class_map, mask_format))
        truth = masks_by_name.get(pairs.get(upload.name))
        show_prediction(upload, stem, image, labels, model.class_map, truth, alpha)
    if outputs:
        st.download_button("Download masks (zip)", predict_view.zip_files(outputs),
                           file_name=predict_view.masks_zip_name(run_id, mask_format),
                           mime="application/zip", key="download_masks", on_click="ignore",
                           help=f"{len(outputs)} PNG masks at full size: "
                                f"{', '.join(list(outputs)[:3])}{'…' if len(outputs) > 3 else ''}")
    export_section(run_path)


predict_page()
