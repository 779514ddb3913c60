"""How a mask is shrunk with its image.

Nearest neighbour keeps the label under each output pixel's sample point, so whatever is
thinner than an output pixel is kept or dropped by where that point falls: CamVid's poles,
shrunk to 144x200, break into dashes (a model that reproduced such labels exactly would score
Pole 0.38 IoU at 360x480). The majority label keeps, for each output pixel, the class that
covers most of its footprint, as the area-shrunk image shows it (Pole 0.67 the same way).
Shares keep every class's share of the footprint as a soft target (`losses.share_cross_entropy`).
"""

import cv2
import numpy as np

LABEL_RESIZE = {
    "nearest": "the label at one point of each pixel's footprint: what is thinner than a "
               "pixel of the shrunk mask is kept or dropped by where that point falls",
    "majority": "the label that covers most of each pixel's footprint (void when void does), "
                "as the area-shrunk image shows it: thin structures stay whole lines",
    "shares": "each class's share of each pixel's footprint, trained as a soft target (loss "
              "ce only, no paste; images in memory; validation takes the majority)",
}
# The largest value of a class share in `label_shares` (uint8: 1/255 steps).
SHARE_SCALE = 255


def label_shares(mask, num_classes, size):
    """Each pixel's share of every class in its footprint, for a mask shrunk to size=(H, W).

    Channel `num_classes` holds void's share.

    Example:
        a 1-pixel line of class 1 across an 8x8 mask of class 0, shrunk to 4x4: the line's
        output pixels hold half of each class (128 of 255 each, rounded).

    Args:
        mask: uint8 [h, w] labels, void as any value from `num_classes` up.
        num_classes: C.
        size: (H, W) of the result.

    Returns:
        uint8 [H, W, C + 1] shares times `SHARE_SCALE`.
    """
    height, width = size
    labels = np.minimum(mask, num_classes)
    shares = np.zeros((height, width, num_classes + 1), np.uint8)
    for value in np.unique(labels):
        plane = cv2.resize((labels == value).astype(np.float32), (width, height),
                           interpolation=cv2.INTER_AREA)
        shares[..., value] = np.rint(plane * SHARE_SCALE).astype(np.uint8)
    return shares


def shrink_labels(mask, size, method="nearest"):
    """Resizes a label mask to size=(H, W).

    Args:
        mask: uint8 [h, w] labels (void as any value, e.g. 255).
        size: (H, W) of the result.
        method: a key of `LABEL_RESIZE`. "majority" (and "shares", whose labels here are
            the majority: validation's) applies where a side shrinks; an enlarged mask is
            resized by nearest neighbour either way.

    Returns:
        uint8 [H, W] labels.

    Example:
        a 2-pixel line of class 1 in columns 1-2 of a 6x6 mask of class 0, shrunk to 2x2:
        nearest neighbour samples columns 0 and 3 and drops the line; the majority label
        keeps it as output column 0, where it covers 2 of each footprint's 3 columns.
    """
    height, width = size
    if mask.shape[:2] == (height, width):
        return mask
    if method not in LABEL_RESIZE:
        raise ValueError(f"unknown label resize {method!r}")
    if method == "nearest" or (height >= mask.shape[0] and width >= mask.shape[1]):
        return cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
    best = np.full((height, width), -1.0, np.float32)
    labels = np.zeros((height, width), np.uint8)
    for value in np.unique(mask):
        share = cv2.resize((mask == value).astype(np.float32), (width, height),
                           interpolation=cv2.INTER_AREA)
        wins = share > best
        labels[wins], best[wins] = value, share[wins]
    return labels
