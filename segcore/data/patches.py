"""Native-resolution patches: where a training patch is taken from an image, and its padding.

Patch training keeps the images at their own size (or rescaled by `--scale`) and cuts a random
`--patch` window from each one per epoch, so a model sees the detail a whole-image resize throws
away. Every choice is a pure function of (seed, epoch, sample index), as the rest of the
pipeline, so an epoch replays exactly after a resume and the in-memory and streaming paths
give the same patches.
"""

import cv2
import numpy as np

from segcore.data.classes import IGNORE_LABEL
from segcore.data.shrink import shrink_labels

# A stream of its own, so patch positions never share random numbers with augmentation.
_PATCH_STREAM = 7_919


def rescale_pair(image, mask, scale, labels="nearest"):
    """Rescales image (area down, linear up) and mask (`shrink.shrink_labels` by `labels`)
    by `scale`; 1 keeps them.

    Args:
        image: (H, W, C) array.
        mask: (H, W) training labels.
        scale: factor applied to both sides.
        labels: how the mask shrinks ("nearest" or "majority").

    Returns:
        (image, mask) of size (round(H * scale), round(W * scale)), at least 1 pixel a side.
    """
    if abs(scale - 1.0) < 1e-9:
        return image, mask
    height, width = (max(1, round(side * scale)) for side in mask.shape[:2])
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (width, height), interpolation=interpolation)
    if resized.ndim == 2:  # cv2 drops a single channel
        resized = resized[..., None]
    return resized, shrink_labels(mask, (height, width), labels)


def pad_to_patch(image, mask, patch):
    """Pads an image smaller than the patch at its bottom and right: zeros, and void in the mask.

    Void padding is left out of the loss and the scores, so a small image trains on its own
    pixels only.

    Returns:
        (image, mask) at least `patch` in each side.
    """
    pad_h, pad_w = max(0, patch[0] - mask.shape[0]), max(0, patch[1] - mask.shape[1])
    if not pad_h and not pad_w:
        return image, mask
    image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)))
    mask = np.pad(mask, ((0, pad_h), (0, pad_w)), constant_values=IGNORE_LABEL)
    return image, mask


def patch_origin(mask, patch, rng, oversample=0.0):
    """The top-left corner of one patch in a mask at least `patch` large.

    With probability `oversample` the patch is centred (as far as the borders allow) on a pixel
    of one class drawn uniformly among the classes present in the mask: a class covering 0.1%
    of an image is then picked as often as its background, which raises the share of rare-class
    pixels in training (nnU-Net samples a third of its patches around foreground this way).
    Otherwise the corner is uniform over the image.

    Args:
        mask: (H, W) training labels (void 255 is never a centre).
        patch: (h, w).
        rng: a `numpy.random.Generator`.
        oversample: share of patches centred on a class, in [0, 1].

    Returns:
        (top, left) ints.
    """
    height, width = mask.shape[:2]
    max_top, max_left = height - patch[0], width - patch[1]
    draw_class, draw_top, draw_left = rng.random(3)
    if oversample > 0 and draw_class < oversample:
        counts = np.bincount(np.asarray(mask).ravel(), minlength=256)
        present = np.flatnonzero(counts[:IGNORE_LABEL])
        if len(present):
            label = present[min(int(draw_top * len(present)), len(present) - 1)]
            places = np.flatnonzero(np.asarray(mask).ravel() == label)
            y, x = divmod(int(places[min(int(draw_left * len(places)), len(places) - 1)]), width)
            top = min(max(0, y - patch[0] // 2), max_top)
            left = min(max(0, x - patch[1] // 2), max_left)
            return top, left
    return int(draw_top * (max_top + 1)), int(draw_left * (max_left + 1))


def sample_patch(image, mask, patch, seed, epoch, index, oversample=0.0):
    """One training patch of a sample: a pure function of (seed, epoch, index).

    Args:
        image: (H, W, C) array (uint8 or float32; a read-only memory map is fine: only the
            patch's rows are read and copied).
        mask: (H, W) uint8 training labels.
        patch: (h, w).
        seed, epoch, index: fix the position.
        oversample: share of patches centred on a class present (see `patch_origin`).

    Returns:
        (image patch (h, w, C), mask patch (h, w)), fresh arrays.
    """
    rng = np.random.default_rng([int(seed), int(epoch), int(index), _PATCH_STREAM])
    if mask.shape[0] < patch[0] or mask.shape[1] < patch[1]:
        image, mask = pad_to_patch(np.asarray(image), np.asarray(mask), patch)
    top, left = patch_origin(mask, patch, rng, oversample)
    window = (slice(top, top + patch[0]), slice(left, left + patch[1]))
    return np.array(image[window]), np.array(mask[window])


__all__ = ["pad_to_patch", "patch_origin", "rescale_pair", "sample_patch"]
