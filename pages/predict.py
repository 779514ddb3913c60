"""Predict page: masks for uploaded images (tiled when large), error maps, export."""

import shutil
from pathlib import Path

import numpy as np
import streamlit as st

from pages.common import current_run, fail, finished_runs
from segcore import appstate
from segcore.data.formats import read_image_uint8, read_mask
from segcore.errors import SegcoreError
from segcore.inference import EXPORT_FORMATS, RunPredictor, error_map, export_model, overlay


@st.cache_resource(max_entries=2)
def predictor(path, mtime):
    return RunPredictor(path)


def export_section(run_path):
    st.subheader("Export the model")
    fmt = st.selectbox("Format", EXPORT_FORMATS, key="export_format")
    if st.button("Export", key="export"):
        try:
            with st.spinner("Exporting…"):
                path = Path(export_model(run_path, fmt))
        except SegcoreError as error:
            fail(error)
        if path.is_dir():
            archive = shutil.make_archive(str(path), "zip", path)
            data, name = Path(archive).read_bytes(), f"{path.name}.zip"
        else:
            data, name = path.read_bytes(), path.name
        st.download_button(f"Download {name}", data, file_name=name, key="export_download")


def predict_page():
    st.title("Predict")
    available = finished_runs()
    if not available:
        st.info("No trained runs yet: train one on the Train page.")
        return
    ids = [r.run_id for r in available]
    index = ids.index(current_run()) if current_run() in ids else 0
    run_id = st.selectbox("Run", ids, index=index, key="predict_run")
    run_path = available[ids.index(run_id)].path
    checkpoint = run_path / "best.keras"
    try:
        model = predictor(str(run_path), checkpoint.stat().st_mtime if checkpoint.is_file() else 0)
    except SegcoreError as error:
        fail(error)
    images = st.file_uploader("Images (any size)", accept_multiple_files=True,
                              type=["png", "jpg", "jpeg", "tif", "tiff", "bmp"],
                              key="predict_images")
    masks = st.file_uploader("Ground-truth masks (optional, same names)", accept_multiple_files=True,
                             type=["png", "bmp", "tif", "tiff"], key="predict_masks")
    alpha = st.slider("Overlay opacity", 0.0, 1.0, 0.5, 0.05, key="predict_opacity")
    truths = {Path(m.name).stem.removesuffix("_mask"): m for m in masks or []}
    outputs = {}
    for upload in images or []:
        try:
            image = read_image_uint8(upload.getvalue(), name=upload.name)
            with st.spinner(f"Predicting {upload.name}…"):
                labels = model.predict(image)
        except SegcoreError as error:
            st.error(str(error))
            continue
        stem = Path(upload.name).stem
        outputs[f"{stem}_mask.png"] = appstate.png_bytes(labels)
        columns = st.columns(3)
        columns[0].image(image, caption=f"{upload.name} ({image.shape[1]}x{image.shape[0]})")
        columns[1].image(overlay(image, labels, model.class_map, alpha), caption="prediction")
        if stem in truths:
            try:
                truth = read_mask(truths[stem].getvalue(), model.class_map, name=truths[stem].name)
                if truth.shape != labels.shape:
                    raise SegcoreError(f"{truths[stem].name}: mask size differs from its image.")
                accuracy = float(np.mean(truth[truth != 255] == labels[truth != 255]))
                columns[2].image(error_map(labels, truth),
                                 caption=f"errors in red · pixel accuracy {accuracy:.3f}")
            except SegcoreError as error:
                columns[2].error(str(error))
    if outputs:
        st.download_button("Download masks (zip)", appstate.zip_files(outputs),
                           file_name=f"{run_id}-masks.zip", mime="application/zip",
                           key="download_masks")
    export_section(run_path)


predict_page()
