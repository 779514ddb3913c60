"""Data page: pick or upload a dataset, check it, edit its classes, preview masks."""

import numpy as np
import pandas as pd
import streamlit as st

from app_pages.common import (
    current_dataset,
    dataset_names,
    dataset_path,
    dataset_report,
    delete_button,
    flash,
    keep,
    set_dataset,
    set_run,
    show_flash,
    workspace,
)
from segcore import appstate, launch, manage, plots, runs
from segcore.commands.data import DEMO_NAME, demo_run_config
from segcore.data import load_dataset
from segcore.data.classes import ClassMap
from segcore.data.defects import snap_dataset
from segcore.data.doctor import check_folder
from segcore.data.formats import read_image, read_mask
from segcore.data.uploads import (
    ColoursNeedNames,
    UploadProblems,
    colour_class_map,
    save_uploads,
    suggest_name,
)
from segcore.errors import SegcoreError
from segcore.inference import overlay, to_uint8
from segcore.training import settings
from segcore.workspace import child_path, datasets_dir

# How the success line names each layout of `segcore.data.readers`.
FORMAT_NAMES = {"folder": "images + masks", "coco": "COCO JSON", "cvat": "CVAT masks",
                "voc": "Pascal VOC", "cityscapes": "Cityscapes"}
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
                             or "my-dataset", help="Letters, digits, '.', '_' or '-'.")
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


def snap_offer(path):
    """Damaged masks in a saved dataset: offer a snapped copy under a new name."""
    names = set(dataset_names())
    copy = next(n for n in (f"{path.name}-snapped", *(f"{path.name}-snapped-{i}"
                                                       for i in range(2, 1000)))
                if n not in names)
    st.info("Masks were saved as JPEG or smoothed, so their values are no longer classes. "
            "Best: export the masks again as PNG from the original labels. Or snap every value "
            f"to the nearest class in a copy named {copy} ({path.name} stays as it is).")
    if st.button(f"Save a snapped copy as {copy}", key="snap_copy"):
        try:
            with st.spinner("Snapping every mask…"):
                snap_dataset(path, child_path(datasets_dir(workspace()), copy, "dataset name"))
        except SegcoreError as error:
            st.error(str(error))
            return
        set_dataset(copy)
        flash(f"Saved {copy}: {path.name} with its mask values snapped to their classes.")
        st.rerun()


def describe_dataset(name):
    """What deleting a dataset removes, and which runs trained on it, for its confirmation."""
    plan = manage.dataset_plan(workspace(), name)
    trained = plan["runs"]
    if trained:
        shown = ", ".join(trained[:5]) + (f" and {len(trained) - 5} more" if len(trained) > 5
                                          else "")
        runs_note = (f" Runs trained on it stay ({len(trained)}: {shown}): they still predict "
                     "and export, but Results can no longer score them on it.")
    else:
        runs_note = " No run trained on it."
    return (f"Delete dataset **{name}**? Its {plan['files']} files ({plan['size']}) in "
            f"`{plan['path']}` go for good.{runs_note}")


def manage_dataset_section(name):
    """Rename or delete the dataset shown (not the demo, not while a run trains on it)."""
    root = workspace()
    with st.expander("Rename or delete this dataset", key="manage_dataset_expander"):
        if name == DEMO_NAME:
            st.caption("The built-in demo dataset cannot be renamed or deleted: the app recreates "
                       "it. Upload your own data to manage it here.")
            return
        left, right = st.columns([4, 1], vertical_alignment="bottom")
        new = left.text_input("New name", key=f"dataset_new_name_{name}", placeholder=name,
                              help="Letters, digits, '.', '_' or '-'. Runs trained on it follow.")
        if right.button("Rename", key="rename_dataset"):
            try:
                target = manage.rename_dataset(root, name, new)
            except SegcoreError as error:
                st.error(str(error))
            else:
                set_dataset(target.name)
                flash(f"Renamed {name} to {target.name}.")
                st.rerun()
        live = manage.live_runs(root, name)
        deleted = delete_button(
            "delete_dataset", "Delete dataset…", name, describe_dataset,
            lambda target: manage.delete_dataset(root, target), disabled=bool(live),
            help=f"Run {live[0]} trains on it; stop it first." if live
            else "Asks first, saying what goes.")
        if deleted:
            set_dataset(DEMO_NAME)
            flash(f"Deleted dataset {name}.")
            st.rerun()


def start_demo_run():
    """The demo run's button: a tiny run on the demo dataset, its settings shown on Train."""
    root = workspace()
    config = demo_run_config(root)
    try:
        run_id = launch.start_run(root, config, name="demo-run")
    except SegcoreError as error:
        st.error(str(error))
        return
    form = settings.saved_form(config)
    for key in [k for k in st.session_state if str(k).startswith("hp_")]:
        del st.session_state[key]  # another model's hyperparameters
    st.session_state.update(settings.widget_values(form))
    st.session_state["train_settings"] = form
    keep(train_settings=form)
    set_dataset(DEMO_NAME)
    set_run(run_id)
    st.switch_page("app_pages/train.py", query_params={"dataset": DEMO_NAME, "run": run_id})


def first_open_guide():
    """While the workspace has no run: the order of the pages, and a one-click demo run."""
    st.info("**New here? Four pages, in this order** (in the sidebar):\n"
            "1. **Data**: pick the built-in demo or upload images with their masks; the data "
            "doctor checks them.\n"
            "2. **Train**: pick a model and settings, press *Start training*, watch loss and IoU "
            "live.\n"
            "3. **Results**: scores at full resolution, per-class IoU, the worst images, runs "
            "compared.\n"
            "4. **Predict**: masks for new images, and the model exported.")
    if st.button("Start a short demo run", key="demo_run", type="primary",
                 help="Trains a small U-Net on the demo dataset for 4 epochs (well under a "
                      "minute) and opens the Train page to watch it."):
        start_demo_run()


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
               f"format: {layout}.")
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
