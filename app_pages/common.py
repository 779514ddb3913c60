"""Helpers shared by the pages: workspace, current dataset and run (kept in the URL).

The user's place is kept three ways: in the URL (this tab; the sidebar links drop the query,
so every page run puts it back), in the session (what this tab last chose) and in the
workspace's place file (a bare address or a new tab opens where the user left off).
"""

import streamlit as st

from segcore import appstate, launch, runs
from segcore.commands.data import DEMO_NAME, ensure_demo
from segcore.data.doctor import check_folder
from segcore.errors import SegcoreError
from segcore.place import keep_place, read_place
from segcore.progress import poll_interval
from segcore.training import settings
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


def place():
    """What the workspace keeps of the user's place (see `segcore.place`)."""
    return read_place(workspace())


def keep(**changes):
    """Keeps part of the user's place in the workspace."""
    try:
        keep_place(workspace(), **changes)
    except SegcoreError as error:  # the URL and the session still hold it for this tab
        st.toast(f"Not kept for other tabs: {error}")


def put_settings(form):
    """Puts a whole Train settings form in force from a button's callback (before the page
    draws, so the widgets take its values): another model's hyperparameter widgets dropped,
    every widget set, and the form kept in the session and in the workspace, so a reload or
    another tab opens with it too."""
    for key in [k for k in st.session_state if str(k).startswith("hp_")]:
        del st.session_state[key]
    st.session_state.update(settings.widget_values(form))
    st.session_state["train_settings"] = form
    keep(train_settings=form)


def in_url(name, value):
    """Puts `?name=value` into this tab's URL (written only when it changes)."""
    if st.query_params.get(name) != value:
        st.query_params[name] = value


def current_dataset():
    """The dataset to work on: the URL's (`?dataset=`), else this session's, else the one last
    picked in this workspace, else the demo. It goes back into the URL."""
    names = dataset_names()
    wanted = (st.query_params.get("dataset"), st.session_state.get("dataset"),
              place().get("dataset"))
    name = next((n for n in wanted if n in names), DEMO_NAME)
    st.session_state["dataset"] = name  # a sidebar link drops the URL's: the session keeps it
    in_url("dataset", name)
    return name


def set_dataset(name):
    st.session_state["dataset"] = name
    st.query_params["dataset"] = name
    keep(dataset=name)


def dataset_path(name=None):
    return datasets_dir(workspace()) / (name or current_dataset())


def _known_run(run_id):
    """`run_id` when it names a run of this workspace, else None."""
    if not isinstance(run_id, str) or not run_id:
        return None
    try:  # a URL is typed by anyone: only a plain run name, never a path
        path = child_path(runs.runs_dir(workspace()), run_id, "run id")
    except SegcoreError:
        return None
    return run_id if (path / "config.json").is_file() else None


def current_run():
    """The run to show: the URL's (`?run=`), so a reload or a second tab shows the same run;
    else this session's, else the last one shown in this workspace, else the newest. It goes
    back into the URL. None only while the workspace has no run."""
    wanted = (st.query_params.get("run"), st.session_state.get("run"), place().get("run"))
    run_id = next((r for r in map(_known_run, wanted) if r), None)
    if run_id is None:
        newest = sorted((p.name for p in runs.runs_dir(workspace()).iterdir()
                         if p.is_dir() and not p.name.startswith(".")), reverse=True)
        run_id = next((r for r in map(_known_run, newest) if r), None)
    if run_id is not None:
        st.session_state["run"] = run_id  # a sidebar link drops the URL's: the session keeps it
        in_url("run", run_id)
    return run_id


def set_run(run_id):
    st.session_state["run"] = run_id
    st.query_params["run"] = run_id
    keep(run=run_id)


def forget_run():
    """After the current run was deleted: this tab falls back to the newest run."""
    st.session_state.pop("run", None)
    if "run" in st.query_params:
        del st.query_params["run"]


