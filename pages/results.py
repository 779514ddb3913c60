"""Results page: per-class IoU, confusion matrix, worst images, run comparison, CSV."""

import pandas as pd
import streamlit as st

from pages.common import current_run, fail, finished_runs
from segcore import appstate, plots, runs
from segcore.data import load_dataset
from segcore.data.classes import ClassMap
from segcore.data.formats import read_image, read_mask
from segcore.errors import SegcoreError
from segcore.evaluation import evaluate_run
from segcore.inference import RunPredictor, overlay


@st.cache_resource(max_entries=2)
def predictor(path, mtime):
    return RunPredictor(path)


def evaluation(run):
    with st.spinner(f"Evaluating {run.run_id} at full resolution…"):
        try:
            return evaluate_run(run.path, split="val")
        except SegcoreError as error:
            fail(error)


def worst_images(run, result, class_map):
    st.subheader("Per-image IoU (worst first)")
    table = pd.DataFrame(result["per_image"])
    st.dataframe(table, key="per_image_table", hide_index=True, height=220)
    names = list(table["file"])
    chosen = st.selectbox("Inspect image", names, key="inspect_image")
    config = runs.read_config(run.path)["config"]
    dataset = load_dataset(config["data"], classes=class_map, split=config["split"],
                           val_fraction=config["val_fraction"], seed=config["seed"])
    sample = next(s for s in dataset.samples("val") if s.image.name == chosen)
    image = read_image(sample.image)
    truth = read_mask(sample.mask, class_map)
    model = predictor(str(run.path), (run.path / "best.keras").stat().st_mtime
                      if (run.path / "best.keras").is_file() else 0)
    prediction = model.predict(image)
    alpha = st.slider("Overlay opacity", 0.0, 1.0, 0.5, 0.05, key="results_opacity")
    left, right = st.columns(2)
    left.image(overlay(image, truth, class_map, alpha), caption="ground truth")
    right.image(overlay(image, prediction, class_map, alpha), caption="prediction")


def comparison(selected):
    curves = {r.run_id: runs.read_metrics(r.path)[0] for r in selected}
    st.plotly_chart(plots.compare_runs(curves), key="compare_runs")
    differences = appstate.config_differences({r.run_id: r.config.get("config", {})
                                               for r in selected})
    if differences:
        st.dataframe(pd.DataFrame(differences).T, key="config_diff")
    else:
        st.caption("These runs share every setting.")


def results_page():
    st.title("Results")
    available = finished_runs()
    if not available:
        st.info("No trained runs yet: train one on the Train page.")
        return
    ids = [r.run_id for r in available]
    default = [current_run()] if current_run() in ids else ids[:1]
    chosen = st.multiselect("Runs", ids, default=default, key="results_runs")
    selected = [r for r in available if r.run_id in chosen]
    if not selected:
        st.info("Pick at least one run.")
        return
    run = selected[0]
    class_map = ClassMap.from_json(run.config["class_map"])
    result = evaluation(run)
    st.markdown(f"**{run.run_id}** · val mean IoU **{result['mean_iou']:.3f}** · pixel accuracy "
                f"{result['pixel_accuracy']:.3f} · mean class accuracy "
                f"{result['mean_class_accuracy']:.3f} · {result['images']} images")
    left, right = st.columns(2)
    left.plotly_chart(plots.per_class_iou_bars(result["per_class_iou"], class_map.names,
                                               class_map.colors), key="per_class_iou")
    right.plotly_chart(plots.confusion_heatmap(result["confusion_matrix"], class_map.names),
                       key="confusion")
    epochs, _ = runs.read_metrics(run.path)
    st.download_button("Download metrics (CSV)", pd.DataFrame(epochs).to_csv(index=False),
                       file_name=f"{run.run_id}-metrics.csv", mime="text/csv", key="metrics_csv")
    worst_images(run, result, class_map)
    if len(selected) > 1:
        st.subheader("Compare runs")
        comparison(selected)


results_page()
