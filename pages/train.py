"""Train page: hyperparameters from the registry and RunConfig, start/stop/resume, live charts."""

import streamlit as st

from pages.common import (
    current_dataset,
    current_run,
    dataset_path,
    dataset_report,
    set_run,
    workspace,
)
from segcore import appstate, plots, runs
from segcore.data.classes import ClassMap
from segcore.data.dataset import SPLIT_MODES
from segcore.data.pipeline import AugmentConfig
from segcore.errors import SegcoreError
from segcore.losses import CLASS_WEIGHTINGS, LOSSES
from segcore.models import MODELS, model_stride
from segcore.training.config import OPTIMIZERS, SCHEDULES, RunConfig

SIZES = [32, 64, 96, 128, 160, 192, 224, 256, 320, 352, 384, 480, 512]
RATES = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]
help_for = appstate.option_help


def log_steps(low, high):
    """1-3-10 steps between low and high, for log-scale parameters."""
    values, decade = [], 10.0 ** int(f"{low:e}".split("e")[1])
    while decade <= high * 1.0001:
        values += [v for v in (decade, 3 * decade) if low * 0.9999 <= v <= high * 1.0001]
        decade *= 10
    return values or [low]


def param_widget(param, column):
    """One widget per registry parameter: the registry's ranges are the widget's."""
    key, label = f"hp_{param.name}", param.name.replace("_", " ")
    if param.kind == "bool":
        return column.checkbox(label, param.default, key=key, help=param.help)
    if param.kind == "choice":
        return column.selectbox(label, param.choices, key=key, help=param.help)
    if param.kind == "int":
        return column.slider(label, int(param.low), int(param.high), int(param.default), key=key,
                             help=param.help)
    if param.kind == "log":
        steps = log_steps(param.low, param.high)
        value = min(steps, key=lambda v: abs(v - param.default))
        return column.select_slider(label, steps, value=value, key=key, help=param.help,
                                    format_func=lambda v: f"{v:g}")
    return column.slider(label, float(param.low), float(param.high), float(param.default),
                         key=key, help=param.help)


def settings_form():
    """Reads every widget and returns a RunConfig (validated by start_run)."""
    defaults = RunConfig()
    left, middle, right = st.columns(3)
    left.markdown("**Model**")
    model = left.selectbox("Model family", list(MODELS), key="model", help=help_for("model"),
                           format_func=lambda n: f"{n} ({MODELS[n].family})")
    left.caption(MODELS[model].description)
    hparams = {p.name: param_widget(p, left) for p in MODELS[model].params}
    stride = model_stride(model, **hparams)
    sizes = [s for s in SIZES if s % stride == 0] or [stride * 4]
    nearest = min(sizes, key=lambda s: abs(s - defaults.img_size[0]))
    middle.markdown("**Optimization**")
    height = middle.select_slider("Image height", sizes, value=nearest, key="img_h",
                                  help=f"{help_for('img_size')}; a multiple of {stride} here")
    width = middle.select_slider("Image width", sizes, value=nearest, key="img_w")
    batch = middle.slider("Batch size", 1, 32, defaults.batch_size, key="batch_size",
                          help=help_for("batch_size"))
    epochs = middle.slider("Epochs", 1, 200, defaults.epochs, key="epochs",
                           help=help_for("epochs"))
    rate = middle.select_slider("Learning rate", RATES, value=defaults.lr, key="lr",
                                format_func=lambda r: f"{r:.0e}", help=help_for("lr"))
    optimizer = middle.selectbox("Optimizer", list(OPTIMIZERS), key="optimizer",
                                 help=" · ".join(OPTIMIZERS.values()))
    schedule = middle.selectbox("Schedule", list(SCHEDULES),
                                index=list(SCHEDULES).index(defaults.schedule), key="schedule",
                                help=" · ".join(SCHEDULES.values()))
    loss = middle.selectbox("Loss", list(LOSSES), key="loss", help=help_for("loss"))
    weighting = middle.selectbox("Class weighting", CLASS_WEIGHTINGS, key="class_weights",
                                 help=f"{help_for('class_weights')} (see the Data page)")
    right.markdown("**Data and stopping**")
    augment = AugmentConfig(
        hflip=right.checkbox("Horizontal flip", True, key="aug_hflip"),
        vflip=right.checkbox("Vertical flip", False, key="aug_vflip"),
        rot90=right.checkbox("Rotate 90°", False, key="aug_rot90"),
        scale_min=right.slider("Scale-crop (min scale)", 0.3, 1.0, 1.0, 0.05, key="aug_scale"),
        brightness=right.slider("Brightness jitter", 0.0, 0.5, 0.0, 0.05, key="aug_brightness"),
        contrast=right.slider("Contrast jitter", 0.0, 0.5, 0.0, 0.05, key="aug_contrast"),
    )
    split = right.selectbox("Split (without a val/ folder)", SPLIT_MODES, key="split",
                            help=help_for("split"))
    val_fraction = right.slider("Validation fraction", 0.05, 0.5, defaults.val_fraction, 0.05,
                                key="val_fraction", help=help_for("val_fraction"))
    seed = right.number_input("Seed", 0, 2**31 - 1, defaults.seed, key="seed",
                              help=help_for("seed"))
    patience = right.slider("Early-stopping patience (0 = off)", 0, 50, defaults.patience,
                            key="patience", help=help_for("patience"))
    budget = right.number_input("Time budget, minutes (0 = none)", 0.0, 24 * 60.0,
                                defaults.time_budget_min, key="time_budget",
                                help=help_for("time_budget_min"))
    with st.expander("Advanced", key="advanced_expander"):
        a, b, c = st.columns(3)
        weight_decay = a.select_slider("Weight decay", [0.0, 1e-5, 1e-4, 1e-3, 1e-2],
                                       value=defaults.weight_decay, key="weight_decay",
                                       help=help_for("weight_decay"))
        momentum = a.slider("SGD momentum", 0.0, 0.99, defaults.momentum, 0.01, key="momentum",
                            help=help_for("momentum"))
        warmup = b.slider("Warm-up epochs", 0.0, 5.0, defaults.warmup_epochs, 0.5, key="warmup",
                          help=help_for("warmup_epochs"))
        crop_options = ["none"] + [s for s in sizes if s < max(height, width)]
        crop = b.selectbox("Random crop (square)", crop_options, key="crop",
                           help=help_for("crop"))
        log_every = c.slider("Log train loss every N steps", 1, 50, defaults.log_every,
                             key="log_every", help=help_for("log_every"))
    return RunConfig(
        data=str(dataset_path()), model=model, hparams=hparams, img_size=(height, width),
        epochs=epochs, batch_size=batch, lr=rate, optimizer=optimizer, schedule=schedule,
        loss=loss, class_weights=weighting, augment=augment, split=split,
        val_fraction=val_fraction, seed=int(seed), patience=patience, time_budget_min=budget,
        weight_decay=weight_decay, momentum=momentum, warmup_epochs=warmup,
        crop=None if crop == "none" else (crop, crop), log_every=log_every,
    )


