"""Data page: pick or upload a dataset, check it, edit its classes, preview masks."""

import pandas as pd
import streamlit as st

from pages.common import (
    current_dataset,
    dataset_names,
    dataset_path,
    dataset_report,
    flash,
    set_dataset,
    show_flash,
    workspace,
)
from segcore import appstate, plots
from segcore.data import load_dataset
from segcore.data.classes import ClassMap
from segcore.data.doctor import check_folder
from segcore.data.formats import read_image, read_mask
from segcore.data.uploads import save_uploads, suggest_name
from segcore.errors import SegcoreError
from segcore.inference import overlay, to_uint8
from segcore.workspace import child_path, datasets_dir

PREVIEW_SIDE = 256  # preview thumbnails are at most this many pixels on a side


@st.cache_data(max_entries=8, show_spinner="Loading the preview…")
def preview_pairs(path, signature, split, count):
    """(stem, uint8 image, labels) of the first `count` samples, shrunk for display."""
    import cv2

    dataset = load_dataset(path)
    pairs = []
    for sample in dataset.samples(split)[:count]:
        image, mask = to_uint8(read_image(sample.image)), read_mask(sample.mask, dataset.class_map)
        scale = PREVIEW_SIDE / max(image.shape[:2])
        if scale < 1:
            size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
        pairs.append((sample.stem, image, mask))
    return pairs


def upload_section():
    with st.expander("Upload a new dataset", key="upload_expander"):
        st.caption("Images with masks of the same name: pick files (`x.png` + `x_mask.png`), "
                   "a zip of a dataset folder, or a whole folder with images/ and masks/ "
                   "(optionally train/ val/ test/ and a classes.json).")
        files = st.file_uploader("Files or a zip", accept_multiple_files=True, key="upload_files",
                                 type=["png", "jpg", "jpeg", "tif", "tiff", "bmp", "zip"])
        folder = st.file_uploader("…or a folder", accept_multiple_files="directory",
                                  key="upload_folder")
        chosen = list(files or []) + list(folder or [])
        suggestion = suggest_name([f.name for f in chosen])
        name = st.text_input("Dataset name", key="upload_name", placeholder=suggestion
                             or "my-dataset", help="Letters, digits, '.', '_' or '-'.")
        if st.button("Save dataset", key="upload_save", type="primary"):
            # Errors stay inside this section: the current dataset below keeps showing.
            if not chosen:
                st.error("Nothing was uploaded: pick files, a zip or a folder first.")
                return
            if not (name or suggestion):
                st.error("Name the dataset first (letters, digits, '.', '_' or '-').")
                return
            try:
                dest = child_path(datasets_dir(workspace()), name or suggestion, "dataset name")
                with st.spinner("Checking the upload…"):
                    save_uploads([(f.name, f.getvalue()) for f in chosen], dest)
            except SegcoreError as error:
                st.error(str(error))
                return
            set_dataset(dest.name)
            flash(f"Saved dataset {dest.name}.")
            st.rerun()


def class_editor(path, class_map):
    """Names, colours and mask values; saved only when the dataset still checks clean."""
    with st.expander("Classes", key="classes_expander"):
        table = pd.DataFrame({
            "name": class_map.names,
            "color": ["#{:02x}{:02x}{:02x}".format(*c) for c in class_map.colors],
            "value": class_map.values,
        })
        version = st.session_state.get("class_table_version", 0)
        edited = st.data_editor(
            table, key=f"class_table_{path.name}_{version}", num_rows="dynamic", hide_index=True,
            column_config={
                "name": st.column_config.TextColumn("name", required=True),
                "color": st.column_config.TextColumn("colour (#rrggbb)", required=True,
                                                     validate=r"^#?[0-9a-fA-F]{6}$"),
                "value": st.column_config.NumberColumn("mask value", min_value=0,
                                                       max_value=255, step=1, required=True),
            })
        void = st.number_input(
            "Void (ignored) mask value, -1 for none", -1, 255,
            -1 if class_map.ignore_value is None else class_map.ignore_value,
            key=f"void_value_{path.name}")
        if st.button("Save classes", key="save_classes"):
            try:
                updated = appstate.class_map_from_table(
                    list(edited["name"]), list(edited["color"]), list(edited["value"]), void,
                    class_map.void_color)
            except SegcoreError as error:
                st.error(f"Classes not saved: {error}")
                return
            problems = check_folder(path, classes=updated).problems
            if problems:
                st.error("Classes not saved, the masks would not fit them: "
                         + appstate.relative_problems(problems, path)[0])
                return
            updated.save(path / "classes.json")
            # The editor keeps edits as row-index deltas, in the browser too: a new key gives a
            # fresh editor, so saved deletions cannot hit the rows that moved up.
            st.session_state["class_table_version"] = version + 1
            flash("Classes saved.")
            st.rerun()


def preview(path, signature, summary, class_map):
    st.subheader("Preview")
    splits = [s for s in summary["images_per_split"] if s != "all"] or ["train", "val"]
    left, middle, right = st.columns(3)
    split = left.selectbox("Split", splits, key="preview_split")
    count = middle.slider("Images", 4, 24, 8, 4, key="preview_count")
    opacity = right.slider("Mask opacity", 0.0, 1.0, 0.5, 0.05, key="preview_opacity")
    columns = st.columns(4)
    for index, (stem, image, mask) in enumerate(preview_pairs(str(path), signature, split, count)):
        columns[index % 4].image(overlay(image, mask, class_map, opacity), caption=stem,
                                 width="stretch")


def data_page():
    st.title("Data")
    show_flash()
    # The URL (or this session) names the dataset; the picker follows it, and its callback
    # changes it, so a saved upload or another page's link is not undone by the widget's state.
    st.session_state["dataset_select"] = current_dataset()
    chosen = st.selectbox("Dataset", dataset_names(), key="dataset_select",
                          on_change=lambda: set_dataset(st.session_state["dataset_select"]))
    upload_section()
    path = dataset_path(chosen)
    signature = appstate.folder_signature(path)
    summary, problems = dataset_report(path)
    if problems:
        st.error(f"The data doctor found {len(problems)} problem(s) in {chosen}; training on it "
                 "is blocked until they are fixed:")
        for problem in appstate.relative_problems(problems, path)[:20]:
            st.error(problem)
        if (path / "classes.json").is_file():
            try:  # a class file that no longer fits the masks is fixed right here
                class_editor(path, ClassMap.load(path / "classes.json"))
            except SegcoreError as error:
                st.error(str(error))
        st.stop()
    class_map = ClassMap.from_json(summary["class_map"])
    counts = summary["images_per_split"]
    st.success(f"{chosen}: " + ", ".join(
        f"{n} images" if s == "all" else f"{n} {s} images" for s, n in counts.items())
               + f", {class_map.num_classes} classes, sizes {', '.join(summary['sizes'])}.")
    for warning in appstate.dataset_warnings(summary):
        st.warning(warning)
    class_editor(path, class_map)
    rows = appstate.class_share_table(summary)
    left, right = st.columns([3, 2])
    left.plotly_chart(plots.class_share_bars(
        class_map.names, [c["pixel_share"] for c in summary["classes"]], class_map.colors,
        [r["median"] for r in rows]), key="class_shares")
    right.markdown("**Suggested class weights** (inverse frequency or median frequency; "
                   "pick the method on the Train page)")
    right.dataframe(pd.DataFrame(rows), key="class_weights_table", hide_index=True)
    preview(path, signature, summary, class_map)


data_page()
