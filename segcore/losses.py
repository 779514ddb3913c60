"""Losses that ignore void pixels (label 255) and return one value per example.

The training loop averages per-example losses over the global batch, which keeps the
gradient scale right under any number of replicas.
"""

import numpy as np

from segcore.data.classes import IGNORE_LABEL
from segcore.errors import ConfigError

_EPS = 1e-6


def compute_class_weights(pixel_counts, method="none"):
    """Class weights from training pixel counts.

    - "inverse": w_c = total / (C * n_c), so a balanced dataset gets all ones.
    - "median": SegNet's median-frequency balancing, w_c = median(f) / f_c with f_c = n_c / total.
    Classes with no pixels get weight 0. Returns float32 [C], or None for "none".
    """
    if method in (None, "none"):
        return None
    counts = np.asarray(pixel_counts, dtype=np.float64)
    present = counts > 0
    if not present.any():
        raise ConfigError("Class weights need at least one labelled pixel.")
    weights = np.zeros_like(counts)
    if method == "inverse":
        weights[present] = counts.sum() / (present.sum() * counts[present])
    elif method == "median":
        frequency = counts / counts.sum()
        weights[present] = np.median(frequency[present]) / frequency[present]
    else:
        raise ConfigError(f"Unknown class weighting {method!r}; use none, inverse or median.")
    return weights.astype(np.float32)


def _prepare(y_true, logits, ignore_label):
    import tensorflow as tf

    y_true = tf.cast(y_true, tf.int32)
    valid = tf.not_equal(y_true, ignore_label)
    safe = tf.where(valid, y_true, tf.zeros_like(y_true))
    return tf.cast(logits, tf.float32), safe, tf.cast(valid, tf.float32)


def _pixel_weights(safe, valid, class_weights):
    import tensorflow as tf

    if class_weights is None:
        return valid
    return tf.gather(tf.constant(class_weights, tf.float32), safe) * valid


def _per_example_mean(values, weights):
    import tensorflow as tf

    numerator = tf.reduce_sum(values * weights, axis=[1, 2])
    return numerator / tf.maximum(tf.reduce_sum(weights, axis=[1, 2]), _EPS)


def cross_entropy(y_true, logits, class_weights=None, ignore_label=IGNORE_LABEL):
    """Weighted pixel cross-entropy per example: sum_i w_i CE_i / sum_i w_i over valid pixels."""
    import tensorflow as tf

    logits, safe, valid = _prepare(y_true, logits, ignore_label)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=safe, logits=logits)
    return _per_example_mean(ce, _pixel_weights(safe, valid, class_weights))


def focal(y_true, logits, class_weights=None, ignore_label=IGNORE_LABEL, gamma=2.0):
    """Focal loss (Lin et al., 2017): CE scaled by (1 - p_true)^gamma, so easy pixels count less."""
    import tensorflow as tf

    logits, safe, valid = _prepare(y_true, logits, ignore_label)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=safe, logits=logits)
    p_true = tf.exp(-ce)
    return _per_example_mean((1.0 - p_true) ** gamma * ce, _pixel_weights(safe, valid, class_weights))


def soft_dice(y_true, logits, class_weights=None, ignore_label=IGNORE_LABEL, smooth=1.0):
    """Soft Dice loss per example: 1 - mean_c (2 sum p g + s) / (sum p + sum g + s), void masked."""
    import tensorflow as tf

    logits, safe, valid = _prepare(y_true, logits, ignore_label)
    num_classes = logits.shape[-1]
    probs = tf.nn.softmax(logits) * valid[..., None]
    truth = tf.one_hot(safe, num_classes) * valid[..., None]
    intersection = tf.reduce_sum(probs * truth, axis=[1, 2])
    sizes = tf.reduce_sum(probs, axis=[1, 2]) + tf.reduce_sum(truth, axis=[1, 2])
    dice = (2.0 * intersection + smooth) / (sizes + smooth)
    if class_weights is None:
        return 1.0 - tf.reduce_mean(dice, axis=-1)
    weights = tf.constant(class_weights, tf.float32)
    return 1.0 - tf.reduce_sum(dice * weights, axis=-1) / tf.maximum(tf.reduce_sum(weights), _EPS)


def ce_dice(y_true, logits, class_weights=None, ignore_label=IGNORE_LABEL):
    """Cross-entropy plus soft Dice."""
    return cross_entropy(y_true, logits, class_weights, ignore_label) + soft_dice(
        y_true, logits, None, ignore_label
    )


LOSSES = {
    "ce": cross_entropy,
    "focal": focal,
    "dice": soft_dice,
    "ce+dice": ce_dice,
}
CLASS_WEIGHTINGS = ("none", "inverse", "median")


def build_loss(name, num_classes=None, class_weights=None, ignore_label=IGNORE_LABEL):
    """Returns fn(y_true [B, H, W], logits [B, H, W, C]) -> per-example loss [B]."""
    if name not in LOSSES:
        raise ConfigError(f"Unknown loss {name!r}; choose one of {', '.join(LOSSES)}.")
    function = LOSSES[name]

    def loss(y_true, logits):
        return function(y_true, logits, class_weights, ignore_label)

    return loss
