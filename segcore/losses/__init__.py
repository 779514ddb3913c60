"""Losses that ignore void pixels (label 255) and return one value per example.

Every loss has the signature fn(y_true int [B, H, W], logits [B, H, W, C]) -> float32 [B].
The training loop averages the per-example values over the global batch
(`tf.nn.compute_average_loss`), which keeps the gradient scale right under any number of
replicas. Within an example, each loss is a mean over its valid (non-void) pixels, so an
example with a few labelled pixels weighs as much as a fully labelled one; an example with no
valid pixel gives 0 (and zero gradients), never NaN.

The losses: per pixel in `pixel.py` (cross-entropy, focal, OHEM), per region in `region.py`
(Dice, Lovász-softmax); this module names them and builds the one a run asks for.
"""

import numpy as np

from segcore.data.classes import IGNORE_LABEL
from segcore.errors import ConfigError
from segcore.losses.pixel import (
    OHEM_MIN_KEPT,
    OHEM_THRESHOLD,
    cross_entropy,
    focal,
    ohem,
    share_cross_entropy,
)
from segcore.losses.region import ce_dice, ce_lovasz, lovasz_softmax, soft_dice

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
