"""How unsure a model is, per pixel and per image: what to label next.

Per pixel, from the softmax p over C classes:

    entropy = -sum_c p_c log p_c / log C     (0: one class certain, 1: all classes equal)
    margin  = 1 - (p_top1 - p_top2)          (0: certain, 1: the top two classes tie)

An image's score is the mean over its pixels. Example with two classes: p = (1, 0) scores 0
on both measures, p = (0.5, 0.5) scores 1 on both; images are ranked highest score first.
"""

import math

import cv2
import numpy as np

MEASURES = ("entropy", "margin")
# Ranking reads images at the training scale; beyond this many tiles' worth of pixels they are
# shrunk further, so one huge image cannot hold the whole ranking (the score is a mean).
_MAX_TILES = 4


def softmax(logits):
    """Softmax over the last axis, stable for large logits."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def uncertainty_map(probabilities, measure="entropy"):
    """Per-pixel uncertainty in [0, 1] from class probabilities (H, W, C); see the module."""
    if measure not in MEASURES:
        raise ValueError(f"Unknown measure {measure!r}; use one of {', '.join(MEASURES)}.")
    probs = np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, 1.0)
    classes = probs.shape[-1]
    if classes < 2:
        return np.zeros(probs.shape[:-1], dtype=np.float32)
    if measure == "entropy":
        # 0 log 0 is 0: the epsilon only keeps log away from -inf.
        value = -(probs * np.log(np.maximum(probs, 1e-12))).sum(axis=-1) / math.log(classes)
    else:
        top = np.sort(probs, axis=-1)
        value = 1.0 - (top[..., -1] - top[..., -2])
    return np.clip(value, 0.0, 1.0).astype(np.float32)


def run_probabilities(predictor, image):
    """Class probabilities of an image from a run, at the size the model sees it.

    Args:
        predictor: a `segcore.inference.RunPredictor`.
        image: uint8 or float (H, W, channels) as `predictor.read` gives it.

    Returns:
        float32 (h, w, C) at the training scale (shrunk further for very large images).
    """
    from segcore.tiling import predict_logits

    height, width = image.shape[:2]
    scale_y, scale_x = predictor.scale
    budget = _MAX_TILES * predictor.tile[0] * predictor.tile[1]
    extra = min(1.0, math.sqrt(budget / max(1.0, height * scale_y * width * scale_x)))
    size = (max(predictor.stride, round(width * scale_x * extra)),
            max(predictor.stride, round(height * scale_y * extra)))
    if size != (width, height):
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return softmax(predict_logits(predictor.forward, image, predictor.stride))


def rank_images(paths, probabilities, measure="entropy", read=None):
    """Scores images by their mean uncertainty, most uncertain first.

    Args:
        paths: image files.
        probabilities: a function from an image to its class probabilities (H, W, C),
            e.g. `lambda image: run_probabilities(predictor, image)`.
        measure: "entropy" or "margin".
        read: a function from a path to the image the model takes, e.g.
            `lambda path: predictor.read(path, compact=True)` (a run on bands reads its bands);
            default uint8 RGB.

    Returns:
        [(path, score)] sorted by score, highest first (ties keep the given order).
    """
    from segcore.data.formats import read_image_uint8

    read = read or read_image_uint8
    scored = [(path, float(uncertainty_map(probabilities(read(path)), measure).mean()))
              for path in paths]
    return sorted(scored, key=lambda item: -item[1])


def uncertainty_picture(values, shape=None, stretch=False):
    """An uncertainty map as a picture: uint8 RGB (H, W, 3), dark = sure, bright = unsure.

    Args:
        values: per-pixel uncertainty in [0, 1].
        shape: (height, width) to resize it to (the image's own size), or None.
        stretch: spread the image's own lowest..highest value over the colours (a young model
            is unsure nearly everywhere; stretched, the map still shows where it is most so).
    """
    values = np.clip(values, 0, 1)
    if stretch:
        low, high = float(values.min()), float(values.max())
        values = (values - low) / (high - low) if high - low > 1e-6 else values * 0
    picture = (values * 255 + 0.5).astype(np.uint8)
    if shape is not None and picture.shape[:2] != tuple(shape):
        picture = cv2.resize(picture, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return cv2.applyColorMap(picture, cv2.COLORMAP_INFERNO)[..., ::-1].copy()
