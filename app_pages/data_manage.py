"""Data page, managing: snap a damaged dataset, rename or delete one, the first-open guide."""

import streamlit as st

from app_pages.common import (
    dataset_names,
    delete_button,
    flash,
    put_settings,
    set_dataset,
    set_run,
    workspace,
)
from segcore import launch, manage
from segcore.commands.data import DEMO_NAME, demo_run_config
from segcore.data.defects import snap_dataset
from segcore.errors import SegcoreError
from segcore.training import settings
from segcore.workspace import child_path, datasets_dir


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
    put_settings(settings.saved_form(config))
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
