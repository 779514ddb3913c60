"""Class weights from a training set's pixel counts, and the prior correction they imply.

The losses (`segcore.losses`) multiply each pixel by its class's weight; a model trained that
way over-predicts rare classes by about log(w_c), which `correction_bias` can take back.
"""

import math

import numpy as np

from segcore.errors import ConfigError

CLASS_WEIGHTINGS = ("none", "inverse", "median")


def compute_class_weights(pixel_counts, method="none", image_pixels=None):
    """Class weights from the training set's pixel counts (void excluded).

    With n_c the pixels of class c, N = sum_c n_c and K the number of classes present:

    - "none": returns None (every pixel weighs 1).
    - "inverse": w_c = N / (K n_c), so a balanced set gets all ones.
    - "median": median-frequency balancing, w_c = median(f) / f_c. By default f_c = n_c / N
      (pixel frequency over the whole set). SegNet's exact variant (Badrinarayanan et al., 2017)
      divides instead by the pixels of the images where c appears: pass those totals as
      `image_pixels` and f_c = n_c / image_pixels[c]. The two agree when every class occurs
      in every image.

    Classes with no pixels get weight 0 (they never occur, so their weight never applies).

    Example:
        counts [100, 10, 50]: inverse -> 160 / (3 * [100, 10, 50]) = [0.533, 5.333, 1.067];
        median: f = [0.625, 0.0625, 0.3125], median 0.3125 -> [0.5, 5.0, 1.0].

    Args:
        pixel_counts: int [C] labelled pixels per class.
        method: "none", "inverse" or "median".
        image_pixels: optional [C] total pixels of the images containing each class
            ("median" only).

    Returns:
        float32 [C], or None for "none".

    Raises:
        ConfigError: an unknown method, or no labelled pixel at all.
    """
    if method in (None, "none"):
        return None
    if method not in CLASS_WEIGHTINGS:
        raise ConfigError(
            f"Unknown class weighting {method!r}; use one of {', '.join(CLASS_WEIGHTINGS)}."
        )
    counts = np.asarray(pixel_counts, dtype=np.float64)
    present = counts > 0
    if not present.any():
        raise ConfigError("Class weights need at least one labelled pixel in the training masks.")
    weights = np.zeros_like(counts)
    if method == "inverse":
        weights[present] = counts.sum() / (present.sum() * counts[present])
    else:
        totals = np.asarray(image_pixels, np.float64) if image_pixels is not None else counts.sum()
        frequency = counts / np.maximum(totals, 1.0)
        weights[present] = np.median(frequency[present]) / frequency[present]
    return weights.astype(np.float32)


def correction_bias(class_weights, alpha):
    """alpha * log(w_c) per class; 0 for a class of weight 0 (absent from training).

    The bias `segcore.models.prior_correction.PriorCorrection` takes off the logits at
    prediction: that share of the weighting's push toward rare classes, taken back.

    Example: weights [0.25, 1.0, 4.0], alpha 0.5 -> [-0.693, 0.0, 0.693].

    Returns:
        A list of floats, or None when there is nothing to correct (no weights, alpha 0).
    """
    if class_weights is None or not alpha:
        return None
    return [alpha * math.log(w) if w > 0 else 0.0 for w in map(float, class_weights)]
