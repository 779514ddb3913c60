"""Helpers shared by the pages: workspace, current dataset and run (kept in the URL)."""

import streamlit as st

from segcore import appstate, runs
from segcore.commands.data import DEMO_NAME, ensure_demo
from segcore.data.doctor import check_folder
from segcore.errors import SegcoreError
from segcore.workspace import child_path, datasets_dir, workspace_root


def workspace():
    try:
        return workspace_root()
    except SegcoreError as error:
        st.error(str(error))
        st.stop()


def dataset_names():
    """Saved datasets, the demo first (created on first use)."""
    root = workspace()
    try:
        ensure_demo(root)
    except SegcoreError as error:
        fail(error)
    names = sorted(p.name for p in datasets_dir(root).iterdir()
                   if p.is_dir() and not p.name.startswith("."))
    return [DEMO_NAME] + [n for n in names if n != DEMO_NAME]


def current_dataset():
    """The dataset chosen on the Data page (URL `?dataset=`), the demo by default."""
    names = dataset_names()
    name = st.query_params.get("dataset") or st.session_state.get("dataset") or DEMO_NAME
    return name if name in names else DEMO_NAME


def set_dataset(name):
    st.session_state["dataset"] = name
    st.query_params["dataset"] = name


def dataset_path(name=None):
    return datasets_dir(workspace()) / (name or current_dataset())


def current_run():
    """The run in the URL (`?run=`), so a reload or a second tab shows the same run."""
    run_id = st.query_params.get("run") or st.session_state.get("run")
    try:  # a URL is typed by anyone: only a plain run name, never a path
        path = child_path(runs.runs_dir(workspace()), run_id, "run id") if run_id else None
    except SegcoreError:
        return None
    return run_id if path is not None and (path / "config.json").is_file() else None


def set_run(run_id):
    st.session_state["run"] = run_id
    st.query_params["run"] = run_id


def flash(message):
    """Keeps a success message for the next rerun (st.rerun would otherwise drop it)."""
    st.session_state["flash"] = message


def show_flash():
    # Always one element here, message or not, so what follows keeps its place in the page
    # (an expander the user opened stays open when the message goes away).
    slot = st.empty()
    message = st.session_state.pop("flash", None)
    if message:
        slot.success(message)


def sidebar():
    with st.sidebar:
        st.caption("Dataset")
        st.markdown(f"**{current_dataset()}**")
        st.caption("Run")
        run_id = current_run()
        if run_id:
            status = runs.read_status(runs.runs_dir(workspace()) / run_id)  # never raises
            best = status.get("best_mean_iou")
            score = f" · best mIoU {best:.3f}" if best is not None and best >= 0 else ""
            st.markdown(f"**{run_id}**  \n{status.get('state', '?')}{score}")
            if status.get("problem"):
                st.caption(status["problem"])
        else:
            st.markdown("none yet")
        active = runs.active_run(workspace())
        if active is not None and active.run_id != run_id:
            st.caption(f"Training now: {active.run_id}")
        st.caption(f"Workspace: `{workspace()}`")


def fail(error):
    """Shows a user-facing error and stops the page."""
    st.error(str(error))
    st.stop()


def finished_runs():
    """Runs with a checkpoint, newest first.

    A run whose config.json is damaged, or whose folder links outside the workspace (pages
    write score caches and exports into it), is left out with a warning naming the problem.
    """
    root = workspace()
    usable = []
    for run in runs.list_runs(root):
        if not ((run.path / "best.keras").is_file() or (run.path / "last.keras").is_file()):
            continue
        try:
            if "class_map" not in run.config:
                raise SegcoreError(run.problem or f"{run.path / 'config.json'} has no class map.")
            runs.run_dir(root, run.run_id, write=True)
        except SegcoreError as error:
            st.warning(f"Run {run.run_id} is left out: {error}")
            continue
        usable.append(run)
    return usable


@st.cache_data(max_entries=16, show_spinner="Checking every image and mask…")
def _doctor(path, signature):
    report = check_folder(path)
    return report.summary, report.problems


def dataset_report(path):
    """The doctor's (summary, problems), recomputed only when a file of the dataset changes."""
    return _doctor(str(path), appstate.folder_signature(path))
