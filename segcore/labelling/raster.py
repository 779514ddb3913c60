"""Canvas drawings (Fabric.js JSON from streamlit-drawable-canvas) rasterised into label maps.

The browser anti-aliases what it draws, so its pixels never reach a mask: the server redraws
each object from its geometry, and a pixel takes the class exactly when its centre lies inside
the shape (within half the brush width of a stroke's centre line, inside a polygon or
rectangle). Every painted value is one of the class map's labels or void, nothing in between.

Coordinates: the canvas shows the image from (x0, y0) magnified `zoom` times, so a canvas
point (cx, cy) is the image point (x0 + cx / zoom, y0 + cy / zoom); pixel (row, col) spans
[col, col + 1) x [row, row + 1) with its centre at (col + 0.5, row + 0.5).
"""

from dataclasses import dataclass

import cv2
import numpy as np

from segcore.errors import DataError

# Points per quadratic or cubic curve segment of a freehand path: the brush's curves between
# mouse samples are short, so 8 chords stay well under a pixel from the curve.
_CURVE_STEPS = 8


@dataclass(frozen=True)
class View:
    """Which part of the image the canvas shows, and how magnified.

    Attributes:
        x0: image column at the canvas's left edge.
        y0: image row at the canvas's top edge.
        zoom: canvas pixels per image pixel.
    """

    x0: float = 0.0
    y0: float = 0.0
    zoom: float = 1.0

    def to_image(self, points):
        """Canvas points (N, 2) as image points (N, 2), both (x, y)."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return points / self.zoom + (self.x0, self.y0)


def _quad(p0, p1, p2):
    t = np.linspace(0, 1, _CURVE_STEPS + 1)[1:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2


def _cubic(p0, p1, p2, p3):
    t = np.linspace(0, 1, _CURVE_STEPS + 1)[1:, None]
    return (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t ** 2 * p2 + t ** 3 * p3


def path_points(commands):
    """The centre line of a Fabric path (`M`, `L`, `Q`, `C` commands) as canvas points (N, 2).

    Args:
        commands: e.g. `[["M", 20, 30], ["Q", 20, 30, 25, 30], ["L", 120, 30]]`.

    Raises:
        DataError: a command other than M, L, Q, C, Z.
    """
    points, current, start = [], None, None
    for command in commands:
        kind, values = command[0], np.asarray(command[1:], dtype=np.float64)
        if kind == "M":
            current = start = values[:2]
            points.append(current[None])
        elif kind == "L":
            current = values[:2]
            points.append(current[None])
        elif kind == "Q":
            points.append(_quad(current, values[:2], values[2:4]))
            current = values[2:4]
        elif kind == "C":
            points.append(_cubic(current, values[:2], values[2:4], values[4:6]))
            current = values[4:6]
        elif kind in ("Z", "z"):
            if start is not None:
                points.append(start[None])
        else:
            raise DataError(f"Unsupported path command {kind!r} in the drawing.")
    return np.concatenate(points) if points else np.zeros((0, 2))


def stroke_mask(shape, points, width):
    """Pixels whose centres lie within `width / 2` of the polyline through `points`.

    Args:
        shape: (height, width) of the label map.
        points: image points (N, 2) as (x, y); one point paints a round dot.
        width: the brush width in image pixels.

    Returns:
        A bool array of `shape`.
    """
    height, full_width = shape
    out = np.zeros(shape, dtype=bool)
    radius = max(width, 1e-6) / 2
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    segments = zip(points[:-1], points[1:]) if len(points) > 1 else [(points[0], points[0])]
    for a, b in segments:
        c0 = max(0, int(np.floor(min(a[0], b[0]) - radius)))
        c1 = min(full_width, int(np.ceil(max(a[0], b[0]) + radius)) + 1)
        r0 = max(0, int(np.floor(min(a[1], b[1]) - radius)))
        r1 = min(height, int(np.ceil(max(a[1], b[1]) + radius)) + 1)
        if c0 >= c1 or r0 >= r1:
            continue
        xs = np.arange(c0, c1) + 0.5
        ys = (np.arange(r0, r1) + 0.5)[:, None]
        d = b - a
        length2 = float(d @ d)
        # Distance from each pixel centre to the segment: project, clamp to the ends.
        t = np.zeros((r1 - r0, c1 - c0)) if length2 == 0 else np.clip(
            ((xs - a[0]) * d[0] + (ys - a[1]) * d[1]) / length2, 0, 1)
        dx, dy = xs - (a[0] + t * d[0]), ys - (a[1] + t * d[1])
        out[r0:r1, c0:c1] |= dx * dx + dy * dy <= radius * radius
    return out


def polygon_mask(shape, points):
    """Pixels whose centres lie inside the polygon (even-odd rule; closed automatically).

    Args:
        shape: (height, width) of the label map.
        points: image points (N, 2) as (x, y), N >= 3.

    Returns:
        A bool array of `shape`.
    """
    height, width = shape
    out = np.zeros(shape, dtype=bool)
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(points) < 3:
        return out
    c0, r0 = (max(0, int(np.floor(v))) for v in points.min(axis=0))
    c1 = min(width, int(np.ceil(points[:, 0].max())) + 1)
    r1 = min(height, int(np.ceil(points[:, 1].max())) + 1)
    if c0 >= c1 or r0 >= r1:
        return out
    xs = np.arange(c0, c1) + 0.5
    ys = (np.arange(r0, r1) + 0.5)[:, None]
    inside = np.zeros((r1 - r0, c1 - c0), dtype=bool)
    for (xa, ya), (xb, yb) in zip(points, np.roll(points, -1, axis=0)):
        if ya == yb:
            continue  # a horizontal edge never crosses a horizontal ray
        crosses = (ya > ys) != (yb > ys)
        x_cross = xa + (ys - ya) * (xb - xa) / (yb - ya)
        inside ^= crosses & (xs < x_cross)
    out[r0:r1, c0:c1] = inside
    return out


def flood_fill(labels, seed, label):
    """Fills the 4-connected region of equal labels around `seed` with `label`.

    Args:
        labels: uint8 label map (H, W); not changed.
        seed: image point (x, y); outside the image it fills nothing.
        label: the training label (or void) to fill with.

    Returns:
        A new label map.
    """
    out = labels.copy()
    col, row = int(np.floor(seed[0])), int(np.floor(seed[1]))
    if not (0 <= row < labels.shape[0] and 0 <= col < labels.shape[1]):
        return out
    scratch = np.zeros((labels.shape[0] + 2, labels.shape[1] + 2), dtype=np.uint8)
    cv2.floodFill(out, scratch, (col, row), int(label), 0, 0, flags=4)
    return out


def _centre(obj):
    """A Fabric object's centre in canvas coordinates, whatever its origin."""
    offsets = {"left": 0.0, "center": 0.5, "right": 1.0, "top": 0.0, "bottom": 1.0}
    stroke = obj.get("strokeWidth", 0) or 0
    width = (obj.get("width", 0) + stroke) * obj.get("scaleX", 1)
    height = (obj.get("height", 0) + stroke) * obj.get("scaleY", 1)
    x = obj.get("left", 0) + (0.5 - offsets[obj.get("originX", "left")]) * width
    y = obj.get("top", 0) + (0.5 - offsets[obj.get("originY", "top")]) * height
    return np.array([x, y])


