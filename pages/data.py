"""Data page: pick or upload a dataset, check it, edit its classes, preview masks."""

import pandas as pd
import streamlit as st

from pages.common import current_dataset, dataset_names, dataset_path, fail, set_dataset, workspace
from segcore import appstate, plots
from segcore.data.classes import ClassMap
from segcore.data.doctor import check_dataset
from segcore.data.formats import read_image, read_mask
from segcore.errors import SegcoreError
from segcore.inference import overlay
from segcore.losses import compute_class_weights
from segcore.workspace import child_path, datasets_dir


def upload_section():
    with st.expander("Upload a new dataset", expanded=False):
        st.caption("Images with masks of the same name: pick files (`x.png` + `x_mask.png`), "
                   "a zip of a dataset folder, or a whole folder with images/ and masks/.")
        name = st.text_input("Dataset name", key="upload_name", placeholder="my-dataset")
        files = st.file_uploader("Files or a zip", accept_multiple_files=True, key="upload_files",
                                 type=["png", "jpg", "jpeg", "tif", "tiff", "bmp", "zip"])
        folder = st.file_uploader("…or a folder", accept_multiple_files="directory",
                                  key="upload_folder")
        if st.button("Save dataset", key="upload_save", type="primary"):
            chosen = list(files or []) + list(folder or [])
            try:
                dest = child_path(datasets_dir(workspace()), name, "dataset name")
                appstate.save_uploads([(f.name, f.getvalue()) for f in chosen], dest)
            except SegcoreError as error:
                fail(error)
            set_dataset(dest.name)
            st.success(f"Saved dataset {dest.name}.")
            st.rerun()


def class_editor(path, class_map):
    with st.expander("Classes", expanded=False):
        table = pd.DataFrame({
            "name": class_map.names,
            "color": ["#{:02x}{:02x}{:02x}".format(*c) for c in class_map.colors],
            "value": class_map.values,
        })
        edited = st.data_editor(table, key="class_table", num_rows="fixed", hide_index=True)
        void = st.number_input("Void (ignored) mask value, -1 for none", -1, 255,
                               -1 if class_map.ignore_value is None else class_map.ignore_value,
                               key="void_value")
        if st.button("Save classes", key="save_classes"):
            try:
                colors = [tuple(int(h.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
                          for h in edited["color"]]
                updated = ClassMap(list(edited["name"]), colors, [int(v) for v in edited["value"]],
                                   None if void < 0 else int(void), class_map.void_color)
            except (SegcoreError, ValueError) as error:
                fail(f"Classes not saved: {error}")
            updated.save(path / "classes.json")
            st.success("Classes saved.")
            st.rerun()


def preview(dataset_dir, class_map, limit=8):
    from segcore.data import load_dataset

    opacity = st.slider("Mask opacity", 0.0, 1.0, 0.5, 0.05, key="preview_opacity")
    samples = load_dataset(dataset_dir, classes=class_map).samples("train")[:limit]
    columns = st.columns(4)
    for index, sample in enumerate(samples):
        image = read_image(sample.image)
        mask = read_mask(sample.mask, class_map)
        columns[index % 4].image(overlay(image, mask, class_map, opacity), caption=sample.stem)


def data_page():
    st.title("Data")
    names = dataset_names()
    chosen = st.selectbox("Dataset", names, index=names.index(current_dataset()),
                          key="dataset_select")
    if chosen != current_dataset():
        set_dataset(chosen)
    upload_section()
    path = dataset_path(chosen)
    report = check_dataset(path)
    if not report.ok:
        st.error(f"The data doctor found {len(report.problems)} problem(s) in {chosen}:")
        for problem in report.problems[:20]:
            st.error(problem)
        st.stop()
    summary = report.summary
    class_map = ClassMap.from_json(summary["class_map"])
    counts = summary["images_per_split"]
    st.success(f"{chosen}: " + ", ".join(
        f"{n} images" if s == "all" else f"{n} {s} images" for s, n in counts.items())
               + f", {class_map.num_classes} classes, sizes {', '.join(summary['sizes'])}.")
    class_editor(path, class_map)
    shares = [c["pixel_share"] for c in summary["classes"]]
    weights = compute_class_weights([s * 1e9 for s in shares], "median")
    st.plotly_chart(plots.class_share_bars(class_map.names, shares, class_map.colors, weights),
                    key="class_shares")
    st.caption("Suggested median-frequency class weights: " + ", ".join(
        f"{n} {w:.2f}" for n, w in zip(class_map.names, weights)))
    preview(path, class_map)


data_page()
