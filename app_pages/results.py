"""Results page: scores, per-class IoU, confusion matrix, worst images, run comparison, CSV."""

import pandas as pd
import streamlit as st

from app_pages.common import current_run, fail, finished_runs, no_runs_yet, set_run, tta_choice
from app_pages.label_help import label_link
from segcore import comparison, plots, runs
from segcore.data import load_dataset
from segcore.data.classes import ClassMap
from segcore.data.masks import read_mask
from segcore.errors import SegcoreError
from segcore.evaluation import evaluate_run
from segcore.inference import RunPredictor
from segcore.pictures import error_map, overlay, to_uint8


def checkpoint_mtime(path):
    """Cache key part: a new best checkpoint invalidates cached models and predictions."""
    for name in ("best.keras", "last.keras"):
        if (path / name).is_file():
            return (path / name).stat().st_mtime
    return 0.0


@st.cache_resource(max_entries=2, show_spinner="Loading the run's model…")
def predictor(path, mtime, tta=False):
    return RunPredictor(path, tta=tta)


@st.cache_data(max_entries=64, show_spinner="Predicting the image…")
def predicted(path, mtime, image_path, tta=False):
    """Labels for one dataset image (kept while the opacity slider moves)."""
    model = predictor(path, mtime, tta)
    return model.predict(model.read(image_path))  # the run's channels


def evaluation(run, split, tta=False):
    """Scores from `<run>/eval_<split>_best.json`, computed once (with a progress bar)."""
    bar = st.empty()  # drawn only while images are scored; a cached result shows nothing
    try:
        result = evaluate_run(run.path, split=split, tta=tta, on_image=lambda i, n: bar.progress(
            i / n, text=f"Evaluating {run.run_id} on {split} at full resolution: image {i}/{n}"))
    except SegcoreError as error:
        bar.empty()
        fail(error)
    bar.empty()
    return result


def run_dataset(run, class_map):
    """The run's dataset, split exactly as training split it; None (with a warning) when it
    cannot be opened, e.g. deleted since: the comparison from the run's records still shows."""
    config = run.config["config"]
    try:
        return load_dataset(config["data"], classes=class_map, split=config["split"],
                            val_fraction=config["val_fraction"], seed=config["seed"])
    except SegcoreError as error:
        st.warning(f"Cannot open the dataset run {run.label} trained on ({error}), so it is "
                   "not scored at full resolution here; its training curves are below.")
        return None


def worst_images(run, result, class_map, samples):
    st.subheader("Per-image scores (worst first)")
    table = pd.DataFrame(result["per_image"])
    st.dataframe(table, key="per_image_table", hide_index=True, height=240, column_config={
        "mean_iou": st.column_config.ProgressColumn("mean IoU", min_value=0, max_value=1,
                                                    format="%.3f"),
        "pixel_accuracy": st.column_config.ProgressColumn("pixel accuracy", min_value=0,
                                                          max_value=1, format="%.3f")})
    left, right = st.columns(2)
    count = left.slider("Worst images to inspect", 1, min(12, len(table)), min(3, len(table)),
                        key="inspect_count")
    alpha = right.slider("Overlay opacity", 0.0, 1.0, 0.5, 0.05, key="results_opacity")
    mtime = checkpoint_mtime(run.path)
    for row in result["per_image"][:count]:
        sample = samples.get(row["file"])
        if sample is None:
            st.warning(f"{row['file']} is no longer in the dataset.")
            continue
        truth = read_mask(sample.mask, class_map)
        try:
            image = to_uint8(predictor(str(run.path), mtime).read(sample.image))
            prediction = predicted(str(run.path), mtime, str(sample.image),
                                   result.get("tta") or None)
        except SegcoreError as error:  # a damaged checkpoint behind a cached evaluation
            fail(error)
        iou = "n/a" if row["mean_iou"] is None else f"{row['mean_iou']:.3f}"
        columns = st.columns(3)
        columns[0].image(overlay(image, truth, class_map, alpha),
                         caption=f"{row['file']} · ground truth", width="stretch")
        columns[1].image(overlay(image, prediction, class_map, alpha),
                         caption=f"prediction · mean IoU {iou}", width="stretch")
        columns[2].image(error_map(prediction, truth), caption="errors in red, void black",
                         width="stretch")
        label_link(columns[2], run, sample)