@st.cache_data(max_entries=32, show_spinner="Building the model to count it…")
def model_size(model, hparams_items, img_size, num_classes):
    return appstate.model_size(model, dict(hparams_items), img_size, num_classes)


def size_section(config):
    """Parameters and FLOPs on demand (it builds the model: a second or two)."""
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
    progress = appstate.run_progress(path)
    state = progress["state"]
    done, total = progress["epoch"], progress["epochs"]
    if progress["active"]:
        where = (f"epoch {min(done + 1, total)}/{total} · "
                 f"ETA {appstate.format_eta(progress['eta_seconds'])}")
    else:
        where = f"{done}/{total} epochs"
    st.progress(progress["fraction"], text=f"{run_id} · {state} · {where}")
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
    active = runs.active_run(root)
    start, stop, resume, _ = st.columns([2, 1, 1, 4])
    if start.button("Start training", key="start", type="primary",
                    disabled=active is not None or blocked,
                    help="One run at a time on this machine." if active else None):
        try:
            run_id = runs.start_run(root, config)
        except SegcoreError as error:
            # Another session may have started a run a moment ago: say why, show that run.
            st.error(str(error))
            active = runs.active_run(root)
        else:
            set_run(run_id)
            st.session_state["watch_run"] = run_id
            st.rerun()
    if active is not None:
        if run_id != active.run_id:
            st.info(f"Run {active.run_id} is {active.state}; one run at a time on this machine.")
        if stop.button("Stop", key="stop", help="Stops after the current step; resume later."):
            runs.stop_run(root, active.run_id)
            st.toast("Stopping after the current step…")
    elif run_id is not None:
        state = runs.read_status(runs.runs_dir(root) / run_id).get("state")
        if appstate.can_resume(state) and resume.button(
                "Resume", key="resume", help="Continue from the last checkpoint."):
            try:
                runs.resume_run(root, run_id)
            except SegcoreError as error:
                st.error(str(error))
            else:
                st.rerun()
    return run_id, active


def train_page():
    st.title("Train")
    st.caption(f"Dataset: **{current_dataset()}** (change it on the Data page)")
    config = settings_form()
    size_section(config)
    _, problems = dataset_report(dataset_path())
    if problems:
        st.error(f"The dataset {current_dataset()} has {len(problems)} problem(s); fix them on "
                 "the Data page before training.")
    run_id, active = run_controls(config, current_run(), blocked=bool(problems))
    known = [r.run_id for r in runs.list_runs(workspace())]
    if run_id is None:
        st.info("No run yet: pick settings and press Start training.")
        return
    st.session_state["watch_run"] = run_id  # the URL decides which run this tab shows
    st.selectbox("Run shown", known, key="watch_run", on_change=watch,
                 help="Any run of this workspace; the URL keeps the choice.")
    try:
        summary = appstate.run_summary(runs.read_config(runs.runs_dir(workspace()) / run_id)
                                       ["config"])
    except SegcoreError:
        summary = "settings unreadable (see below)"  # live_view names the damaged file
    st.caption(summary)
    is_live = active is not None and active.run_id == run_id
    st.session_state["page_state"] = runs.read_status(runs.runs_dir(workspace()) / run_id).get(
        "state")
    st.fragment(run_every=appstate.poll_interval(is_live))(live_view)(run_id)


train_page()
