"""Fitting the prior correction's share to the run, from its own training batches.

The share of the log class weights that `PriorCorrection` takes off the logits trades rare
classes' misses against their false alarms, and the best trade depends on the data and on
how long the model trained (CamVid val: 0.5 and 0.75 tie after 15 minutes at half size, 0.75
is best after 60 minutes at full size; bench/RESULTS.md). With `--prior-fit train` every
training step also counts, for each share of `SHARES`, the confusion matrix its corrected
argmax would give on a grid of that step's pixels (the logits the step computes anyway: no
extra model call), and each epoch
ends by putting in force the share whose matrices score the best mean IoU. Validation, and so
the choice of `best.keras`, then sees the fitted share; the validation set never chooses it.
The share in force is part of the checkpoint's loop state; the counts are not, so a run
resumed mid-epoch fits that epoch's share on the steps after the resume.
"""

import logging

import numpy as np

from segcore.class_weights import correction_bias
from segcore.data.classes import IGNORE_LABEL
from segcore.metrics import confusion_matrix_tf, scores

log = logging.getLogger("segcore.train")

# The shares tried: eighths from none (predict as trained) to all (as if trained unweighted).
SHARES = tuple(i / 8 for i in range(9))
# Every SAMPLE-th pixel along each axis is counted: over every pixel of a 4x360x480x11 batch,
# the counts cost 0.37 s against 0.03 s over 1/16 of them (two busy cores; ReSeg's step there
# is about 0.9 s), and a CamVid epoch still counts 3.9 million pixels.
SAMPLE = 4
FITS = ("fixed", "train")


def share_confusions(masks, logits, unit_bias, num_classes):
    """int64 [len(SHARES), C, C]: the batch's confusion matrices under each share, counted on
    every `SAMPLE`-th pixel along each axis (in a tf.function).

    Args:
        masks: int labels [B, H, W] (void `IGNORE_LABEL`).
        logits: the uncorrected logits [B, H, W, C] (training mode).
        unit_bias: log(w_c) per class (`class_weights.correction_bias(weights, 1.0)`).
        num_classes: C.
    """
    import tensorflow as tf

    masks = masks[:, ::SAMPLE, ::SAMPLE]
    logits = tf.cast(logits[:, ::SAMPLE, ::SAMPLE], tf.float32)
    unit = tf.constant(unit_bias, tf.float32)
    return tf.stack([
        confusion_matrix_tf(masks, tf.argmax(logits - share * unit, axis=-1, output_type=tf.int32),
                            num_classes, IGNORE_LABEL)
        for share in SHARES])


def best_share(confusions):
    """The share whose confusion matrix has the best mean IoU; None when nothing was counted.

    Ties go to the smaller share (the less the prediction departs from training).

    Example: matrices where share 0.75 scores 0.64 and every other share less -> 0.75.
    """
    confusions = np.asarray(confusions)
    if confusions.sum() == 0:
        return None
    means = [scores(cm)["mean_iou"] for cm in confusions]
    means = [m if np.isfinite(m) else -1.0 for m in means]
    return SHARES[int(np.argmax(means))]


def set_correction(model, bias):
    """Puts `bias` in force in the model's `prior_correction` layer; False if it has none.

    The bias is a constant of the layer (its config): a function that called the model
    before holds the old one until it is traced again.
    """
    try:
        layer = model.get_layer("prior_correction")
    except ValueError:
        return False
    layer.bias = [float(b) for b in bias]
    return True


class ShareFit:
    """`--prior-fit train` over one run: counts each step's matrices, fits the share per epoch.

    Args:
        model: the run's model (built with a `prior_correction` layer).
        class_weights: the run's class weights; the unit bias is their log.
        num_classes: C.
    """

    def __init__(self, model, class_weights, num_classes):
        self.model = model
        self.unit_bias = correction_bias(class_weights, 1.0)
        self.num_classes = num_classes
        self.counts = None  # this epoch's confusion matrices under each share

    def step_counts(self, masks, logits):
        """The step's matrices under each share (inside the step's tf.function)."""
        return share_confusions(masks, logits, self.unit_bias, self.num_classes)

    def add(self, pending):
        """Adds the steps' matrices (tensors) to the epoch's; empties the list."""
        if pending:
            total = np.sum([np.asarray(c, np.int64) for c in pending], axis=0)
            self.counts = total if self.counts is None else self.counts + total
            pending.clear()

    def put(self, share):
        """Puts `share` of the unit bias in force in the model."""
        set_correction(self.model, [share * u for u in self.unit_bias])

    def fit(self, current):
        """Ends the epoch: the share its steps scored best with, when it differs from
        `current` (else None); the counts start again."""
        share = best_share(self.counts) if self.counts is not None else None
        self.counts = None
        if share is None or share == current:
            return None
        log.info("prior correction: share %g (fitted on the epoch's training batches)", share)
        return share
