"""Test-time augmentation: predictions averaged over mirrors (flip) and input sizes (scales).

`RunPredictor(tta=...)` applies it; `evaluate`, `predict` and the Results and Predict pages
take it from there, each by default the run's own (`run_tta`: `train --predict-tta`, which
`--auto` chooses; "auto" is measured on the validation images when training finishes,
`evaluation.choose_run_tta`).
"""

import logging
from pathlib import Path

import cv2
import numpy as np

from segcore.errors import DataError
from segcore.inference import resize_image, scale_pair, scaled_size
from segcore.tiling import blended_logits


class FlipAverage:
    """Flip test-time augmentation: a model whose output averages an image and its mirror.

    The softmax of the image and the mirrored softmax of its left-right flip are averaged
    (one model call on both), and returned as log-probabilities: they are logits whose
    softmax is that average, so tiling, resizing and argmax treat them as any model's.

    Attributes:
        model: the wrapped Keras model.
        output_shape: the model's.
    """

    def __init__(self, model):
        self.model = model
        self.output_shape = model.output_shape
        self.input_shape = model.input_shape

    def __call__(self, images, training=False):
        import tensorflow as tf

        images = tf.convert_to_tensor(images)
        count = tf.shape(images)[0]
        both = tf.concat([images, tf.reverse(images, axis=[2])], axis=0)
        probs = tf.nn.softmax(tf.cast(self.model(both, training=False), tf.float32), axis=-1)
        mean = (probs[:count] + tf.reverse(probs[count:], axis=[2])) / 2.0
        # The floor keeps log() finite where both passes give a class exactly zero.
        return tf.math.log(tf.maximum(mean, 1e-12))


# Multi-scale test-time augmentation: the input sizes, as factors of the trained one, whose
# flip-averaged softmax is averaged (the usual set of DeepLab's and PSPNet's evaluations).
TTA_SCALES = (0.75, 1.0, 1.25, 1.5)
TTA_MODES = ("flip", "scales")


def tta_mode(tta):
    """The TTA mode: None ("off" and False also mean it), "flip" (True also means it) or
    "scales".

    Raises:
        ValueError: any other value.
    """
    if tta is None or tta is False or tta == "off":
        return None
    if tta is True:
        return "flip"
    if tta not in TTA_MODES:
        raise ValueError(f"test-time augmentation {tta!r} is not one of {', '.join(TTA_MODES)}")
    return tta


# Where a run with `predict_tta` "auto" keeps the mode measured on its validation images.
CHOICE_FILE = "predict_tta.json"


def run_tta(run_dir):
    """The TTA a run predicts with unless told otherwise (its config's `predict_tta`):
    None, "flip" or "scales". Runs from before the setting predict plain. "auto" is the mode
    `evaluation.choose_run_tta` measured when training finished (`CHOICE_FILE`), and flip
    until then, or when that file is missing or damaged.

    Raises:
        RunError: config.json is damaged or names no known mode (`runs.read_config`).
    """
    from segcore.fileio import read_json
    from segcore.runs import read_config

    mode = read_config(run_dir)["config"].get("predict_tta", "off")
    if mode != "auto":
        return tta_mode(mode)
    path = Path(run_dir) / CHOICE_FILE
    choice = read_json(path)
    measured = choice.get("mode") if isinstance(choice, dict) else None
    if measured in TTA_MODES:
        return measured
    if path.exists():
        logging.getLogger("segcore").warning("%s is damaged (no mode of %s); predicting with "
                                             "flip TTA", path, ", ".join(TTA_MODES))
    return "flip"


def chosen_tta(run_dir, tta):
    """`tta` as given ("off" for none), or the run's own (`run_tta`) when it is None."""
    return run_tta(run_dir) if tta is None else tta_mode(tta)


def predict_probs(model, image, tile, stride, scale=(1.0, 1.0), num_classes=None):
    """Class probabilities float32 (H, W, classes) at the image's own size.

    The image is resized from its native pixels by `scale`, predicted (in overlapping tiles
    of `tile` blended by `blended_logits`, when larger) and the probabilities resized back.
    It holds the whole image's probabilities, so it suits averaging, not huge images.
    """
    height, width = image.shape[:2]
    num_classes = num_classes or model.output_shape[-1]
    size = scaled_size(image.shape, scale, stride)
    scaled = image if size == (width, height) else resize_image(image, size)
    logits = np.concatenate([band for _, band in blended_logits(model, scaled, tile, stride,
                                                                num_classes)])
    probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    if size == (width, height):
        return probs
    return resize_image(probs, (width, height), cv2.INTER_LINEAR)


# Class probabilities multi-scale TTA may hold for one image (float32: 2 GB).
MULTISCALE_LIMIT = 2**29


def fits_multiscale(image, num_classes):
    """True when multi-scale TTA can hold the image's probabilities (`MULTISCALE_LIMIT`)."""
    return image.shape[0] * image.shape[1] * num_classes <= MULTISCALE_LIMIT


def predict_multiscale(model, image, tile, stride, scale, factors, num_classes):
    """Labels from the probabilities averaged over `factors` times the trained `scale`.

    Each size is resized from the image's native pixels (a model trained on shrunk images
    sees real detail at the larger factors) and predicted in tiles grown by the factor, so
    every tile holds the same share of the scene as in training.

    Raises:
        DataError: the image's probabilities would not fit `MULTISCALE_LIMIT`.
    """
    height, width = image.shape[:2]
    if not fits_multiscale(image, num_classes):
        raise DataError(f"A {width}x{height} image with {num_classes} classes is too large "
                        "for multi-scale TTA (it holds every pixel's probabilities); use "
                        "flip TTA for images this large.")
    scale_y, scale_x = scale_pair(scale)
    total = 0.0
    for factor in factors:
        grown = tuple(max(stride, round(t * max(factor, 1.0) / stride) * stride) for t in tile)
        total = total + predict_probs(model, image, grown, stride,
                                      (scale_y * factor, scale_x * factor), num_classes)
    return np.argmax(total, axis=-1).astype(np.uint8)
