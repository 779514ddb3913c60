"""Train page: hyperparameters from the registry, start/stop, live charts."""

import streamlit as st

from pages.common import current_dataset, current_run, dataset_path, fail, set_run, workspace
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


def param_widget(param, column):
    """One widget per registry parameter: the registry's ranges are the slider's."""
    key = f"hp_{param.name}"
    label = param.name.replace("_", " ")
    if param.kind == "bool":
        return column.checkbox(label, param.default, key=key, help=param.help)
    if param.kind == "choice":
        return column.selectbox(label, param.choices, key=key, help=param.help)
    if param.kind == "int":
        return column.slider(label, int(param.low), int(param.high), int(param.default), key=key,
                             help=param.help)
    return column.slider(label, float(param.low), float(param.high), float(param.default),
                         key=key, help=param.help)


def settings_form():
    """Reads every widget and returns a RunConfig (not yet validated)."""
    defaults = RunConfig()
    left, middle, right = st.columns(3)
    model = left.selectbox("Model family", list(MODELS), key="model",
                           format_func=lambda n: f"{n} ({MODELS[n].family})")
    left.caption(MODELS[model].description)
    hparams = {p.name: param_widget(p, left) for p in MODELS[model].params}
    stride = model_stride(model, **hparams)
    sizes = [s for s in SIZES if s % stride == 0] or [stride * 4]
    height = middle.select_slider("Image height", sizes, value=min(sizes, key=lambda s: abs(s - 128)),
                                  key="img_h")
    width = middle.select_slider("Image width", sizes, value=min(sizes, key=lambda s: abs(s - 128)),
                                 key="img_w")
    batch = middle.slider("Batch size", 1, 32, defaults.batch_size, key="batch_size")
    epochs = middle.slider("Epochs", 1, 200, 20, key="epochs")
    rate = middle.select_slider("Learning rate", RATES, value=3e-3, key="lr",
                                format_func=lambda r: f"{r:.0e}")
    optimizer = middle.selectbox("Optimizer", list(OPTIMIZERS), key="optimizer")
    schedule = middle.selectbox("Schedule", list(SCHEDULES), index=1, key="schedule")
    loss = right.selectbox("Loss", list(LOSSES), key="loss")
    weighting = right.selectbox("Class weighting", CLASS_WEIGHTINGS, key="class_weights")
    augment = AugmentConfig(
        hflip=right.checkbox("Horizontal flip", True, key="aug_hflip"),
        vflip=right.checkbox("Vertical flip", False, key="aug_vflip"),
        rot90=right.checkbox("Rotate 90°", False, key="aug_rot90"),
        scale_min=right.slider("Scale-crop (min scale)", 0.3, 1.0, 1.0, 0.05, key="aug_scale"),
        brightness=right.slider("Brightness jitter", 0.0, 0.5, 0.0, 0.05, key="aug_brightness"),
        contrast=right.slider("Contrast jitter", 0.0, 0.5, 0.0, 0.05, key="aug_contrast"),
    )
    split = right.selectbox("Split (without a val/ folder)", SPLIT_MODES, key="split")
    val_fraction = right.slider("Validation fraction", 0.05, 0.5, 0.2, 0.05, key="val_fraction")
    seed = right.number_input("Seed", 0, 2**31 - 1, 0, key="seed")
    patience = right.slider("Early-stopping patience (0 = off)", 0, 50, 0, key="patience")
    budget = right.number_input("Time budget, minutes (0 = none)", 0.0, 24 * 60.0, 0.0,
                                key="time_budget")
    return RunConfig(
        data=str(dataset_path()), model=model, hparams=hparams, img_size=(height, width),
        epochs=epochs, batch_size=batch, lr=rate, optimizer=optimizer, schedule=schedule,
        loss=loss, class_weights=weighting, augment=augment, split=split,
        val_fraction=val_fraction, seed=int(seed), patience=patience, time_budget_min=budget,
    )


def live_view(run_id):
    """Polls the run folder: progress, ETA and charts; reruns the page when the run ends."""
    path = runs.runs_dir(workspace()) / run_id
    progress = appstate.run_progress(path)
    state = progress["state"]
    st.progress(progress["fraction"], text=(
        f"{run_id} · {state} · epoch {progress['epoch']}/{progress['epochs']}"
        + (f" · ETA {appstate.format_eta(progress['eta_seconds'])}" if progress["active"] else "")))
    if progress["message"]:
        (st.error if state == "failed" else st.info)(progress["message"])
    best = progress["best_mean_iou"]
    st.markdown(f"Run state: **{state}** · best val mean IoU: "
                f"**{'—' if best is None or best < 0 else f'{best:.3f}'}**")
    config = runs.read_config(path)
    left, right = st.columns(2)
    left.plotly_chart(plots.loss_curves(progress["epoch_records"], progress["step_records"]),
                      key="live_loss")
    if progress["epoch_records"] and "class_map" in config:
        class_map = ClassMap.from_json(config["class_map"])
        right.plotly_chart(plots.iou_curves(progress["epoch_records"], class_map.names,
                                            class_map.colors), key="live_iou")
    if st.session_state.get("was_active") and not progress["active"]:
        st.session_state["was_active"] = False
        st.rerun(scope="app")
    st.session_state["was_active"] = progress["active"]


def train_page():
    st.title("Train")
    st.caption(f"Dataset: **{current_dataset()}** (change it on the Data page)")
    config = settings_form()
    run_id = current_run()
    active = runs.active_run(workspace())
    start, stop, _ = st.columns([1, 1, 4])
    if start.button("Start training", key="start", type="primary", disabled=active is not None):
        try:
            run_id = runs.start_run(workspace(), config)
        except SegcoreError as error:
            fail(error)
        set_run(run_id)
        st.session_state["was_active"] = True
        st.rerun()
    if active is not None:
        if run_id != active.run_id:
            st.info(f"Run {active.run_id} is {active.state}; one run at a time on this machine.")
        if stop.button("Stop", key="stop"):
            runs.stop_run(workspace(), active.run_id)
            st.toast("Stopping after the current step…")
    if run_id is None:
        st.info("No run yet: pick settings and press Start training.")
        return
    interval = appstate.poll_interval(active is not None and active.run_id == run_id)
    st.fragment(run_every=interval)(live_view)(run_id)


train_page()
