"""The Predict page's logic: masks paired and scored, downloads per format, zoomable views.

Plain functions of arrays, tested without Streamlit.
"""

import base64
import io
import zipfile
from pathlib import Path

import cv2
import numpy as np

from segcore.data.classes import IGNORE_LABEL
from segcore.errors import ConfigError, DataError
from segcore.metrics import confusion_matrix, scores
from segcore.pictures import colorize


def zip_files(named_bytes):
    """A zip (bytes) of {name: bytes}, for download buttons."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in named_bytes.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def png_bytes(array):
    """PNG bytes of an RGB (H, W, 3) or single-channel (H, W) uint8 array."""
    ok, encoded = cv2.imencode(".png", array[..., ::-1] if array.ndim == 3 else array)
    return encoded.tobytes()


def shrink(array, side=1024, nearest=False):
    """A copy at most `side` pixels on its longer side, for display only (masks: nearest)."""
    scale = side / max(array.shape[:2])
    if scale >= 1:
        return array
    size = (max(1, round(array.shape[1] * scale)), max(1, round(array.shape[0] * scale)))
    return cv2.resize(array, size, interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)


def mask_scores(prediction, truth, num_classes):
    """Mean IoU and pixel accuracy of one prediction against its mask (void ignored)."""
    if prediction.shape != truth.shape:
        raise DataError(f"The mask is {truth.shape[1]}x{truth.shape[0]} but its image is "
                        f"{prediction.shape[1]}x{prediction.shape[0]}.")
    result = scores(confusion_matrix(truth, prediction, num_classes, ignore_index=IGNORE_LABEL))
    return result["mean_iou"], result["pixel_accuracy"]


def _mask_stem(name):
    stem = Path(name).stem
    return stem[: -len("_mask")] if stem.lower().endswith("_mask") else stem


def pair_masks(image_names, mask_names):
    """{image name: mask name} by stem, the mask optionally suffixed `_mask` (of masks that
    share a stem, the last: see `mask_conflicts`)."""
    by_stem = {_mask_stem(name): name for name in mask_names}
    return {name: by_stem[Path(name).stem] for name in image_names if Path(name).stem in by_stem}


def mask_conflicts(mask_names):
    """One sentence per stem that more than one uploaded mask pairs with (the same file
    uploaded twice, or `a.png` and `a_mask.png`): which one is used, and that the rest are not.

    Example:
        ["a_mask.png", "a_mask.png"] -> ["2 masks pair with the images named a: a_mask.png,
        a_mask.png. The last uploaded is used; remove the others."]
    """
    by_stem = {}
    for name in mask_names:
        by_stem.setdefault(_mask_stem(name), []).append(name)
    return [f"{len(names)} masks pair with the images named {stem}: {', '.join(names)}. The "
            "last uploaded is used; remove the others." for stem, names in by_stem.items()
            if len(names) > 1]


MASK_FORMATS = {
    "labels": "training labels 0..C-1, 255 = void",
    "values": "the dataset's own mask values (void as its void value, else 0)",
    "colours": "RGB in the class colours",
}
# One file name per format, so masks of two formats never pass for each other once saved
# (labels and colours as the CLI's `predict` names them).
MASK_SUFFIXES = {"labels": "mask", "values": "values", "colours": "color"}


def mask_file_name(stem, fmt):
    """`a_mask.png` (labels), `a_values.png` or `a_color.png`: the name of a downloaded mask."""
    if fmt not in MASK_SUFFIXES:
        raise ConfigError(f"Unknown mask format {fmt!r}; use one of {', '.join(MASK_FORMATS)}.")
    return f"{stem}_{MASK_SUFFIXES[fmt]}.png"


def masks_zip_name(run_id, fmt):
    """The zip of every downloaded mask of one format: `RUN-masks-labels.zip`."""
    return f"{run_id}-masks-{fmt}.zip"


def mask_for_download(labels, class_map, fmt="labels"):
    """A predicted label map encoded the way the user asked (see MASK_FORMATS)."""
    if fmt == "labels":
        return labels
    if fmt == "colours":
        return colorize(labels, class_map)
    if fmt != "values":
        raise ConfigError(f"Unknown mask format {fmt!r}; use one of {', '.join(MASK_FORMATS)}.")
    table = np.zeros(256, dtype=np.uint8)
    table[: class_map.num_classes] = class_map.values
    table[IGNORE_LABEL] = class_map.ignore_value or 0
    return table[labels]


def zoom_figure(picture, title="", max_side=4096, quality=90):
    """A plotly figure of a picture at full resolution, to zoom (drag a box) and pan.

    The picture travels to the browser once, as a JPEG inside the figure (a 3000x3000 overlay
    is a few MB; raw pixel values in JSON would be over 100 MB), and the browser scales it, so
    zooming needs no rerun. Pictures over `max_side` pixels are sent at `max_side`, their axes
    still in the image's own pixels.

    Args:
        picture: uint8 RGB (H, W, 3).
        title: the figure's title.
        max_side: the longest side sent.
        quality: JPEG quality of the view (downloads stay lossless PNG).

    Returns:
        A `plotly.graph_objects.Figure`.
    """
    import plotly.graph_objects as go

    height, width = picture.shape[:2]
    sent = shrink(picture, max_side)
    ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(sent[..., ::-1]),
                               [cv2.IMWRITE_JPEG_QUALITY, quality])
    source = "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")
    scale = width / sent.shape[1]  # one sent pixel covers `scale` image pixels
    figure = go.Figure(go.Image(source=source, dx=scale, dy=scale,
                                hovertemplate="x %{x:.0f}, y %{y:.0f}<extra></extra>"))
    figure.update_layout(title=title, height=720, margin=dict(l=10, r=10, t=40, b=10),
                         dragmode="zoom")
    figure.update_xaxes(range=[0, width], showgrid=False, constrain="domain")
    figure.update_yaxes(range=[height, 0], showgrid=False, scaleanchor="x", constrain="domain")
    return figure
