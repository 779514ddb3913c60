"""Train page: hyperparameters from the registry and RunConfig, start/stop/resume, live charts."""

import streamlit as st

from app_pages.common import (
    current_dataset,
    current_run,
    dataset_path,
    dataset_report,
    keep,
    place,
    set_run,
    show_flash,
    workspace,
)
from app_pages.run_panel import manage_run_section, run_settings_section
from app_pages.suggest import keep_suggestion, suggestion_section, touched
from segcore import launch, plots, runs
from segcore.data.classes import ClassMap
from segcore.errors import SegcoreError
from segcore.models import MODELS, model_stride
from segcore.models.encoder_weights import weights_note
from segcore.progress import (
    can_resume,
    format_eta,
    planned_steps_warning,
    poll_interval,
    run_progress,
)
from segcore.training import settings

GROUPS = {"model": "Model", "optimization": "Optimization", "data": "Data and stopping"}
FORMATS = {"model": lambda name: f"{name} ({MODELS[name].family})"}


def kept_settings():
    """The one settings dict (a RunConfig's JSON): this session's, else the workspace's last,
    else the defaults."""
    if "train_settings" not in st.session_state:
        st.session_state["train_settings"] = (
            settings.restore(place().get("train_settings")) or settings.default_form())
    return st.session_state["train_settings"]


def draw(setting, where, kept, options=None, note=""):
    """One widget of the form, its value from the session or else from the kept settings.

    Streamlit forgets a widget's value when a page run does not draw it (another page was
    shown): the value then comes back from the kept dict. Widgets get no `value=`, so the
    session state is their only source.
    """
    key, widget = setting.key, setting.widget
    if key not in st.session_state:
        st.session_state[key] = kept.get(key, setting.default)
    fitted = settings.fit(setting, st.session_state[key], options)
    if fitted != st.session_state[key]:
        st.session_state[key] = fitted
    common = {"key": key, "help": (setting.help + note) or None, "on_change": touched,
              "args": (key,)}
    if widget.kind == "checkbox":
        return where.checkbox(widget.label, **common)
    if widget.kind in ("select", "crop"):
        return where.selectbox(widget.label, options or setting.choices,
                               format_func=FORMATS.get(key, str), **common)
    if widget.kind == "classes":
        return where.multiselect(widget.label, options or [], **common)
    if widget.kind == "number":
        return where.number_input(widget.label, widget.low, widget.high, step=widget.step,
                                  **common)
    if widget.kind == "slider":
        return where.slider(widget.label, widget.low, widget.high, step=widget.step, **common)
    return where.select_slider(widget.label, options or widget.steps, **common,
                               format_func=lambda v: v if isinstance(v, str) else f"{v:g}")


def settings_form():
    """Draws every setting from RunConfig's metadata and returns the RunConfig they show.

    What they show is also kept (session and workspace), so it comes back after another page,
    a reload or in a new tab.
    """
    kept = settings.widget_values(kept_settings())
    columns = dict(zip(GROUPS, st.columns(3)))
    for group, title in GROUPS.items():
        columns[group].markdown(f"**{title}**")
    model_setting = settings.settings_for("unet")[0]
    model = draw(model_setting, columns["model"], kept)
    columns["model"].caption(MODELS[model].description)
    form = settings.settings_for(model)
    values, advanced, sizes = {"model": model}, [], []
    for setting in form[1:]:
        if setting.widget.group == "advanced":
            advanced.append(setting)
            continue
        if not settings.shown(setting.key, values):  # e.g. freeze epochs without an encoder
            values[setting.key] = kept.get(setting.key, setting.default)
            continue
        options, where = None, columns[setting.widget.group]
        if setting.widget.kind == "size":
            # Model and hyperparameters are drawn first: the sizes offered suit their stride.
            hparams = {k[3:]: v for k, v in values.items() if k.startswith("hp_")}
            stride = model_stride(model, **hparams)
            sizes = [s for s in setting.widget.steps if s % stride == 0] or [stride * 4]
            options, note = sizes, f"; a multiple of {stride} here"
        elif setting.widget.kind == "classes":
            options, note = class_names(), ""
        else:
            note = ""
        values[setting.key] = draw(setting, where, kept, options, note)
    with st.expander("Advanced", key="advanced_expander"):
        places = st.columns(3)
        for index, setting in enumerate(advanced):
            options = None
            if not settings.shown(setting.key, values):  # e.g. patch scale without a patch
                values[setting.key] = kept.get(setting.key, setting.default)
                continue
            if setting.widget.kind == "crop":
                # A crop is cut from the resized image; a patch from the native one.
                largest = max(values["img_h"], values["img_w"]) if setting.key == "crop" else 1e9
                options = ["none"] + [s for s in sizes if s < largest]
            values[setting.key] = draw(setting, places[index % 3], kept, options)
    config = settings.config_from_values(values, data=str(dataset_path()))
    keep_settings(settings.saved_form(config))
    return config


