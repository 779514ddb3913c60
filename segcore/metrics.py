"""Segmentation metrics from an int64 confusion matrix (rows: truth, columns: prediction).

Summing confusion matrices over batches and images gives exact dataset-level scores, which
averaging per-batch or per-image IoUs does not.
"""

import numpy as np

# Pixels per bincount call: small enough that the int64 index of a chunk stays in cache and an
# 8192x8192 mask never needs a full-size int64 copy (0.5 s instead of 5 s, and MBs not GBs).
_CHUNK = 1 << 18


def confusion_matrix(y_true, y_pred, num_classes, ignore_index=None):
    """Counts (true class, predicted class) pairs with `np.bincount`.

    `cm[i, j]` = number of pixels whose true label is i and predicted label is j. Pixels whose
    true label is `ignore_index` or outside 0..C-1 (void, 255) are not counted at all, so they
    change neither the truth nor the prediction totals. Matrices of several batches add up.

    Args:
        y_true: integer labels, any shape (e.g. uint8 [H, W] or int32 [B, H, W]).
        y_pred: integer predictions of the same shape, in 0..C-1 where the truth is valid.
        num_classes: C.
        ignore_index: a further true label to skip (e.g. CamVid's 11 when it is kept as a label).

    Returns:
        int64 array [C, C].

    Raises:
        ValueError: shapes differ, or a counted pixel has a prediction outside 0..C-1.

    Example:
        >>> confusion_matrix([0, 0, 1, 255], [0, 1, 1, 0], 2, ignore_index=255)
        array([[1, 1],
               [0, 1]])
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    y_true, y_pred = y_true.reshape(-1), y_pred.reshape(-1)
    bins = num_classes * num_classes
    counts = np.zeros(bins + 1, np.int64)  # the last bin collects skipped pixels
    for start in range(0, y_true.size, _CHUNK):
        truth = y_true[start:start + _CHUNK].astype(np.intp)
        pred = y_pred[start:start + _CHUNK].astype(np.intp)
        valid = (truth >= 0) & (truth < num_classes)
        if ignore_index is not None:
            valid &= truth != ignore_index
        counted = pred[valid]
        if counted.size and (counted.min() < 0 or counted.max() >= num_classes):
            raise ValueError(f"predictions must lie in 0..{num_classes - 1}")
        index = truth * num_classes
        index += pred
        index[~valid] = bins
        counts += np.bincount(index, minlength=bins + 1)
    return counts[:bins].reshape(num_classes, num_classes)


def confusion_matrix_tf(y_true, y_pred, num_classes, ignore_index=None):
    """`confusion_matrix` in TensorFlow ops, for use inside a `tf.function`.

    Skipped pixels go to an extra bin instead of being removed with `boolean_mask`, so shapes
    stay static. Counting is done in int32 (a `bincount` kernel every device has), which
    holds up to 2**31 - 1 pixels per call (a batch of 32 images of 8192x8192); the result is
    cast to int64 so that matrices summed over a whole dataset cannot overflow. Predictions
    are assumed to lie in 0..C-1 (an argmax does); this function does not check them.

    Args:
        y_true, y_pred: integer tensors of the same shape.
        num_classes: C.
        ignore_index: a further true label to skip; labels outside 0..C-1 are always skipped.

    Returns:
        int64 tensor [C, C] (rows truth, columns prediction).
    """
    import tensorflow as tf

    y_true = tf.cast(tf.reshape(y_true, [-1]), tf.int32)
    y_pred = tf.cast(tf.reshape(y_pred, [-1]), tf.int32)
    valid = (y_true >= 0) & (y_true < num_classes)
    if ignore_index is not None:
        valid &= tf.not_equal(y_true, ignore_index)
    bins = num_classes * num_classes
    index = tf.where(valid, y_true * num_classes + y_pred, bins)
    counts = tf.math.bincount(index, minlength=bins + 1, maxlength=bins + 1, dtype=tf.int32)
    return tf.reshape(tf.cast(counts[:bins], tf.int64), (num_classes, num_classes))


def _ratio(numerator, denominator):
    """numerator / denominator, NaN where the denominator is 0 (undefined, not 0 or 1)."""
    numerator = np.asarray(numerator, dtype=np.float64)
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=np.asarray(denominator) > 0)
    return out


def _nanmean(values):
    values = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def scores(cm, class_names=None):
    """Computes the standard segmentation scores from a confusion matrix.

    With TP_c = cm[c, c], T_c = sum_j cm[c, j] (true pixels of c) and P_c = sum_i cm[i, c]
    (pixels predicted as c), N = sum_c T_c:

    - IoU_c = TP_c / (T_c + P_c - TP_c)
    - Dice_c = 2 TP_c / (T_c + P_c)
    - precision_c = TP_c / P_c, recall_c = TP_c / T_c (the class accuracy)
    - pixel_accuracy = sum_c TP_c / N
    - mean_iou = mean of IoU_c, mean_class_accuracy = mean of recall_c
    - fw_iou = sum_c (T_c / N) IoU_c (frequency-weighted by true pixels)

    A ratio whose denominator is 0 is NaN, not 0 or 1: a class absent from both truth and
    prediction has IoU and Dice NaN, and is left out of `mean_iou`; a class absent from the
    truth has recall NaN and is left out of `mean_class_accuracy`. A class predicted but absent
    from the truth has IoU 0 and does pull the mean down (it is a real error).

    Example:
        cm = [[3, 1, 0],
              [0, 2, 0],
              [0, 0, 0]]  (class 2 never occurs nor is predicted)
        T = [4, 2, 0], P = [3, 3, 0], TP = [3, 2, 0]
        IoU = [3 / (4 + 3 - 3), 2 / (2 + 3 - 2), NaN] = [0.75, 0.667, NaN]
        mean_iou = (0.75 + 0.667) / 2 = 0.708; pixel_accuracy = 5 / 6 = 0.833
        fw_iou = 4/6 * 0.75 + 2/6 * 0.667 = 0.722; mean_class_accuracy = (3/4 + 2/2) / 2 = 0.875

    Args:
        cm: [C, C] integer confusion matrix (rows truth, columns prediction).
        class_names: optional names, returned under "class_names".

    Returns:
        A dict of floats `pixel_accuracy`, `mean_class_accuracy`, `mean_iou`, `fw_iou` (NaN
        when the matrix is empty) and per-class lists in class order `per_class_iou`,
        `per_class_dice`, `per_class_precision`, `per_class_recall` (floats or NaN) and
        `support` (ints, T_c). `json_safe` turns the NaNs into nulls.
    """
    cm = np.asarray(cm, dtype=np.int64)
    true_pixels = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    hits = np.diag(cm)
    iou = _ratio(hits, true_pixels + predicted - hits)
    recall = _ratio(hits, true_pixels)
    total = int(true_pixels.sum())
    result = {
        "pixel_accuracy": float(hits.sum() / total) if total else float("nan"),
        "mean_class_accuracy": _nanmean(recall),
        "mean_iou": _nanmean(iou),
        # Every class with true pixels has a defined IoU, so only weight-0 terms are NaN.
        "fw_iou": float(np.nansum(true_pixels / total * iou)) if total else float("nan"),
        "per_class_iou": iou.tolist(),
        "per_class_dice": _ratio(2 * hits, true_pixels + predicted).tolist(),
        "per_class_precision": _ratio(hits, predicted).tolist(),
        "per_class_recall": recall.tolist(),
        "support": [int(v) for v in true_pixels],
    }
    if class_names is not None:
        result["class_names"] = list(class_names)
    return result


def json_safe(value):
    """Replaces NaN (and numpy scalars) throughout dicts and lists: JSON has no NaN."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return None if np.isnan(value) else value
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
