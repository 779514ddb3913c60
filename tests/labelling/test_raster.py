"""Canvas drawings become exact label maps: the shape's pixels, one class value, nothing else."""

import numpy as np
import pytest

from segcore.data.classes import ClassMap
from segcore.errors import DataError
from segcore.labelling.raster import (
    View,
    flood_fill,
    paint_objects,
    path_points,
    polygon_mask,
    stroke_mask,
)


def centres(shape):
    rows, cols = np.indices(shape)
    return cols + 0.5, rows + 0.5


def test_a_horizontal_stroke_paints_the_pixels_within_half_its_width():
    labels = np.zeros((40, 60), dtype=np.uint8)
    stroke = {"type": "Path", "strokeWidth": 6,
              "path": [["M", 10, 20], ["Q", 15, 20, 20, 20], ["L", 50, 20]]}
    out = paint_objects(labels, [stroke], 2, View())
    x, y = centres(labels.shape)
    # Distance to the segment (10, 20)-(50, 20), computed here independently of the rasteriser.
    dx = np.maximum(0, np.maximum(10 - x, x - 50))
    expected = dx ** 2 + (y - 20) ** 2 <= 9
    assert np.array_equal(out == 2, expected)
    assert set(np.unique(out)) == {0, 2}


def test_zoom_and_offset_map_canvas_points_to_image_pixels():
    labels = np.zeros((20, 20), dtype=np.uint8)
    # Canvas at 4x showing from image (5, 5): canvas (8, 8) is image (7, 7).
    dot = {"type": "Path", "strokeWidth": 12, "path": [["M", 8, 8], ["L", 8, 8]]}
    out = paint_objects(labels, [dot], 1, View(x0=5, y0=5, zoom=4))
    assert np.argwhere(out == 1).tolist() == [[6, 6], [6, 7], [7, 6], [7, 7]]


def test_polygon_fills_the_pixels_whose_centres_lie_inside():
    mask = polygon_mask((10, 10), [(2, 2), (8, 2), (8, 6), (2, 6)])
    assert mask.sum() == 24 and mask[2:6, 2:8].all()
    triangle = polygon_mask((100, 100), [(0, 0), (100, 0), (0, 100)])
    x, y = centres((100, 100))
    assert np.array_equal(triangle, x + y < 100)


def test_polygon_from_the_canvas_json():
    obj = {"type": "Polygon", "points": [{"x": 20, "y": 20}, {"x": 80, "y": 20}, {"x": 80, "y": 60}]}
    out = paint_objects(np.zeros((100, 100), np.uint8), [obj], 3, View())
    assert (out == 3).sum() == 60 * 40 // 2


def test_flood_fill_stops_at_other_labels():
    labels = np.zeros((10, 10), dtype=np.uint8)
    labels[:, 5] = 1
    filled = flood_fill(labels, (2.5, 2.5), 2)
    assert (filled[:, :5] == 2).all() and (filled[:, 5] == 1).all() and (filled[:, 6:] == 0).all()
    point = {"type": "Circle", "left": 7, "top": 3, "originX": "left", "originY": "center",
             "width": 2, "height": 2, "strokeWidth": 2, "radius": 1}  # centre (9, 3)
    out = paint_objects(labels, [point], 255, View(), fill=True)
    assert (out[:, 6:] == 255).all() and (out[:, :6] != 255).all()


def test_every_painted_value_is_a_class_or_void():
    class_map = ClassMap(["a", "b", "c"], values=[0, 128, 255])
    rng = np.random.default_rng(0)
    labels = np.zeros((64, 64), dtype=np.uint8)
    for label in (0, 1, 2, 255, 1):
        points = rng.uniform(0, 64, (12, 2))
        path = [["M", *points[0]]] + [["Q", *a, *b] for a, b in zip(points[1::2], points[2::2])]
        labels = paint_objects(labels, [{"type": "Path", "strokeWidth": 5.5, "path": path}],
                               label, View(zoom=0.9))
    assert set(np.unique(labels).tolist()) <= set(range(class_map.num_classes)) | {255}


def test_unknown_objects_and_path_commands_are_refused():
    with pytest.raises(DataError, match="'Text' object"):
        paint_objects(np.zeros((4, 4), np.uint8), [{"type": "Text"}], 1, View())
    with pytest.raises(DataError, match="path command 'A'"):
        path_points([["M", 0, 0], ["A", 1, 1, 0, 0, 0, 2, 2]])


def test_a_click_with_the_brush_paints_a_round_dot():
    assert stroke_mask((5, 5), [(2.5, 2.5)], 1).sum() == 1
    dot = stroke_mask((9, 9), [(4.5, 4.5)], 5)
    x, y = centres((9, 9))
    assert np.array_equal(dot, (x - 4.5) ** 2 + (y - 4.5) ** 2 <= 6.25)
