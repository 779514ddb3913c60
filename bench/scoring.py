"""One full-resolution scorer for every contender, so comparisons are of training only."""

import numpy as np

from segcore.metrics import confusion_matrix, scores


def score_predictions(truths, predictions, num_classes, ignore_index=None):
    """Sums the confusion matrix over image pairs and returns the headline scores.

    Args:
        truths: label arrays at full resolution.
        predictions: predicted labels of the same shapes.
        num_classes: classes scored.
        ignore_index: the void value in `truths`, left out of every count.
    """
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    for truth, prediction in zip(truths, predictions):
        cm += confusion_matrix(truth, prediction, num_classes, ignore_index=ignore_index)
    result = scores(cm)
    return {
        "mean_iou": result["mean_iou"],
        "pixel_accuracy": result["pixel_accuracy"],
        "per_class_iou": result["per_class_iou"],
    }
