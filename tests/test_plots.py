"""Figure builders: the data lands in the traces, colours follow the classes, edge cases hold."""

import math

import numpy as np
import plotly.graph_objects as go

from segcore import plots

NAMES = ["background", "road", "car"]
COLORS = [(0, 0, 0), (128, 64, 128), (255, 0, 0)]


def epoch(n, iou, per_class=(0.9, 0.5, 0.1)):
    return {"epoch": n, "train_loss": 1.0 / n, "val_loss": 1.2 / n, "val_mean_iou": iou,
            "per_class_iou": list(per_class), "lr": 1e-3 / n}


def test_loss_curves_put_steps_at_fractional_epochs_and_epochs_at_their_end():
    steps = [{"step": s, "epoch": (s - 1) // 4, "loss": 2.0 - s / 10} for s in range(1, 9)]
    figure = plots.loss_curves([epoch(1, 0.3), epoch(2, 0.5)], steps)
    names = [t.name for t in figure.data]
    assert names == ["train loss (steps)", "train loss", "val loss"]
    assert list(figure.data[0].x) == [s / 4 for s in range(1, 9)]  # 4 steps per epoch
    assert list(figure.data[2].y) == [1.2, 0.6]


def test_loss_curves_of_a_run_that_has_not_logged_yet_are_empty_not_an_error():
    assert isinstance(plots.loss_curves([], []), go.Figure)
    assert plots.loss_curves([], []).data == ()


def test_iou_curves_draw_mean_and_each_class_in_its_colour():
    figure = plots.iou_curves([epoch(1, 0.3), epoch(2, 0.5, (0.95, None, 0.2))], NAMES, COLORS)
    assert [t.name for t in figure.data] == ["mean IoU", *NAMES]
    assert [t.line.color for t in figure.data[1:]] == ["#000000", "#804080", "#ff0000"]
    assert list(figure.data[2].y) == [0.5, None]  # an absent class leaves a gap
    assert tuple(figure.layout.yaxis.range) == (0, 1)


def test_per_class_bars_use_class_colours_and_mark_absent_classes():
    figure = plots.per_class_iou_bars([0.8, None, 0.25], NAMES, COLORS)
    bar = figure.data[0]
    assert list(bar.x) == NAMES
    assert list(bar.marker.color) == ["#000000", "#804080", "#ff0000"]
    assert list(bar.text) == ["0.800", "n/a", "0.250"]
    assert math.isnan(bar.y[1])


def test_confusion_heatmap_normalizes_each_true_class_and_keeps_empty_rows_zero():
    cm = [[8, 2, 0], [0, 0, 0], [1, 1, 2]]
    z = np.asarray(plots.confusion_heatmap(cm, NAMES).data[0].z)
    np.testing.assert_allclose(z[0], [0.8, 0.2, 0.0])
    np.testing.assert_allclose(z[1], [0.0, 0.0, 0.0])  # class absent from the truth: no NaN
    np.testing.assert_allclose(z[2], [0.25, 0.25, 0.5])
    assert np.isfinite(z).all()


def test_confusion_heatmap_names_every_class_of_many_on_both_axes():
    names = [f"class {i}" for i in range(21)]  # Plotly thins crowded category labels
    figure = plots.confusion_heatmap(np.eye(21), names)
    for axis in (figure.layout.xaxis, figure.layout.yaxis):
        assert axis.tickmode == "array"
        assert list(axis.tickvals) == names and list(axis.ticktext) == names
    assert figure.layout.height >= 22 * 21


def test_class_share_bars_show_percentages_and_weights_on_hover():
    figure = plots.class_share_bars(NAMES, [0.7, 0.25, 0.05], COLORS, weights=[0.36, 1.0, 5.0])
    bar = figure.data[0]
    np.testing.assert_allclose(bar.y, [70, 25, 5])
    assert list(bar.text) == ["70.0%", "25.0%", "5.0%"]
    assert list(bar.hovertext) == ["suggested weight 0.36", "suggested weight 1.00",
                                   "suggested weight 5.00"]
    assert plots.class_share_bars(NAMES, [0.7, 0.25, 0.05], COLORS).data[0].hovertext is None


def test_compare_runs_draws_one_line_per_run_for_the_chosen_metric():
    curves = {"a": [epoch(1, 0.2), epoch(2, 0.4)], "b": [epoch(1, 0.3)]}
    figure = plots.compare_runs(curves)
    assert [t.name for t in figure.data] == ["a", "b"]
    assert list(figure.data[0].y) == [0.2, 0.4]
    loss = plots.compare_runs(curves, "val_loss")
    assert list(loss.data[0].y) == [1.2, 0.6]
    assert loss.layout.yaxis.range is None  # losses are not clamped to [0, 1]
    assert plots.compare_runs(curves, "lr").layout.yaxis.type == "log"
    shares = plots.compare_runs({"fitted": [{"epoch": 1, "prior_correction": 0.75}],
                                 "fixed": [{"epoch": 1}]}, "prior_correction")
    assert list(shares.data[0].y) == [0.75] and list(shares.data[1].y) == [None]
    assert list(shares.layout.yaxis.range) == [0, 1]
    assert shares.layout.title.text.startswith("Prior correction share")


def test_epoch_axes_tick_whole_epochs_and_titles_keep_iou_spelled_right():
    few = plots.compare_runs({"a": [epoch(1, 0.2), epoch(2, 0.4)]})
    assert few.layout.xaxis.dtick == 1 and few.layout.title.text == "Validation mean IoU by run"
    many = plots.iou_curves([epoch(n, 0.5) for n in range(1, 101)], NAMES, COLORS)
    assert many.layout.xaxis.dtick == 10
    assert plots.loss_curves([], []).layout.xaxis.dtick == 1


def test_per_class_compare_groups_one_bar_series_per_run():
    figure = plots.per_class_compare({"a": [0.9, None, 0.1], "b": [0.8, 0.4, 0.2]}, NAMES)
    assert [t.name for t in figure.data] == ["a", "b"]
    assert figure.layout.barmode == "group"
    assert math.isnan(figure.data[0].y[1])


def test_runs_get_distinct_colours_kept_from_chart_to_chart():
    curves = {"a": [epoch(1, 0.2)], "b": [epoch(1, 0.3)], "c": [epoch(1, 0.1)]}
    lines = [t.line.color for t in plots.compare_runs(curves).data]
    assert len(set(lines)) == 3 and lines[:2] == ["#0072B2", "#E69F00"]  # blue, then orange
    # A run left out of the bars keeps its colour: colours are given by run, not position.
    bars = plots.per_class_compare({"a": [0.9, 0.1, 0.2], "c": [0.5, 0.5, 0.5]}, NAMES,
                                   colors={"a": lines[0], "c": lines[2]})
    assert [t.marker.color for t in bars.data] == [lines[0], lines[2]]