def delete_button(key, label, target, describe, action, disabled=False, help=None):
    """A delete button that asks first: its press shows what goes with a red
    "Delete … for good" button and a Cancel. The question is kept in the session for this
    target only, so picking another dataset or run drops it.

    Args:
        key: the first button's key; the others are `<key>_confirm` and `<key>_cancel`.
        target: the dataset or run to delete, passed to `action`.
        describe: `describe(target)` is markdown saying what goes (asked only once the
            button is pressed: it may walk the folder).
        action: deletes; a SegcoreError it raises is shown and nothing else happens.

    Returns:
        True when `action` ran.
    """
    if st.session_state.get("confirming") != (key, target):
        st.button(label, key=key, disabled=disabled, help=help,
                  on_click=lambda: st.session_state.update(confirming=(key, target)))
        return False
    try:
        st.warning(describe(target))
    except SegcoreError as error:  # gone meanwhile (another tab deleted it)
        st.session_state.pop("confirming", None)
        st.error(str(error))
        return False
    go, cancel, _ = st.columns([2, 1, 3])
    cancel.button("Cancel", key=f"{key}_cancel",
                  on_click=lambda: st.session_state.pop("confirming", None))
    if not go.button(f"Delete {target} for good", key=f"{key}_confirm", type="primary"):
        return False
    st.session_state.pop("confirming", None)
    try:
        action(target)
    except SegcoreError as error:
        st.error(str(error))
        return False
    return True


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
            path = runs.runs_dir(workspace()) / run_id
            live = runs.read_status(path).get("state") in runs.ACTIVE  # never raises
            # A training run's line follows it, as the Train page's live view does.
            st.fragment(run_every=poll_interval(live))(_run_line)(path, run_id)
        else:
            st.markdown("none yet")
        active = launch.active_run(workspace())
        if active is not None and active.run_id != run_id:
            st.caption(f"Training now: {active.run_id}")
        st.caption(f"Workspace: `{workspace()}`")


def _run_line(path, run_id):
    """The sidebar's run: its id, name, state and best mean IoU (and a damaged file's note)."""
    status = runs.read_status(path)  # never raises
    best = status.get("best_mean_iou")
    score = f" · best mIoU {best:.3f}" if best is not None and best >= 0 else ""
    name = runs.read_run_name(path)
    st.markdown(f"**{run_id}**" + (f" · {name}" if name else "")
                + f"  \n{status.get('state', '?')}{score}")
    if status.get("problem"):
        st.caption(status["problem"])


def fail(error):
    """Shows a user-facing error and stops the page."""
    st.error(str(error))
    st.stop()


def no_runs_yet():
    """What Results and Predict say while no run has a checkpoint to show."""
    active = launch.active_run(workspace())
    if active is None:
        st.info("No trained runs yet: train one on the Train page.")
    else:
        st.info(f"Run {active.run_id} is {active.state}: it saves its first checkpoint at the "
                "end of its first epoch, and this page shows it from then (rerun or reload).")


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


def tta_choice(container, key, run_path):
    """The Flip and Multi-scale TTA checkboxes; returns None, "flip" or "scales".

    A run opens at its own default (`train --predict-tta`, which `--auto` chooses). The
    user's change holds for that run on Results and Predict, across page switches (a session
    key of its own: the widgets' state goes with the page) and reloads (`?tta=` in the URL).
    Picking another run starts it at that run's default.
    """
    from segcore.tta import TTA_MODES, run_tta

    flip_key, scales_key = f"{key}_tta", f"{key}_tta_scales"
    run = str(run_path)
    kept = st.session_state.get("tta_kept")  # {"run", "mode"}: written below on every draw
    if kept is None or kept["run"] != run or flip_key not in st.session_state:
        asked = st.query_params.get("tta")
        if kept is not None and kept["run"] == run:
            mode = kept["mode"]
        elif kept is None and asked in ("off", *TTA_MODES):
            mode = None if asked == "off" else asked  # a reload or a shared link: the URL's
        else:
            try:
                mode = run_tta(run_path)
            except SegcoreError:  # a damaged config.json: the page reports it where it reads it
                mode = None
        st.session_state[flip_key] = mode is not None
        st.session_state[scales_key] = mode == "scales"
    flip = container.checkbox("Flip TTA", key=flip_key,
                              help="Average each prediction with that of the image's "
                                   "left-right mirror (twice the compute; scored and cached "
                                   "apart).")
    scales = container.checkbox(
        "Multi-scale TTA", key=scales_key,
        help="Includes Flip TTA: the image and its mirror predicted at 0.75, 1, 1.25 and 1.5 "
             "times the trained size, all averaged; thin structures gain from the larger "
             "sizes (about nine times the compute).")
    mode = "scales" if scales else "flip" if flip else None
    st.session_state["tta_kept"] = {"run": run, "mode": mode}
    in_url("tta", mode or "off")
    return mode
