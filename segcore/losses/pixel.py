"""Pixel losses: cross-entropy (toward one label or toward class shares), focal, and online
hard-pixel mining, each a mean over an example's valid pixels (the contract: `segcore.losses`).
`prepare` and `EPS` serve the region losses too (`segcore.losses.region`).
"""

import math

from segcore.data.classes import IGNORE_LABEL

# Guards the division by the sum of pixel weights of an all-void example (0 / eps = 0).
EPS = 1e-6


def prepare(y_true, logits, ignore_label):
    """float32 logits, labels with void replaced by 0 (safe to gather), float32 valid mask."""
    import tensorflow as tf

    y_true = tf.cast(y_true, tf.int32)
    valid = tf.not_equal(y_true, ignore_label)
    safe = tf.where(valid, y_true, tf.zeros_like(y_true))
    return tf.cast(logits, tf.float32), safe, tf.cast(valid, tf.float32)


def _pixel_cross_entropy(y_true, logits, ignore_label):
    """-log softmax(logits_i)[y_i] per pixel (void scored as class 0: weigh by `valid`),
    with `prepare`'s labels and valid mask."""
    import tensorflow as tf

    logits, safe, valid = prepare(y_true, logits, ignore_label)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=safe, logits=logits)
    return ce, safe, valid


def _pixel_weights(safe, valid, class_weights):
    import tensorflow as tf

    if class_weights is None:
        return valid
    return tf.gather(tf.constant(class_weights, tf.float32), safe) * valid


def _per_example_mean(values, weights):
    """sum_i w_i v_i / sum_i w_i per example; 0 for an example whose weights are all 0."""
    import tensorflow as tf

    numerator = tf.reduce_sum(values * weights, axis=[1, 2])
    return numerator / tf.maximum(tf.reduce_sum(weights, axis=[1, 2]), EPS)


def cross_entropy(y_true, logits, class_weights=None, ignore_label=IGNORE_LABEL, smoothing=0.0):
    """Pixel cross-entropy, class-weighted, per example.

    loss_b = sum_i w_{y_i} CE_i / sum_i w_{y_i} over the valid pixels i of example b, with
    CE_i = -log softmax(logits_i)[y_i] and w = 1 without class weights (PyTorch's weighted
    mean). Void pixels have weight 0. With label smoothing e, each pixel's target is
    (1 - e) of its class plus e spread evenly over all C classes: CE_i becomes
    (1 - e) CE_i + e mean_c(-log softmax(logits_i)[c]) (see `_smoothed`).

    Example:
        labels [[0, 1, 255]], logits [[2, 0], [0, 0], [9, -9]]:
        CE = [log(1 + e^-2), log 2, -] = [0.1269, 0.6931]; loss = 0.4100.
        With class_weights [1, 3]: (0.1269 + 3 * 0.6931) / 4 = 0.5516.
        With smoothing 0.1: pixel 0's uniform term is (0.1269 + 2.1269) / 2 = 1.1269, so
        CE = [0.9 * 0.1269 + 0.1 * 1.1269, 0.6931] = [0.2269, 0.6931]; loss = 0.4600.
    """
    ce, safe, valid = _pixel_cross_entropy(y_true, logits, ignore_label)
    ce = _smoothed(ce, logits, smoothing)
    return _per_example_mean(ce, _pixel_weights(safe, valid, class_weights))


def share_cross_entropy(y_true, logits, class_weights=None, smoothing=0.0):
    """`cross_entropy` toward each pixel's class shares instead of one label.

    y_true[..., c] is the share of class c in the pixel's footprint and y_true[..., C] void's
    (`shrink.label_shares`, for masks shrunk with the image). Over the labelled share
    s_i = sum_c y_ic, the target is t_ic = y_ic / s_i, CE_i = -sum_c t_ic log softmax(z_i)[c],
    and the pixel weighs s_i sum_c t_ic w_c: a pixel half void counts half, a pixel half a
    rare class carries half its weight. One-hot shares give `cross_entropy` exactly. Label
    smoothing mixes e / C of every class into the target, as there.

    Example:
        shares [[1, 0, 0], [0.5, 0.5, 0]], logits [[2, 0], [0, 0]]:
        CE = [log(1 + e^-2), log 2] = [0.1269, 0.6931]; loss = 0.4100.
        With class_weights [1, 3]: pixel 1 weighs 0.5 + 1.5 = 2, so
        (0.1269 + 2 * 0.6931) / 3 = 0.5044.
    """
    import tensorflow as tf

    y_true = tf.cast(y_true, tf.float32)
    log_p = tf.nn.log_softmax(tf.cast(logits, tf.float32))
    labelled = tf.reduce_sum(y_true[..., :-1], axis=-1)
    target = y_true[..., :-1] / tf.maximum(labelled, EPS)[..., None]
    ce = -tf.reduce_sum(target * log_p, axis=-1)
    if smoothing:
        ce = (1.0 - smoothing) * ce - smoothing * tf.reduce_mean(log_p, axis=-1)
    weights = labelled
    if class_weights is not None:
        weights *= tf.reduce_sum(target * tf.constant(class_weights, tf.float32), axis=-1)
    return _per_example_mean(ce, weights)


