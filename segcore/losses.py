"""Losses that ignore void pixels (label 255) and return one value per example.

Every loss has the signature fn(y_true int [B, H, W], logits [B, H, W, C]) -> float32 [B].
The training loop averages the per-example values over the global batch
(`tf.nn.compute_average_loss`), which keeps the gradient scale right under any number of
replicas. Within an example, each loss is a mean over its valid (non-void) pixels, so an
example with a few labelled pixels weighs as much as a fully labelled one; an example with no
valid pixel gives 0 (and zero gradients), never NaN.
"""

import math

import numpy as np

from segcore.data.classes import IGNORE_LABEL
from segcore.errors import ConfigError

# Guards the division by the sum of pixel weights of an all-void example (0 / eps = 0).
_EPS = 1e-6


def _prepare(y_true, logits, ignore_label):
    """float32 logits, labels with void replaced by 0 (safe to gather), float32 valid mask."""
    import tensorflow as tf

    y_true = tf.cast(y_true, tf.int32)
    valid = tf.not_equal(y_true, ignore_label)
    safe = tf.where(valid, y_true, tf.zeros_like(y_true))
    return tf.cast(logits, tf.float32), safe, tf.cast(valid, tf.float32)


def _pixel_cross_entropy(y_true, logits, ignore_label):
    """-log softmax(logits_i)[y_i] per pixel (void scored as class 0: weigh by `valid`),
    with `_prepare`'s labels and valid mask."""
    import tensorflow as tf

    logits, safe, valid = _prepare(y_true, logits, ignore_label)
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
    return numerator / tf.maximum(tf.reduce_sum(weights, axis=[1, 2]), _EPS)


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
    target = y_true[..., :-1] / tf.maximum(labelled, _EPS)[..., None]
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


def soft_dice(y_true, logits, class_weights=None, ignore_label=IGNORE_LABEL, smooth=1.0):
    """Soft Dice loss per example, over classes, with void pixels masked out of both sides.

    With p_ic = softmax(logits_i)[c] and g_ic = [y_i = c] on valid pixels only:
    Dice_c = (2 sum_i p_ic g_ic + s) / (sum_i p_ic + sum_i g_ic + s), s = `smooth` (in
    pixels), and loss = 1 - mean_c Dice_c (a class-weighted mean when weights are given).
    A class absent from an example scores s / (sum_i p_ic + s): predicting it is penalized.

    Example:
        labels [[0, 1]] predicted perfectly (probabilities 1 and 0): Dice = [(2+1)/(2+1),
        (2+1)/(2+1)] -> loss 0; predicting class 0 everywhere: Dice_0 = (2+1)/(3+1) = 0.75,
        Dice_1 = 1/2, loss = 1 - 0.625 = 0.375.
    """
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


def ce_dice(y_true, logits, class_weights=None, ignore_label=IGNORE_LABEL, smoothing=0.0):
    """Cross-entropy (class-weighted) plus unweighted soft Dice: sharp pixels, balanced areas.

    Dice is already insensitive to class frequency, so the weights apply to the CE term only.
    """
    return cross_entropy(y_true, logits, class_weights, ignore_label, smoothing) + soft_dice(
        y_true, logits, None, ignore_label
    )


def lovasz_softmax(y_true, logits, class_weights=None, ignore_label=IGNORE_LABEL):
    """Lovász-softmax loss (Berman et al., 2018) per example: a convex surrogate of 1 - IoU.

    For each class c present in the example (its valid pixels), the errors
    e_i = |[y_i = c] - p_ic| are sorted in decreasing order and weighted by the steps of the
    Jaccard loss along that order: loss_c = sum_k e_(k) (J_c(k) - J_c(k - 1)), with J_c(k) the
    Jaccard loss of the k largest errors counted as mistakes (the Lovász extension of
    1 - IoU_c). The loss is the mean over the classes present (a class-weighted mean when
    weights are given). Void pixels have error 0 and change nothing; an example with no valid
    pixel gives 0.

    Example:
        labels [[0, 1]] with probabilities [[0.8, 0.2], [0.4, 0.6]]: class 0 errors
        [0.2, 0.4] sort to [0.4 (g=0), 0.2 (g=1)], Jaccard steps [0.5, 0.5] -> 0.3; class 1
        errors [0.2, 0.4] sort to [0.4 (g=1), 0.2 (g=0)], steps [1, 0] -> 0.4; loss 0.35.
    """
    import tensorflow as tf

    logits, safe, valid = _prepare(y_true, logits, ignore_label)
    num_classes = logits.shape[-1]
    truth = tf.one_hot(safe, num_classes) * valid[..., None]
    errors = tf.abs(truth - tf.nn.softmax(logits)) * valid[..., None]
    batch = tf.shape(errors)[0]
    # [B, C, N]: one sort per example and class.
    errors = tf.transpose(tf.reshape(errors, [batch, -1, num_classes]), [0, 2, 1])
    truth = tf.transpose(tf.reshape(truth, [batch, -1, num_classes]), [0, 2, 1])
    errors, order = tf.math.top_k(errors, k=tf.shape(errors)[-1], sorted=True)
    truth = tf.gather(truth, order, batch_dims=2)
    totals = tf.reduce_sum(truth, axis=-1, keepdims=True)
    # The union is at least 1 from the first pixel on, so the ratio is always defined.
    jaccard = 1.0 - (totals - tf.cumsum(truth, axis=-1)) / (totals + tf.cumsum(1.0 - truth, axis=-1))
    steps = tf.concat([jaccard[..., :1], jaccard[..., 1:] - jaccard[..., :-1]], axis=-1)
    per_class = tf.reduce_sum(errors * tf.stop_gradient(steps), axis=-1)  # [B, C]
    present = tf.cast(totals[..., 0] > 0, tf.float32)
    if class_weights is not None:
        present = present * tf.constant(class_weights, tf.float32)
    return tf.reduce_sum(per_class * present, axis=-1) / tf.maximum(
        tf.reduce_sum(present, axis=-1), _EPS)


