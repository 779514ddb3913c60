"""Data page, upload: pick files, a zip or a folder; refusals become offers to fix them."""

import numpy as np
import pandas as pd
import streamlit as st

from app_pages.common import flash, set_dataset, workspace
from segcore.data.classes import ClassMap
from segcore.data.uploads import (
    ColoursNeedNames,
    UploadProblems,
    colour_class_map,
    save_uploads,
    suggest_name,
)
from segcore.errors import SegcoreError
from segcore.workspace import child_path, datasets_dir


def problem_list(problems, key):
    """Every problem, one per line, in an expander (open when there are only a few)."""
    with st.expander(f"All {len(problems)} problem{'s' if len(problems) != 1 else ''}",
                     expanded=len(problems) <= 3, key=key):
        st.error("\n".join(f"- {p}" for p in problems))


def clear_upload():
    """The Clear button's callback: new widget keys give empty pickers and name (Streamlit
    cannot empty a file uploader otherwise), and what the last save attempt offered goes."""
    st.session_state["upload_version"] = st.session_state.get("upload_version", 0) + 1
    st.session_state.pop("upload_offer", None)


def save_upload(chosen, name, classes=None, snap=False):
    """Saves the picked files as a dataset; a refusal becomes an offer shown below the picker
    (name the colours found, or snap damaged masks), kept across reruns for these files."""
    picked = [(f.name, f.size) for f in chosen]
    try:
        dest = child_path(datasets_dir(workspace()), name, "dataset name")
        with st.spinner("Checking the upload…"):
            save_uploads([(f.name, f.getvalue()) for f in chosen], dest, classes=classes,
                         snap=snap)
    except ColoursNeedNames as error:
        st.session_state["upload_offer"] = {"kind": "colours", "text": str(error),
                                            "colours": error.colours, "picked": picked}
        return
    except UploadProblems as error:
        st.session_state["upload_offer"] = {
            "kind": "problems", "problems": error.problems, "defective": error.defective,
            "classes": classes.to_json() if classes is not None else None, "picked": picked}
        return
    except SegcoreError as error:
        st.session_state.pop("upload_offer", None)
        st.error(str(error))
        return
    clear_upload()
    set_dataset(dest.name)
    flash(f"Saved dataset {dest.name}" + (" (mask values snapped to their classes)."
                                          if snap else "."))
    st.rerun()


def _proposed_names(colours):
    """'background' for black, 'class 1', 'class 2', ... for the others."""
    names, count = [], 0
    for colour in colours:
        if colour == (0, 0, 0):
            names.append("background")
        else:
            count += 1
            names.append(f"class {count}")
    return names


def colour_offer(offer, chosen, name):
    """Colour masks without a class file: the colours found, as a table to name them."""
    st.info(offer["text"])
    # The editor cannot paint a cell: swatches above it show what each hex code is.
    st.image([np.full((24, 48, 3), c, np.uint8) for c, _ in offer["colours"]],
             caption=["#{:02x}{:02x}{:02x}".format(*c) for c, _ in offer["colours"]])
    table = pd.DataFrame({
        "colour": ["#{:02x}{:02x}{:02x}".format(*c) for c, _ in offer["colours"]],
        "name": _proposed_names([tuple(c) for c, _ in offer["colours"]]),
        "void": [False] * len(offer["colours"]),
        "share %": [round(100 * share, 2) for _, share in offer["colours"]],
    })
    edited = st.data_editor(
        table, key=f"colour_table_{st.session_state.get('upload_version', 0)}", hide_index=True,
        disabled=["colour", "share %"],
        column_config={"void": st.column_config.CheckboxColumn(
            "void", help="Pixels of this colour are ignored in training and scores.")})
    if st.button("Save with these classes", key="upload_save_classes", type="primary"):
        try:
            classes = colour_class_map(list(edited["name"]), [c for c, _ in offer["colours"]],
                                       list(edited["void"]))
        except SegcoreError as error:
            st.error(f"Classes not saved: {error}")
            return
        save_upload(chosen, name, classes=classes)


def problems_offer(offer, chosen, name):
    """Every problem of the refused upload, and the snap fix when masks are damaged."""
    problems = offer["problems"]
    st.error(f"Nothing was saved: the data doctor found {len(problems)} problem"
             f"{'s' if len(problems) != 1 else ''} in the upload.")
    problem_list(problems, "upload_problems")
    if offer["defective"]:
        st.info("Masks were saved as JPEG or smoothed, so their values are no longer classes. "
                "Best: export the masks again as PNG from the original labels. Or snap every "
                "value to the nearest class: the dataset is saved corrected, your files stay "
                "as they are.")
        if st.button("Snap to the nearest class and save", key="upload_snap"):
            classes = offer.get("classes")
            save_upload(chosen, name, snap=True,
                        classes=ClassMap.from_json(classes) if classes else None)


def upload_section():
    version = st.session_state.get("upload_version", 0)
    with st.expander("Upload a new dataset", key="upload_expander"):
        st.caption("Images with masks of the same name: pick files (`x.png` + `x_mask.png`, "
                   "and a classes.json for colour masks), a zip of a dataset folder, or a whole "
                   "folder with images/ and masks/ (optionally train/ val/ test/). Exports of "
                   "labelling tools are read as they are: COCO JSON, CVAT segmentation masks, "
                   "Pascal VOC, Cityscapes.")
        files = st.file_uploader("Files or a zip", accept_multiple_files=True,
                                 key=f"upload_files_{version}",
                                 type=["png", "jpg", "jpeg", "tif", "tiff", "bmp", "zip", "json"])
        folder = st.file_uploader("…or a folder", accept_multiple_files="directory",
                                  key=f"upload_folder_{version}")
        chosen = list(files or []) + list(folder or [])
        suggestion = suggest_name([f.name for f in chosen])
        name = st.text_input("Dataset name", key=f"upload_name_{version}", placeholder=suggestion
                             or "type a name", help="Letters, digits, '.', '_' or '-'.")
        save, clear, _ = st.columns([1, 1, 4])
        clear.button("Clear", key="upload_clear", on_click=clear_upload,
                     help="Empty both pickers and start over.")
        # What the last attempt offered holds for the same files only.
        picked = [(f.name, f.size) for f in chosen]
        offer = st.session_state.get("upload_offer")
        if offer is not None and offer.get("picked") != picked:
            offer = st.session_state["upload_offer"] = None
        if save.button("Save dataset", key="upload_save", type="primary"):
            # Errors stay inside this section: the current dataset below keeps showing.
            if not chosen:
                st.error("Nothing was uploaded: pick files, a zip or a folder first.")
                return
            if not (name or suggestion):
                st.error("Name the dataset first (letters, digits, '.', '_' or '-').")
                return
            save_upload(chosen, name or suggestion)
            offer = st.session_state.get("upload_offer")
        if offer is None:
            return
        if offer["kind"] == "colours":
            colour_offer(offer, chosen, name or suggestion)
        else:
            problems_offer(offer, chosen, name or suggestion)
