"""Segmentation metrics from an int64 confusion matrix (rows: truth, columns: prediction).

Summing confusion matrices over batches and images gives exact dataset-level scores, which
averaging per-batch IoUs does not.
"""

import numpy as np


def confusion_matrix(y_true, y_pred, num_classes, ignore_index=None):
    """Counts (true class, predicted class) pairs.

    Args:
        y_true: integer labels, any shape.
        y_pred: integer predictions, same shape.
        num_classes: C; true labels outside 0..C-1 (void) are skipped.
        ignore_index: a true label to skip (e.g. 255 or CamVid's 11).

    Returns:
        int64 array [C, C]; `cm[i, j]` = pixels of true class i predicted as j.

    Example:
        >>> confusion_matrix([0, 0, 1, 255], [0, 1, 1, 0], 2, ignore_index=255)
        array([[1, 1],
               [0, 1]])
    """
    y_true = np.asarray(y_true).ravel().astype(np.int64)
    y_pred = np.asarray(y_pred).ravel().astype(np.int64)
    valid = (y_true >= 0) & (y_true < num_classes)
    if ignore_index is not None:
        valid &= y_true != ignore_index
    y_pred = np.clip(y_pred, 0, num_classes - 1)
    index = y_true[valid] * num_classes + y_pred[valid]
    return np.bincount(index, minlength=num_classes**2).reshape(num_classes, num_classes)


def confusion_matrix_tf(y_true, y_pred, num_classes, ignore_index=None):
    """`confusion_matrix` in TensorFlow ops, for use inside a `tf.function` (int64 [C, C])."""
    import tensorflow as tf

    y_true = tf.cast(tf.reshape(y_true, [-1]), tf.int64)
    y_pred = tf.cast(tf.reshape(y_pred, [-1]), tf.int64)
    valid = (y_true >= 0) & (y_true < num_classes)
    if ignore_index is not None:
        valid &= tf.not_equal(y_true, ignore_index)
    index = tf.boolean_mask(y_true * num_classes + y_pred, valid)
    counts = tf.math.bincount(
        index, minlength=num_classes**2, maxlength=num_classes**2, dtype=tf.int64
    )
    return tf.reshape(counts, (num_classes, num_classes))


def _ratio(numerator, denominator):
    """numerator / denominator, NaN where the denominator is 0 (undefined, not 0 or 1)."""
    numerator = numerator.astype(np.float64)
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _nanmean(values):
    values = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def scores(cm, class_names=None):
    """Computes the standard segmentation scores from a confusion matrix.

    With TP_c = cm[c, c], T_c = row sum (true pixels), P_c = column sum (predicted pixels):
    IoU_c = TP_c / (T_c + P_c - TP_c), Dice_c = 2 TP_c / (T_c + P_c), precision_c = TP_c / P_c,
    recall_c = TP_c / T_c. A class absent from both truth and prediction has IoU NaN and is
    left out of `mean_iou`; a class predicted but absent from truth has IoU 0 and counts.
    `fw_iou` = sum_c (T_c / sum T) IoU_c.

    Example: cm = [[3, 1], [0, 2]] gives IoU = [3/4, 2/3], mean_iou 0.7083,
    pixel_accuracy 5/6.

    Args:
        cm: int64 [C, C] confusion matrix.
        class_names: optional names, returned under "class_names".

    Returns:
        A dict of floats (`pixel_accuracy`, `mean_class_accuracy`, `mean_iou`, `fw_iou`) and
        per-class lists (`per_class_iou`, `per_class_dice`, `per_class_precision`,
        `per_class_recall`, `support`).
    """
    cm = np.asarray(cm, dtype=np.int64)
    true_pixels = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    hits = np.diag(cm)
    iou = _ratio(hits, true_pixels + predicted - hits)
    recall = _ratio(hits, true_pixels)
    total = true_pixels.sum()
    frequency = true_pixels / total if total else np.zeros(len(cm))
    result = {
        "pixel_accuracy": float(hits.sum() / total) if total else float("nan"),
        "mean_class_accuracy": _nanmean(recall),
        "mean_iou": _nanmean(iou),
        "fw_iou": float(np.nansum(frequency * iou)) if total else float("nan"),
        "per_class_iou": iou.tolist(),
        "per_class_dice": _ratio(2 * hits, true_pixels + predicted).tolist(),
        "per_class_precision": _ratio(hits, predicted).tolist(),
        "per_class_recall": recall.tolist(),
        "support": true_pixels.tolist(),
    }
    if class_names is not None:
        result["class_names"] = list(class_names)
    return result


def json_safe(value):
    """Replaces NaN by None throughout, since JSON has no NaN."""
    if isinstance(value, float):
        return None if np.isnan(value) else value
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return json_safe(value.item())
    return value