def ce_lovasz(y_true, logits, class_weights=None, ignore_label=IGNORE_LABEL, smoothing=0.0):
    """Cross-entropy (class-weighted) plus unweighted Lovász-softmax: pixels and IoU at once.

    Lovász-softmax averages over the classes present, so it already weighs a rare class as
    much as a common one; the weights apply to the CE term only.
    """
    return cross_entropy(y_true, logits, class_weights, ignore_label, smoothing) + lovasz_softmax(
        y_true, logits, None, ignore_label
    )


# One line each for the Train page's tooltip.
LOSS_HELP = {
    "ce": "cross-entropy, class-weighted when a weighting is chosen",
    "focal": "cross-entropy with easy pixels counting less (focal loss)",
    "ohem": f"cross-entropy over the hard pixels only (p < {OHEM_THRESHOLD:g}, at least the "
            f"hardest {OHEM_MIN_KEPT:.0%})",
    "dice": "soft Dice: every class's area weighs alike",
    "ce+dice": "cross-entropy plus soft Dice",
    "lovasz": "Lovász-softmax, a surrogate of 1 - IoU (sorts every pixel: slow on CPUs)",
    "ce+lovasz": "cross-entropy plus Lovász-softmax",
}

# The losses with a cross-entropy term, which label smoothing applies to.
SMOOTHABLE = ("ce", "focal", "ohem", "ce+dice", "ce+lovasz")

LOSSES = {
    "ce": cross_entropy,
    "focal": focal,
    "ohem": ohem,
    "dice": soft_dice,
    "ce+dice": ce_dice,
    "lovasz": lovasz_softmax,
    "ce+lovasz": ce_lovasz,
}


def build_loss(name, num_classes=None, class_weights=None, ignore_label=IGNORE_LABEL,
               smoothing=0.0):
    """Returns fn(y_true int [B, H, W], logits [B, H, W, C]) -> per-example loss float32 [B].

    Given class shares (float [B, H, W, C + 1], `--label-resize shares`) for y_true, the
    function is `share_cross_entropy` whatever the name (the config allows only "ce").

    Args:
        name: a key of `LOSSES` ("ce", "focal", "ohem", "dice", "ce+dice", "lovasz",
            "ce+lovasz").
        num_classes: C, to check `class_weights` against (optional).
        class_weights: float [C] from `segcore.class_weights.compute_class_weights`, or None.
        ignore_label: the void label (255) whose pixels are left out.
        smoothing: label smoothing of the cross-entropy term, in [0, 1) (losses of
            `SMOOTHABLE` only).

    Raises:
        ConfigError: an unknown name, class weights of the wrong length, or label smoothing
            for a loss with no cross-entropy term.
    """
    if name not in LOSSES:
        raise ConfigError(f"Unknown loss {name!r}; choose one of {', '.join(LOSSES)}.")
    check_smoothing(name, smoothing)
    if class_weights is not None:
        class_weights = np.asarray(class_weights, np.float32)
        if num_classes is not None and class_weights.shape != (num_classes,):
            raise ConfigError(
                f"Class weights have {class_weights.size} values for {num_classes} classes."
            )
    function = LOSSES[name]
    extra = {"smoothing": float(smoothing)} if smoothing else {}

    def loss(y_true, logits):
        if len(y_true.shape) == 4:  # class shares (`--label-resize shares`)
            return share_cross_entropy(y_true, logits, class_weights, **extra)
        return function(y_true, logits, class_weights, ignore_label, **extra)

    loss.__name__ = f"{name}_loss"
    return loss


def check_smoothing(name, smoothing):
    """Raises ConfigError when label smoothing is asked of a loss with no cross-entropy."""
    if smoothing and name not in SMOOTHABLE:
        raise ConfigError(
            f"--label-smoothing applies to the losses with a cross-entropy term "
            f"({', '.join(SMOOTHABLE)}), not to --loss {name}."
        )