def _smoothed(ce, logits, smoothing):
    """Label smoothing (Szegedy et al., 2016) of a pixel cross-entropy `ce` [B, H, W]:
    (1 - e) ce + e mean_c(-log softmax(logits)[c]), the cross-entropy against a target of
    (1 - e) on the true class and e / C on each class. It bounds how far the logits are
    pushed apart, so a short run stops sharpening the pixels it already has right."""
    if not smoothing:
        return ce
    import tensorflow as tf

    uniform = -tf.reduce_mean(tf.nn.log_softmax(tf.cast(logits, tf.float32)), axis=-1)
    return (1.0 - smoothing) * ce + smoothing * uniform


def focal(y_true, logits, class_weights=None, ignore_label=IGNORE_LABEL, smoothing=0.0,
          gamma=2.0):
    """Focal loss (Lin et al., 2017) per example: easy pixels count less.

    FL_i = (1 - p_i)^gamma CE_i with p_i = softmax(logits_i)[y_i] = exp(-CE_i); averaged over
    the valid pixels with the class weights as in `cross_entropy`. gamma = 0 is cross-entropy.
    With label smoothing, CE_i is smoothed as in `cross_entropy`; p_i is not.

    Example:
        labels [[0, 1]], logits [[2, 0], [0, 0]], gamma 2: p = [0.881, 0.5],
        FL = [0.119^2 * 0.1269, 0.5^2 * 0.6931] = [0.0018, 0.1733]; loss = 0.0876.
    """
    import tensorflow as tf

    ce, safe, valid = _pixel_cross_entropy(y_true, logits, ignore_label)
    modulation = (1.0 - tf.exp(-ce)) ** gamma
    ce = _smoothed(ce, logits, smoothing)
    return _per_example_mean(modulation * ce, _pixel_weights(safe, valid, class_weights))


# OHEM's defaults: pixels whose true class has less than this probability are "hard", and at
# least this share of an example's pixels is kept (the hardest ones) however easy they are.
OHEM_THRESHOLD = 0.7
OHEM_MIN_KEPT = 0.25


def ohem(y_true, logits, class_weights=None, ignore_label=IGNORE_LABEL, smoothing=0.0,
         threshold=OHEM_THRESHOLD, min_kept=OHEM_MIN_KEPT):
    """Online hard example mining (Shrivastava et al., 2016; bootstrapped cross-entropy):
    cross-entropy over each example's hard pixels only.

    A valid pixel i is kept when p_i = softmax(logits_i)[y_i] < `threshold`; when fewer than
    `min_kept` (a share of the example's pixels, void included) are, the hardest valid pixels
    up to that count are kept instead (ties at the cut are all kept). The loss is
    `cross_entropy`'s weighted mean over the kept pixels. Easy pixels, most of a large class
    once learnt, stop diluting the gradient of the thin and rare ones. Which pixels are kept
    carries no gradient, and is decided before label smoothing (which smooths the kept
    pixels' cross-entropy).

    Example:
        labels [[0, 1, 1, 1]], logits [[2, 0], [0, 0], [0, 3], [0, 3]], threshold 0.7,
        min_kept 0.5: p = [0.881, 0.5, 0.953, 0.953]; only pixel 1 is under 0.7, fewer than
        the 2 pixels kept at least, so the two hardest are: CE [0.1269, 0.6931] ->
        loss 0.4100.
    """
    import tensorflow as tf

    ce, safe, valid = _pixel_cross_entropy(y_true, logits, ignore_label)
    hardness = tf.stop_gradient(ce)  # which pixels are kept carries no gradient
    # Void pixels rank below every valid one (-1 against a cross-entropy of 0 or more).
    flat = tf.reshape(hardness * valid - (1.0 - valid), [tf.shape(ce)[0], -1])
    if ce.shape[1:].is_fully_defined():
        count = max(1, math.ceil(min_kept * ce.shape[1:].num_elements()))
    else:
        pixels = tf.cast(tf.shape(flat)[1], tf.float32)
        count = tf.maximum(1, tf.cast(tf.math.ceil(min_kept * pixels), tf.int32))
    # The count-th largest loss of each example: the kept pixels reach at least down to it.
    cut = tf.reduce_min(tf.math.top_k(flat, k=count, sorted=False).values, axis=1)
    hard = -math.log(threshold) if threshold > 0 else math.inf  # CE above it: p under threshold
    cut = tf.minimum(cut, hard)[:, None, None]
    kept = tf.cast(hardness >= cut, tf.float32)
    ce = _smoothed(ce, logits, smoothing)
    return _per_example_mean(ce, _pixel_weights(safe, valid, class_weights) * kept)