def class_names():
    """The current dataset's class names, as the doctor reads them ([] without a dataset)."""
    try:
        report = dataset_report(dataset_path())[0]
    except (SegcoreError, OSError):
        return []
    return [entry["name"] for entry in report.get("classes", [])]


def keep_settings(form):
    """Keeps the settings shown, in the session and in the workspace (written on change)."""
    if form != st.session_state.get("train_settings"):
        st.session_state["train_settings"] = form
        keep(train_settings=form)


@st.cache_data(max_entries=32, show_spinner="Building the model to count it…")
def model_size(model, hparams_items, img_size, num_classes):
    """Parameters and forward GFLOPs per image of a model at a training size (builds it)."""
    from segcore.models import build_model
    from segcore.models.flops import forward_flops

    hparams = dict(hparams_items)
    if "encoder_weights" in hparams:  # the cost does not depend on them: no file is read
        hparams["encoder_weights"] = "none"
    built = build_model(model, (*img_size, 3), num_classes, **hparams)
    return int(built.count_params()), forward_flops(built) / 1e9


def size_section(config):
    """Parameters and FLOPs on demand (it builds the model: a second or two)."""
    note = weights_note(config.hparams)  # whether a pretrained encoder's file is cached here
    if note:
        st.caption(note)
    left, right = st.columns([1, 4])
    if left.button("Model size", key="model_size", help="Parameters and forward GFLOPs per "
                   "image at the chosen image size."):
        report = dataset_report(dataset_path())[0]
        classes = len(report.get("classes", [])) or 2
        try:
            params, gflops = model_size(config.model, tuple(sorted(config.hparams.items())),
                                        tuple(config.img_size), classes)
        except SegcoreError as error:
            right.error(str(error))
            return
        right.markdown(f"**{config.model}**: {params:,} parameters · {gflops:.2f} GFLOPs per "
                       f"{config.img_size[0]}x{config.img_size[1]} image · {classes} classes")


def live_view(run_id):
    """Polls the run folder: progress, ETA and charts; reruns the page when the run ends."""
    path = runs.runs_dir(workspace()) / run_id
    progress = run_progress(path)
    state = progress["state"]
    done, total = progress["epoch"], progress["epochs"]
    if progress["active"]:
        where = (f"epoch {min(done + 1, total)}/{total} · "
                 f"ETA {format_eta(progress['eta_seconds'])}")
    else:
        where = f"{done}/{settings.plural(total, 'epoch')}"
    st.progress(progress["fraction"], text=f"{run_id} · {state} · {where}")
    # One slot for the notices, drawn on every poll: as they come and go the charts below
    # keep their place, so the browser never holds an old copy of a chart beside the new one.
    with st.empty().container():
        if state == "queued":
            st.info("Starting: loading TensorFlow and the data…")
        if progress["message"]:
            (st.error if state == "failed" else st.info)(progress["message"])
        if state == "failed":
            st.caption(f"Details in {path / 'train.log'}.")
    best = progress["best_mean_iou"]
    st.markdown(f"Run state: **{state}** · best val mean IoU: "
                f"**{'—' if best is None or best < 0 else f'{best:.3f}'}**")
    try:
        config = runs.read_config(path)
    except SegcoreError as error:
        st.error(str(error))
        config = {}
    left, right = st.columns(2)
    left.plotly_chart(plots.loss_curves(progress["epoch_records"], progress["step_records"]),
                      key="live_loss")
    if progress["epoch_records"] and "class_map" in config:
        class_map = ClassMap.from_json(config["class_map"])
        right.plotly_chart(plots.iou_curves(progress["epoch_records"], class_map.names,
                                            class_map.colors), key="live_iou")
    else:
        right.caption("Validation IoU appears after the first epoch.")
    if state != st.session_state.get("page_state", state):
        # Queued -> running -> finished: refresh what lies outside this fragment (buttons,
        # sidebar) once per change, not on every poll.
        st.rerun(scope="app")