def paint_objects(labels, objects, label, view, fill=False):
    """Paints canvas objects into a label map with one exact label.

    Freehand paths and lines are strokes of their `strokeWidth`; polygons and rectangles are
    filled; a point (Fabric circle) is a flood-fill seed when `fill` is set, else a dot of the
    brush's width.

    Args:
        labels: uint8 label map (H, W); not changed.
        objects: the `objects` list of the canvas JSON.
        label: the training label to paint (or 255 for void).
        view: the `View` the canvas showed.
        fill: points flood-fill their region.

    Returns:
        A new label map.

    Raises:
        DataError: an object type that cannot be rasterised.
    """
    out = labels.copy()
    shape = labels.shape
    for obj in objects:
        kind = str(obj.get("type", "")).lower()
        width = (obj.get("strokeWidth", 1) or 1) / view.zoom
        if kind == "path":
            where = stroke_mask(shape, view.to_image(path_points(obj["path"])), width)
        elif kind == "line":
            centre = _centre(obj)
            ends = np.array([[obj["x1"], obj["y1"]], [obj["x2"], obj["y2"]]]) + centre
            where = stroke_mask(shape, view.to_image(ends), width)
        elif kind == "polygon":
            where = polygon_mask(shape, view.to_image([(p["x"], p["y"]) for p in obj["points"]]))
        elif kind == "rect":
            left, top = obj.get("left", 0), obj.get("top", 0)
            w, h = obj.get("width", 0) * obj.get("scaleX", 1), obj.get("height", 0) * obj.get("scaleY", 1)
            corners = [(left, top), (left + w, top), (left + w, top + h), (left, top + h)]
            where = polygon_mask(shape, view.to_image(corners))
        elif kind == "circle":
            seed = view.to_image(_centre(obj))[0]
            if fill:
                out = flood_fill(out, seed, label)
                continue
            where = stroke_mask(shape, seed[None], width)
        else:
            raise DataError(f"The drawing holds a {obj.get('type')!r} object, which cannot be "
                            "painted into a mask; use the brush, polygon or fill tools.")
        out[where] = label
    return out

