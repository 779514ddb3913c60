"""What prediction shows and writes: class colours, overlays, error maps, output names."""

from collections import Counter
from pathlib import Path

import numpy as np

from segcore.data.classes import IGNORE_LABEL


def palette(class_map):
    """uint8 [256, 3]: colour of each training label; void in its colour (or black)."""
    table = np.zeros((256, 3), dtype=np.uint8)
    table[: class_map.num_classes] = np.array(class_map.colors, dtype=np.uint8)
    table[IGNORE_LABEL] = class_map.void_color or (0, 0, 0)
    return table


def colorize(labels, class_map):
    """Colours a label map with the class colours: uint8 (H, W, 3)."""
    return palette(class_map)[labels]


def to_uint8(image):
    if image.ndim == 3 and image.shape[-1] != 3:  # bands: the default picture of them
        from segcore.data.band_view import picture

        return picture(image)
    if image.dtype == np.uint8:
        return image
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def overlay(image, labels, class_map, alpha=0.5):
    """Blends class colours over an image: uint8 (H, W, 3). alpha=0 shows the image only."""
    base = to_uint8(image).astype(np.float32)
    colours = colorize(labels, class_map).astype(np.float32)
    return (base * (1 - alpha) + colours * alpha + 0.5).astype(np.uint8)


def error_map(prediction, truth, ignore_label=IGNORE_LABEL):
    """Right pixels grey, wrong pixels red, void black: uint8 (H, W, 3)."""
    out = np.full((*truth.shape, 3), 90, dtype=np.uint8)
    out[prediction != truth] = (230, 30, 30)
    out[truth == ignore_label] = (0, 0, 0)
    return out


def output_stems(names):
    """One output stem per input name, so no prediction overwrites another.

    A name's own stem when no other input shares it (`a.png` -> `a`), else the stem with its
    extension (`a.png`, `a.jpg` -> `a_png`, `a_jpg`); a counter settles what still clashes
    (compared without case, for case-insensitive disks).

    Returns:
        A list of stems in the order of `names`.
    """
    paths = [Path(str(n)) for n in names]
    shared = Counter(p.stem.lower() for p in paths)
    stems, taken = [], set()
    for p in paths:
        stem = p.stem if shared[p.stem.lower()] == 1 else f"{p.stem}_{p.suffix.lstrip('.')}"
        candidate, count = stem, 1
        while candidate.lower() in taken:
            count += 1
            candidate = f"{stem}_{count}"
        taken.add(candidate.lower())
        stems.append(candidate)
    return stems
