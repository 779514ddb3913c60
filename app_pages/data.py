"""Data page: pick or upload a dataset, check it, edit its classes, preview masks.

The page's parts live beside it: `data_upload` (uploads and their offers), `data_manage`
(snap, rename, delete, first-open guide) and `data_preview` (facts and the preview grid).
"""

import pandas as pd
import streamlit as st

from app_pages.common import (
    current_dataset,
    dataset_names,
    dataset_path,
    dataset_report,
    flash,
    set_dataset,
    show_flash,
    workspace,
)
from app_pages.data_manage import first_open_guide, manage_dataset_section, snap_offer
from app_pages.data_preview import dataset_facts, preview
from app_pages.data_upload import problem_list, upload_section
from app_pages.label_help import unlabelled_uploader
from segcore import appstate, plots, runs
from segcore.data.classes import ClassMap
from segcore.data.doctor import check_folder
from segcore.data.readers import FORMAT_NAMES
from segcore.errors import SegcoreError
from segcore.training.config import RunConfig


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
                st.error(f"Classes not saved: {len(problems)} mask"
                         f"{'s' if len(problems) != 1 else ''} would not fit them.")
                problem_list(appstate.relative_problems(problems, path), "class_problems")
                return
            updated.save(path / "classes.json")
            # The editor keeps edits as row-index deltas, in the browser too: a new key gives a
            # fresh editor, so saved deletions cannot hit the rows that moved up.
            st.session_state["class_table_version"] = version + 1
            flash("Classes saved.")
            st.rerun()


def data_page():
    st.title("Data")
    show_flash()
    if not runs.list_runs(workspace()):
        first_open_guide()
    # The URL (or this session) names the dataset; the picker follows it, and its callback
    # changes it, so a saved upload or another page's link is not undone by the widget's state.
    st.session_state["dataset_select"] = current_dataset()
    chosen = st.selectbox("Dataset", dataset_names(), key="dataset_select",
                          on_change=lambda: set_dataset(st.session_state["dataset_select"]))
    upload_section()
    manage_dataset_section(chosen)  # before the doctor: a broken dataset can be deleted too
    path = dataset_path(chosen)
    signature = appstate.folder_signature(path)
    summary, problems = dataset_report(path)
    if problems:
        st.error(f"The data doctor found {len(problems)} problem"
                 f"{'s' if len(problems) != 1 else ''} in {chosen}; training on it is blocked "
                 "until they are fixed.")
        problem_list(appstate.relative_problems(problems, path), "dataset_problems")
        if summary.get("defective_masks"):
            snap_offer(path)
        if (path / "classes.json").is_file():
            try:  # a class file that no longer fits the masks is fixed right here
                class_editor(path, ClassMap.load(path / "classes.json"))
            except SegcoreError as error:
                st.error(str(error))
        st.stop()
    class_map = ClassMap.from_json(summary["class_map"])
    counts = summary["images_per_split"]
    layout = FORMAT_NAMES.get(summary.get("format"), "images + masks")
    st.success(f"{chosen}: " + ", ".join(
        f"{n} images" if s == "all" else f"{n} {s} images" for s, n in counts.items())
               + f", {class_map.num_classes} classes, sizes {', '.join(summary['sizes'])}; "
               f"format: {layout}."
               + (f" It has no val split: training holds {RunConfig.val_fraction:.0%} of the "
                  "train images out for validation (`--val-fraction` on the command line)."
                  if "train" in counts and "val" not in counts else ""))
    dataset_facts(summary)
    unlabelled_uploader(path)
    warnings = appstate.dataset_warnings(summary)
    if len(warnings) > 3:  # one box, not a wall of yellow
        st.warning(f"{len(warnings)} things to look at in {chosen}:\n"
                   + "\n".join(f"- {w}" for w in warnings))
    else:
        for warning in warnings:
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
