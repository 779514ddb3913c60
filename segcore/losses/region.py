"""Region losses: soft Dice and Lovász-softmax, which weigh every class's area alike, alone or
added to the pixel cross-entropy (`segcore.losses.pixel`)."""

from segcore.data.classes import IGNORE_LABEL
from segcore.losses.pixel import EPS, cross_entropy, prepare


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

    logits, safe, valid = prepare(y_true, logits, ignore_label)
    num_classes = logits.shape[-1]
    probs = tf.nn.softmax(logits) * valid[..., None]
    truth = tf.one_hot(safe, num_classes) * valid[..., None]
    intersection = tf.reduce_sum(probs * truth, axis=[1, 2])
    sizes = tf.reduce_sum(probs, axis=[1, 2]) + tf.reduce_sum(truth, axis=[1, 2])
    dice = (2.0 * intersection + smooth) / (sizes + smooth)
    if class_weights is None:
        return 1.0 - tf.reduce_mean(dice, axis=-1)
    weights = tf.constant(class_weights, tf.float32)
    return 1.0 - tf.reduce_sum(dice * weights, axis=-1) / tf.maximum(tf.reduce_sum(weights), EPS)


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

    logits, safe, valid = prepare(y_true, logits, ignore_label)
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
        tf.reduce_sum(present, axis=-1), EPS)


def ce_lovasz(y_true, logits, class_weights=None, ignore_label=IGNORE_LABEL, smoothing=0.0):
    """Cross-entropy (class-weighted) plus unweighted Lovász-softmax: pixels and IoU at once.

    Lovász-softmax averages over the classes present, so it already weighs a rare class as
    much as a common one; the weights apply to the CE term only.
    """
    return cross_entropy(y_true, logits, class_weights, ignore_label, smoothing) + lovasz_softmax(
        y_true, logits, None, ignore_label
    )