def compare_section(selected):
    st.subheader("Training curves" if len(selected) == 1 else "Compare runs")
    for note in comparison.comparison_notes(selected):
        st.warning(note)
    curves = {r.run_id: runs.read_metrics(r.path)[0] for r in selected}
    colors = {r.run_id: plots.run_color(index) for index, r in enumerate(selected)}
    st.dataframe(pd.DataFrame(comparison.runs_table(selected)), key="runs_table",
                 hide_index=True)
    metric = st.selectbox("Metric", list(plots.METRIC_LABELS), key="compare_metric",
                          format_func=plots.METRIC_LABELS.get)
    st.plotly_chart(plots.compare_runs(curves, metric), key="compare_runs")
    if len(selected) > 1:
        # Training-time scores (cheap, from metrics.jsonl) so every run compares alike, over
        # the classes all runs share; what is left out is said (comparison_notes, notes).
        names, per_class, notes = comparison.per_class_comparison(selected, curves)
        for note in notes:
            st.info(note)
        if names and per_class:
            st.plotly_chart(plots.per_class_compare(per_class, names, colors),
                            key="compare_classes")
        differences = comparison.config_differences({r.run_id: r.config.get("config", {})
                                                     for r in selected})
        if differences:
            st.markdown("**Settings that differ**")
            st.dataframe(pd.DataFrame(comparison.differences_rows(differences)).T,
                         key="config_diff")
        else:
            st.caption("These runs share every setting.")
    st.download_button("Download metrics (CSV)", comparison.metrics_csv(curves),
                       file_name="metrics.csv" if len(selected) > 1
                       else f"{selected[0].run_id}-metrics.csv",
                       mime="text/csv", key="metrics_csv", on_click="ignore")


def follow_first_run():
    """The run picker's callback: the first run picked becomes the current one (URL)."""
    chosen = st.session_state["results_runs"]
    if chosen:
        set_run(chosen[0])


def results_page():
    st.title("Results")
    available = finished_runs()
    if not available:
        no_runs_yet()
        return
    ids = [r.run_id for r in available]
    default = [current_run()] if current_run() in ids else ids[:1]
    left, right = st.columns([4, 1])
    labels = {r.run_id: r.label for r in available}
    chosen = left.multiselect("Runs", ids, default=default, key="results_runs",
                              format_func=lambda r: labels.get(r, r),
                              help="The first run is scored in detail; all are compared.",
                              on_change=follow_first_run)
    by_id = {r.run_id: r for r in available}
    selected = [by_id[run_id] for run_id in chosen if run_id in by_id]  # in the order picked
    if not selected:
        st.info("Pick at least one run.")
        return
    run = selected[0]
    class_map = ClassMap.from_json(run.config["class_map"])
    dataset = run_dataset(run, class_map)
    if dataset is None:
        compare_section(selected)
        return
    splits = [s for s in ("val", "test", "train") if dataset.samples(s)]
    split = right.selectbox("Split", splits, key="results_split")
    tta = tta_choice(right, "results", run.path)
    result = evaluation(run, split, tta)
    st.markdown(f"**{run.label}** · {split} mean IoU **{result['mean_iou']:.3f}** · pixel "
                f"accuracy {result['pixel_accuracy']:.3f} · mean class accuracy "
                f"{result['mean_class_accuracy']:.3f} · {result['images']} images at full "
                "resolution (the Train page scores at the training size)"
                + {None: "", "flip": " · with flip TTA",
                   "scales": " · with multi-scale and flip TTA"}[tta])
    st.caption(f"Scores of the {comparison.score_source(run.status, result['checkpoint'])}.")
    left, right = st.columns(2)
    left.plotly_chart(plots.per_class_iou_bars(result["per_class_iou"], class_map.names,
                                               class_map.colors), key="per_class_iou")
    right.plotly_chart(plots.confusion_heatmap(result["confusion_matrix"], class_map.names),
                       key="confusion")
    compare_section(selected)
    worst_images(run, result, class_map,
                 {sample.image.name: sample for sample in dataset.samples(split)})


results_page()
