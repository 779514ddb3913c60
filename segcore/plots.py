"""Plotly figure builders for the app: pure functions of run data, tested without Streamlit."""

import math

import numpy as np
import plotly.graph_objects as go

TRAIN_COLOR, VAL_COLOR = "#1f77b4", "#ff7f0e"
# Runs drawn together get distinct qualitative colours (Okabe-Ito, safe for colour-blind
# readers); Streamlit's own theme would start with two near-identical blues.
RUN_COLORS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
              "#000000")


def run_color(index):
    """The colour of the `index`-th run of a comparison (the same in every chart)."""
    return RUN_COLORS[index % len(RUN_COLORS)]


def _hex(color):
    return "#{:02x}{:02x}{:02x}".format(*color)


def _layout(figure, title, height=320, **axes):
    figure.update_layout(title=title, height=height, margin=dict(l=40, r=10, t=40, b=40),
                         legend=dict(orientation="h", y=-0.2), **axes)
    return figure


def _epoch_ticks(*epoch_lists):
    """Whole-epoch ticks (1, 2, 3 rather than 1.2, 1.4) with at most about ten labels."""
    last = max((max(e) for e in epoch_lists if e), default=1)
    return {"xaxis_tick0": 0, "xaxis_dtick": max(1, math.ceil(last / 10))}


def loss_curves(epochs, steps, name=""):
    """Train loss per logged step, and train/validation loss per epoch."""
    figure = go.Figure()
    if steps:
        spe = max(1, max(s["step"] for s in steps) / max(1, max(s["epoch"] + 1 for s in steps)))
        figure.add_scatter(x=[s["step"] / spe for s in steps], y=[s["loss"] for s in steps],
                           mode="lines", name=f"{name}train loss (steps)",
                           line=dict(color=TRAIN_COLOR, width=1), opacity=0.5)
    x = [e["epoch"] for e in epochs]
    if epochs:
        figure.add_scatter(x=x, y=[e["train_loss"] for e in epochs], mode="lines+markers",
                           name=f"{name}train loss", line=dict(color=TRAIN_COLOR))
        figure.add_scatter(x=x, y=[e["val_loss"] for e in epochs], mode="lines+markers",
                           name=f"{name}val loss", line=dict(color=VAL_COLOR))
    steps_x = [s["step"] / spe for s in steps] if steps else []
    return _layout(figure, "Loss", xaxis_title="epoch", **_epoch_ticks(x, steps_x))


def iou_curves(epochs, class_names, colors):
    """Validation mean IoU and per-class IoU over epochs."""
    figure = go.Figure()
    x = [e["epoch"] for e in epochs]
    figure.add_scatter(x=x, y=[e["val_mean_iou"] for e in epochs], mode="lines+markers",
                       name="mean IoU", line=dict(width=4, color="#222"))
    for index, name in enumerate(class_names):
        values = [e["per_class_iou"][index] if e.get("per_class_iou") else None for e in epochs]
        figure.add_scatter(x=x, y=values, mode="lines+markers", name=name,
                           line=dict(color=_hex(colors[index])), marker=dict(size=5))
    return _layout(figure, "Validation IoU: mean (thick) and per class", xaxis_title="epoch",
                   yaxis_range=[0, 1], **_epoch_ticks(x))


def per_class_iou_bars(per_class_iou, class_names, colors, title="Per-class IoU"):
    """Bars in the class colours; NaN (class absent) drawn as an empty slot."""
    values = [np.nan if v is None else v for v in per_class_iou]
    figure = go.Figure(go.Bar(
        x=list(class_names), y=values, marker_color=[_hex(c) for c in colors],
        text=["n/a" if np.isnan(v) else f"{v:.3f}" for v in values], textposition="outside",
    ))
    return _layout(figure, title, yaxis_range=[0, 1.1])


def confusion_heatmap(cm, class_names):
    """Row-normalized confusion matrix (each true class sums to 1)."""
    cm = np.asarray(cm, dtype=np.float64)
    rows = cm.sum(axis=1, keepdims=True)
    normalized = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    figure = go.Figure(go.Heatmap(
        z=normalized, x=list(class_names), y=list(class_names), colorscale="Blues", zmin=0, zmax=1,
        text=np.round(normalized, 2), texttemplate="%{text}",
    ))
    # Every class named on both axes: Plotly thins a category axis's labels to every other
    # one or fewer when they crowd, which leaves rows a reader cannot name.
    names = list(class_names)
    ticks = dict(tickmode="array", tickvals=names, ticktext=names, automargin=True)
    figure.update_yaxes(autorange="reversed", title="true", **ticks)
    figure.update_xaxes(title="predicted", tickangle=-45 if len(names) > 8 else 0, **ticks)
    return _layout(figure, "Confusion matrix (normalized by true class)",
                   height=max(420, 160 + 22 * len(names)))


def class_share_bars(class_names, shares, colors, weights=None):
    """Pixel share of each class, with suggested class weights as hover text."""
    hover = None
    if weights is not None:
        hover = [f"suggested weight {w:.2f}" for w in weights]
    figure = go.Figure(go.Bar(
        x=list(class_names), y=[100 * s for s in shares], marker_color=[_hex(c) for c in colors],
        text=[f"{100 * s:.1f}%" for s in shares], textposition="outside", hovertext=hover,
    ))
    return _layout(figure, "Class pixel share", yaxis_title="% of labelled pixels")


METRIC_LABELS = {
    "val_mean_iou": "validation mean IoU",
    "val_loss": "validation loss",
    "train_loss": "train loss",
    "val_pixel_accuracy": "validation pixel accuracy",
    "lr": "learning rate",
    "prior_correction": "prior correction share (--prior-fit train)",
}


def compare_runs(curves, metric="val_mean_iou"):
    """One epoch metric of several runs overlaid: {label: epoch records}."""
    figure = go.Figure()
    for index, (label, epochs) in enumerate(curves.items()):
        figure.add_scatter(x=[e["epoch"] for e in epochs], y=[e.get(metric) for e in epochs],
                           mode="lines+markers", name=label, line=dict(color=run_color(index)))
    bounded = "iou" in metric or "accuracy" in metric or metric == "prior_correction"
    axes = {"yaxis_range": [0, 1]} if bounded else {}
    if metric == "lr":
        axes = {"yaxis_type": "log"}
    label = METRIC_LABELS.get(metric, metric)
    title = label[:1].upper() + label[1:] + " by run"
    ticks = _epoch_ticks(*([e["epoch"] for e in epochs] for epochs in curves.values()))
    return _layout(figure, title, xaxis_title="epoch", **axes, **ticks)


def per_class_compare(per_class_by_run, class_names, colors=None):
    """Grouped bars: each class's IoU in each run ({label: per-class IoU list}).

    Args:
        colors: {label: colour}; by default each run's position in `per_class_by_run`.
    """
    figure = go.Figure()
    for index, (label, values) in enumerate(per_class_by_run.items()):
        color = (colors or {}).get(label, run_color(index))
        figure.add_bar(x=list(class_names), y=[np.nan if v is None else v for v in values],
                       name=label, marker_color=color)
    figure.update_layout(barmode="group")
    return _layout(figure, "Per-class IoU at each run's best epoch", yaxis_range=[0, 1])
