"""Reading masks: raw values, then uint8 training labels through a `ClassMap` (255 = void).

Masks go through the image decoder of `segcore.data.formats` (header checked before any
decoding, EXIF orientation honoured), so a mask stays aligned with its image; `read_pair`
reads an image and its mask together and checks that their sizes agree.
"""

from pathlib import Path

import numpy as np

from segcore.data.classes import ClassMap
from segcore.data.formats import decode_image, read_pixels, source_label, turned_by_exif
from segcore.errors import DataError


def read_raw_mask(source, name=None):
    """Reads a mask's raw values: (H, W) for index/gray masks, (H, W, 3) for colour masks.

    Palette (mode P) masks give their indices, not the palette colours. EXIF orientation is
    honoured, like for images, so a mask stays aligned with its image. A source with a
    `read_raw()` method (a COCO image's annotations, a Cityscapes labelIds file) reads itself:
    see `segcore.data.readers`.
    """
    if hasattr(source, "read_raw"):
        return source.read_raw()
    label = source_label(source, name)
    handle = decode_image(source, name)
    mode = handle.mode
    if mode in ("L", "P", "1"):
        return np.asarray(handle if mode != "1" else handle.convert("L"), dtype=np.uint8)
    if mode in ("RGB", "RGBA"):
        array = np.asarray(handle)[..., :3]
        if np.array_equal(array[..., 0], array[..., 1]) and np.array_equal(
            array[..., 0], array[..., 2]
        ):
            return np.ascontiguousarray(array[..., 0])
        return np.ascontiguousarray(array)
    if mode in ("LA",):
        return np.asarray(handle)[..., 0].copy()
    if mode.startswith("I"):
        array = np.asarray(handle).astype(np.int64)
        if array.max() > 255 or array.min() < 0:
            raise DataError(
                f"{label}: mask values go up to {int(array.max())}; class-index masks hold 0..255."
            )
        return array.astype(np.uint8)
    raise DataError(f"{label}: unsupported mask mode {mode}; use an 8-bit gray, palette or RGB PNG.")


def raw_to_labels(raw, class_map: ClassMap, name="mask"):
    """Maps raw mask values (or RGB colours) to training labels, rejecting unknown ones."""
    if raw.ndim == 3:
        return _colors_to_labels(raw, class_map, name)
    present = np.flatnonzero(np.bincount(raw.ravel(), minlength=256))
    unknown = class_map.undeclared_values(present)
    if unknown:
        shown = ", ".join(str(v) for v in unknown[:8]) + (" ..." if len(unknown) > 8 else "")
        raise DataError(
            f"{name}: mask values {shown} are not among the declared classes "
            f"(values {class_map.values}"
            + (f", void {class_map.ignore_value}" if class_map.ignore_value is not None else "")
            + ")."
        )
    return class_map.lookup_table()[raw]


def _colors_to_labels(raw, class_map, name):
    clash = class_map.color_clash()
    if clash:
        raise DataError(
            f"{name}: an RGB colour mask needs one colour per class, but {clash} in the class "
            "map; give each class (and void) its own colour in the class file."
        )
    codes = (raw[..., 0].astype(np.int64) << 16) | (raw[..., 1].astype(np.int64) << 8) | raw[..., 2]
    labels = np.full(codes.shape, 255, dtype=np.uint8)
    known = np.zeros(codes.shape, dtype=bool)
    for label, (r, g, b) in enumerate(class_map.colors):
        hit = codes == ((r << 16) | (g << 8) | b)
        labels[hit] = label
        known |= hit
    if class_map.void_color is not None:
        r, g, b = class_map.void_color
        known |= codes == ((r << 16) | (g << 8) | b)
    if not known.all():
        unknown = np.unique(codes[~known])[:5]
        shown = ", ".join(f"({c >> 16},{(c >> 8) & 255},{c & 255})" for c in unknown)
        raise DataError(f"{name}: colours {shown} are not in the class palette.")
    return labels


def read_mask(source, class_map, name=None):
    """Reads a mask as uint8 training labels (255 = void).

    Raises:
        DataError: unreadable file, undeclared values or off-palette colours (naming them).
    """
    return raw_to_labels(read_raw_mask(source, name), class_map, source_label(source, name))


def read_pair(image_source, mask_source, spec=None):
    """Reads an image and its raw mask, checking that they have the same size as shown.

    The data doctor and training's loader both read pairs here, so check-data accepts exactly
    what training will (one decoder, one EXIF rule, one channel rule).

    Args:
        image_source, mask_source: paths.
        spec: the dataset's `segcore.data.channels.InputSpec` (how its images are read);
            None reads the image's own channels, scaled by its type's range.

    Returns:
        (float32 image (H, W, C), raw mask (H, W) or (H, W, 3)), see `read_raw_mask`.

    Raises:
        DataError: either file is unreadable, or their sizes differ.
    """
    from segcore.data.channels import read_input, to_float

    image = (read_input(image_source, spec) if spec is not None
             else to_float(read_pixels(image_source), str(image_source)))
    raw = read_raw_mask(mask_source)
    if raw.shape[:2] != image.shape[:2]:
        message = (
            f"{mask_source}: mask is {raw.shape[1]}x{raw.shape[0]} but its image "
            f"{Path(image_source).name} is {image.shape[1]}x{image.shape[0]}"
        )
        if raw.shape[:2] == image.shape[1::-1] and turned_by_exif(image_source):
            message += (
                " once turned by its EXIF orientation; turn the mask to match the image as "
                "shown, or remove the image's orientation tag"
            )
        raise DataError(message + ".")
    return image, raw
