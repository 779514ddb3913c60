"""Logits of one image at the size given: whole (padded to the model's stride) or, when it is
larger than a tile, from overlapping tiles blended with a smooth window.

Large images are predicted one band of rows at a time: only a band of logits (tile height x
image width x classes) is held, so memory stays bounded for 8192x8192 inputs.
"""

import math

import cv2
import numpy as np


def _as_float(tile):
    return tile.astype(np.float32) / 255.0 if tile.dtype == np.uint8 else tile.astype(np.float32)


def _pad_to(image, height, width):
    pad_h, pad_w = height - image.shape[0], width - image.shape[1]
    if pad_h == 0 and pad_w == 0:
        return image
    mode = cv2.BORDER_REFLECT_101 if min(image.shape[:2]) > 1 else cv2.BORDER_REPLICATE
    padded = cv2.copyMakeBorder(image, 0, pad_h, 0, pad_w, mode)
    return padded[..., None] if padded.ndim < image.ndim else padded  # cv2 drops a lone channel


def predict_logits(model, image, stride):
    """Logits for a whole image: padded to the stride, cropped back. float32 (H, W, C)."""
    height, width = image.shape[:2]
    padded = _pad_to(image, math.ceil(height / stride) * stride, math.ceil(width / stride) * stride)
    logits = model(_as_float(padded)[None], training=False)
    return np.asarray(logits)[0, :height, :width]


def _starts(length, tile, step):
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, step))
    return starts + [length - tile]


def _window(size):
    """Blending weights: high in a tile's centre, low (not zero) at its edges."""
    ramp = np.sin(np.pi * (np.arange(size) + 0.5) / size)
    return (0.05 + ramp).astype(np.float32)


def blended_logits(model, image, tile, stride, num_classes, overlap=0.25, batch=4, on_tile=None):
    """Logits of an image from overlapping tiles blended with a smooth window, band by band.

    Args:
        model: a model returning logits.
        image: uint8 or float (H, W, channels).
        tile: (h, w) tile size, multiples of `stride`.
        stride: the model's stride.
        num_classes: channels of the logits.
        overlap: share of a tile overlapping its neighbour.
        batch: tiles per model call.
        on_tile: optional callback(top, left, logits) for each tile's logits (a float32
            (h, w, classes) array at (top, left) of the image padded to whole tiles); training's
            validation takes its loss from them.

    Yields:
        (top, logits): the blended float32 logits (rows, W, classes) of the image's rows
        [top, top + rows), top to bottom. Only one band (tile height x image width x classes)
        is held at a time, so memory stays bounded for huge images.
    """
    height, width = image.shape[:2]
    tile_h, tile_w = (min(t, math.ceil(s / stride) * stride) for t, s in zip(tile, (height, width)))
    if height <= tile_h and width <= tile_w:
        logits = predict_logits(model, image, stride)
        if on_tile is not None:
            on_tile(0, 0, logits)
        yield 0, logits
        return
    image = _pad_to(image, max(height, tile_h), max(width, tile_w))
    full_h, full_w = image.shape[:2]
    step_h = max(stride, int(tile_h * (1 - overlap)) // stride * stride)
    step_w = max(stride, int(tile_w * (1 - overlap)) // stride * stride)
    window = _window(tile_h)[:, None] * _window(tile_w)[None, :]
    # A band accumulator spanning rows [top, top + tile_h): rows above the next band's start
    # are final once the band is added, so they are yielded and the accumulator shifts up.
    acc = np.zeros((tile_h, full_w, num_classes), dtype=np.float32)
    weight = np.zeros((tile_h, full_w), dtype=np.float32)
    row_starts, col_starts = _starts(full_h, tile_h, step_h), _starts(full_w, tile_w, step_w)
    top = 0
    for index, row in enumerate(row_starts):
        shift = row - top
        if shift:
            acc = np.roll(acc, -shift, axis=0)
            weight = np.roll(weight, -shift, axis=0)
            acc[-shift:] = 0
            weight[-shift:] = 0
            top = row
        for first in range(0, len(col_starts), batch):
            cols = col_starts[first:first + batch]
            tiles = np.stack([_as_float(image[row:row + tile_h, c:c + tile_w]) for c in cols])
            logits = np.asarray(model(tiles, training=False))
            for c, tile_logits in zip(cols, logits):
                if on_tile is not None:
                    on_tile(row, c, tile_logits)
                acc[:, c:c + tile_w] += tile_logits * window[..., None]
                weight[:, c:c + tile_w] += window
        next_row = row_starts[index + 1] if index + 1 < len(row_starts) else full_h
        final = min(next_row, height) - top
        if final > 0:
            yield top, acc[:final, :width] / np.maximum(weight[:final, :width, None], 1e-6)


def predict_tiled(model, image, tile, stride, num_classes, overlap=0.25, batch=4, on_tile=None):
    """Labels of a large image from overlapping tiles blended with a smooth window.

    Takes the arguments of `blended_logits` and argmaxes its bands.

    Returns:
        uint8 labels (H, W).
    """
    labels = np.zeros(image.shape[:2], dtype=np.uint8)
    for top, logits in blended_logits(model, image, tile, stride, num_classes, overlap, batch,
                                      on_tile):
        labels[top:top + len(logits)] = np.argmax(logits, axis=-1)
    return labels
