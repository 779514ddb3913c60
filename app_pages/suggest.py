"""The Train page's "Suggest settings": settings chosen from the dataset and the budget
(`segcore.training.auto`), the widgets the user changed kept, each choice shown with its reason
and kept in the run's auto.json at Start."""

import os
from pathlib import Path

import streamlit as st

from app_pages.common import keep, place, put_settings
from segcore.commands.auto import training_in
from segcore.errors import SegcoreError
from segcore.fileio import write_json_atomic
from segcore.training import auto, settings
from segcore.training.auto.speed import MachineSpeed
from segcore.workspace import workspace_root


def touched_keys():
    """The widgets the user changed: this session's list, else the workspace's (a reload or
    a new tab keeps them, as it keeps their values)."""
    if "train_touched" not in st.session_state:
        kept = place().get("train_touched", [])
        st.session_state["train_touched"] = [key for key in kept if isinstance(key, str)]
    return st.session_state["train_touched"]


def touched(key):
    """A widget the user changed: its value is given, and "Suggest settings" keeps it."""
    keys = touched_keys()
    if key not in keys:
        keys.append(key)
        keep(train_touched=keys)


def forget_touched():
    """None of the widgets' values is the user's own now (a run's settings were applied)."""
    st.session_state["train_touched"] = []
    keep(train_touched=[])


def suggest_settings(data):
    """The button's callback (before the widgets are drawn, so they take the values): every
    setting the user has not changed is chosen from the dataset's fingerprint and the budget,
    and the rest go back to their defaults (`settings.suggestion_base`)."""
    form = st.session_state["train_settings"]  # kept by the page before any button
    given = settings.given_settings(form, touched_keys())
    base = settings.suggestion_base(form, given)
    if base is None:
        st.session_state["train_suggestion_error"] = (
            "The settings you changed make no valid configuration; nothing was changed.")
        return
    try:
        fp = auto.fingerprint_folder(data, split=base["split"], val_fraction=base["val_fraction"],
                                     seed=base["seed"])
    except SegcoreError as error:
        st.session_state["train_suggestion_error"] = f"Cannot suggest settings: {error}"
        return
    cores = len(os.sched_getaffinity(0))
    # Timed once per machine (about 20 s of training steps), then read from the cache.
    speed = MachineSpeed(workspace_root() / "cache" / "speed.json", cores,
                         busy=training_in(workspace_root()))
    # The page's scale slider starts at 0.25, below the scale a huge dataset may need: images
    # too many for memory are shrunk to fit here instead of streamed as patches.
    choices = auto.choose_settings(fp, given.get("time_budget_min", 0.0), cores, given,
                                   patches=False, speed=speed)
    suggested = settings.apply_choices(base, choices, given)
    if suggested is None:
        st.session_state["train_suggestion_error"] = (
            "The suggested settings do not fit the settings you changed; nothing was changed.")
        return
    put_settings(suggested)
    st.session_state["train_suggestion"] = auto.record(fp, choices, cores, speed)


def suggestion_section(data):
    """"Suggest settings" and, once pressed, one line per choice with its reason."""
    left, right = st.columns([1, 4])
    left.button("Suggest settings", key="suggest", on_click=suggest_settings, args=(str(data),),
                help="Chooses every setting you have not changed from this dataset (sizes, "
                     "channels, class balance, thin classes), the time budget (15 minutes "
                     "unless you set one) and this machine's training speed (timed once, "
                     "about 20 seconds); change anything before Start.")
    problem = st.session_state.pop("train_suggestion_error", None)
    if problem:
        right.error(problem)
    record = st.session_state.get("train_suggestion")
    if record:
        kept = sum(c["given"] for c in record["choices"])
        right.caption(f"Suggested for {record['fingerprint']['train_images']} training images "
                      f"on {record['cores']} cores" + (f"; {kept} setting(s) you changed are "
                                                       "kept" if kept else "")
                      + ". Sliders show the nearest value they offer.")
        with st.expander("Suggested settings and why", expanded=True, key="suggestion_expander"):
            st.markdown(choice_lines(record["choices"]))


def choice_lines(choices):
    """Markdown: one line per choice with its reason."""
    return "\n".join(f"- `{c['setting']}` = **{auto.format_value(_as_tuple(c['value']))}**: "
                     f"{c['reason']}" for c in choices)


def _as_tuple(value):
    return tuple(value) if isinstance(value, list) else value


def keep_suggestion(runs_folder, run_id):
    """A run started after "Suggest settings" keeps the suggestion in its auto.json, with
    the settings changed since named (as `train --auto` keeps its choices)."""
    record = st.session_state.get("train_suggestion")
    if not record:
        return
    form = settings.widget_values(st.session_state["train_settings"])
    changed = [c["setting"] for c in record["choices"] if not c["given"]
               and _as_tuple(c["value"]) != _as_tuple(_value_of(form, c["setting"]))]
    write_json_atomic(Path(runs_folder) / run_id / auto.AUTO_FILE,
                      {**record, "source": "Suggest settings", "changed_after": changed})


def _value_of(values, path):
    """A choice's value as the widgets hold it (image size from both sides)."""
    if path == "img_size":
        return (values.get("img_h"), values.get("img_w"))
    if path == "crop":
        crop = values.get("crop", "none")
        return None if crop == "none" else (crop, crop)
    head, _, tail = path.partition(".")
    return values.get({"hparams": f"hp_{tail}", "augment": f"aug_{tail}"}.get(head, head))
