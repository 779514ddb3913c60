"""The Train page's run panel: the shown run's settings (with what --auto or "Suggest
settings" chose), "Use this run's settings", and naming or deleting the run."""

from pathlib import Path

import streamlit as st

from app_pages.common import (
    current_dataset,
    delete_button,
    flash,
    forget_run,
    put_settings,
    set_dataset,
    workspace,
)
from app_pages.suggest import choice_lines, forget_touched
from segcore import manage, runs
from segcore.errors import SegcoreError
from segcore.training import auto, settings
from segcore.workspace import datasets_dir


def run_dataset(run_config):
    """(name, is a dataset of this workspace) of the dataset a run trained on."""
    data = Path(run_config.get("data") or "")
    folder = datasets_dir(workspace())
    inside = data.parent.resolve() == folder.resolve() and (folder / data.name).is_dir()
    return (data.name if inside else str(data)), inside


def use_run_settings(run_id, form, dataset):
    """The button's callback (before the page runs, so the widgets take the values): the run's
    settings replace every widget's, and its dataset becomes the current one."""
    put_settings(form)
    forget_touched()  # the run's settings: none is the user's own now
    st.session_state.pop("train_suggestion", None)
    if dataset:
        set_dataset(dataset)
    flash(f"Settings of {run_id} applied" + (f", dataset {dataset}." if dataset else "."))


def run_settings_section(run_id, run_config):
    """The shown run's settings; a warning when it trained on another dataset than the
    selected one; and "Use this run's settings"."""
    st.caption(settings.run_summary(run_config))
    try:
        chosen = auto.read_record(runs.runs_dir(workspace()) / run_id)
    except SegcoreError as error:
        st.warning(str(error))
        chosen = None
    if chosen is not None:
        with st.expander(f"Settings chosen by {chosen.get('source', 'train --auto')} and why",
                         key="run_auto_expander"):
            st.markdown(choice_lines(chosen["choices"]))
            if chosen.get("changed_after"):
                st.caption("Changed before Start: " + ", ".join(chosen["changed_after"]))
    form = settings.restore(run_config)
    name, inside = run_dataset(run_config)
    current = current_dataset()
    if name != current:
        if inside:
            where = f"dataset **{name}**"
        elif Path(name).parent.resolve() == datasets_dir(workspace()).resolve():
            where = f"dataset **{Path(name).name}** (deleted since)"
        else:
            where = f"`{name}` (outside this workspace)"
        st.warning(f"Run {run_id} was trained on {where}, not on the selected dataset "
                   f"**{current}**.")
    if form is None:
        st.caption("These settings cannot be applied here (they are no valid settings now).")
        return
    st.button("Use this run's settings", key="use_run_settings",
              on_click=use_run_settings, args=(run_id, form, name if inside else None),
              help="Sets every widget above to this run's settings"
                   + (" and selects its dataset." if inside else "."))


def describe_run(run_id):
    """What deleting a run removes, for its confirmation."""
    plan = manage.run_plan(workspace(), run_id)
    trained = f", trained on {plan['dataset']}" if plan["dataset"] else ""
    return (f"Delete run **{plan['label']}** ({plan['state']}{trained})? Its {plan['files']} "
            f"files ({plan['size']}: checkpoints, metrics, logs, exports) in `{plan['path']}` "
            "go for good; its dataset stays.")


def manage_run_section(run_id, live):
    """Name the shown run, or delete it (refused while it is queued or training)."""
    root = workspace()
    with st.expander("Name or delete this run", key="manage_run_expander"):
        left, right = st.columns([4, 1], vertical_alignment="bottom")
        typed = left.text_input(
            "Name", value=runs.read_run_name(runs.runs_dir(root) / run_id) or "",
            key=f"run_name_edit_{run_id}", placeholder="no name",
            help="Shown beside the run's id everywhere; empty removes it. The id stays.")
        if right.button("Save name", key="save_run_name"):
            try:
                name = runs.name_run(root, run_id, typed)
            except SegcoreError as error:
                st.error(str(error))
            else:
                flash(f"Run {run_id} is now named {name}." if name
                      else f"Run {run_id} has no name now.")
                st.rerun()
        deleted = delete_button(
            "delete_run", "Delete run…", run_id, describe_run,
            lambda target: manage.delete_run(root, target), disabled=live,
            help="Stop the run first." if live else "Asks first, saying what goes.")
        if deleted:
            forget_run()
            flash(f"Deleted run {run_id}.")
            st.rerun()