def watch():
    """The run picker's callback: the chosen run goes into the URL."""
    set_run(st.session_state["watch_run"])


def run_controls(config, run_id, blocked):
    """Start / Stop / Resume; returns the run to show (a started run replaces the URL's)."""
    root = workspace()
    active = launch.active_run(root)
    start, stop, resume, named = st.columns([2, 1, 1, 4])
    name = named.text_input("Run name", key="run_name", placeholder="Run name (optional)",
                            label_visibility="collapsed",
                            help="Shown beside the run's id everywhere; letters, digits, '.', "
                                 "'_' or '-'. You can change it later.")
    if start.button("Start training", key="start", type="primary",
                    disabled=active is not None or blocked,
                    help="One run at a time on this machine." if active else None):
        try:
            run_id = launch.start_run(root, config, name=name)
        except SegcoreError as error:
            # Another session may have started a run a moment ago: say why, show that run.
            st.error(str(error))
            active = launch.active_run(root)
        else:
            set_run(run_id)
            st.session_state["watch_run"] = run_id
            st.session_state.pop("run_name", None)  # the next run is named afresh
            keep_suggestion(runs.runs_dir(root), run_id)
            st.rerun()
    if active is not None:
        if run_id != active.run_id:
            st.info(f"Run {active.run_id} is {active.state}; one run at a time on this machine.")
        if stop.button("Stop", key="stop", help="Stops after the current step; resume later."):
            launch.stop_run(root, active.run_id)
            st.toast("Stopping after the current step…")
    elif run_id is not None:
        state = runs.read_status(runs.runs_dir(root) / run_id).get("state")
        if can_resume(state) and resume.button(
                "Resume", key="resume", help="Continue from the last checkpoint."):
            try:
                launch.resume_run(root, run_id)
            except SegcoreError as error:
                st.error(str(error))
            else:
                st.rerun()
    return run_id, active


def train_page():
    st.title("Train")
    show_flash()
    st.caption(f"Dataset: **{current_dataset()}** (change it on the Data page)")
    suggestion_section(dataset_path())
    config = settings_form()
    size_section(config)
    summary, problems = dataset_report(dataset_path())
    if problems:
        st.error(f"The dataset {current_dataset()} has {len(problems)} problem(s); fix them on "
                 "the Data page before training.")
    else:  # said before Start: a run of a few steps per epoch learns nothing
        few_steps = planned_steps_warning(summary, config.batch_size, config.val_fraction)
        if few_steps:
            st.warning(few_steps)
    run_id, active = run_controls(config, current_run(), blocked=bool(problems))
    listed = runs.list_runs(workspace())
    known = [r.run_id for r in listed]
    run_id = run_id or next(iter(known), None)  # runs whose config.json is gone are runs too
    if run_id is None:
        st.info("No run yet: pick settings and press Start training.")
        return
    st.session_state["watch_run"] = run_id  # the URL decides which run this tab shows
    labels = {r.run_id: r.label for r in listed}
    st.selectbox("Run shown", known, key="watch_run", on_change=watch,
                 format_func=lambda r: labels.get(r, r),
                 help="Any run of this workspace; the URL keeps the choice.")
    try:
        run_config = runs.read_config(runs.runs_dir(workspace()) / run_id)["config"]
    except SegcoreError:
        st.caption("settings unreadable (see below)")  # live_view names the damaged file
    else:
        run_settings_section(run_id, run_config)
    is_live = active is not None and active.run_id == run_id
    manage_run_section(run_id, is_live)
    st.session_state["page_state"] = runs.read_status(runs.runs_dir(workspace()) / run_id).get(
        "state")
    st.fragment(run_every=poll_interval(is_live))(live_view)(run_id)


train_page()
