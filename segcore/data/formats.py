"""Reading images and masks from disk or bytes, with the header checked before any decoding.

Images come back as float32 RGB in [0, 1] (gray replicated, alpha dropped, 16-bit scaled);
masks come back as uint8 training labels through a `ClassMap` (255 = void).
"""

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from segcore.data.classes import ClassMap
from segcore.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
MASK_EXTENSIONS = (".png", ".bmp", ".tif", ".tiff")

# PIL's own bomb check raises its own error type; segcore checks the header itself.
Image.MAX_IMAGE_PIXELS = None


def max_pixels():
    """The pixel cap (decompression-bomb guard): 100 MP unless `SEGCORE_MAX_PIXELS` says."""
    return int(os.environ.get("SEGCORE_MAX_PIXELS", 100_000_000))


def is_image_name(name):
    return Path(str(name)).suffix.lower() in IMAGE_EXTENSIONS


def _label(source, name):
    return name or str(source)


def _open(source, name=None):
    """Opens an image lazily (header only) and checks its size against the pixel cap."""
    label = _label(source, name)
    try:
        if isinstance(source, (bytes, bytearray)):
            if not source:
                raise DataError(f"{label}: the file is empty (0 bytes).")
            handle = Image.open(io.BytesIO(source))
        else:
            path = Path(source)
            if path.stat().st_size == 0:
                raise DataError(f"{label}: the file is empty (0 bytes).")
            handle = Image.open(path)
    except FileNotFoundError:
        raise DataError(f"{label}: file not found.") from None
    except UnidentifiedImageError:
        raise DataError(f"{label}: not an image file (the content is not PNG, JPEG, TIFF or BMP).") from None
    except OSError as error:
        raise DataError(f"{label}: cannot read the file ({error}).") from None
    width, height = handle.size
    if width * height > max_pixels():
        handle.close()
        raise DataError(
            f"{label}: the image is {width}x{height} pixels, over the {max_pixels():,}-pixel cap "
            "(raise SEGCORE_MAX_PIXELS if it is genuine)."
        )
    if width == 0 or height == 0:
        raise DataError(f"{label}: the image has no pixels.")
    return handle


def image_shape(source, name=None):
    """Returns (height, width) read from the file header, without decoding the pixels."""
    with _open(source, name) as handle:
        width, height = handle.size
    return height, width


def _decode(source, name=None, transpose=True):
    """Decodes an image fully, turning truncation and corruption into DataError."""
    label = _label(source, name)
    handle = _open(source, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            handle.load()
        if transpose:
            handle = ImageOps.exif_transpose(handle)
        return handle
    except (OSError, SyntaxError, ValueError) as error:
        raise DataError(f"{label}: the image is truncated or corrupt ({error}).") from None


def _to_float_rgb(array):
    """Converts any decoded pixel array to float32 (H, W, 3) in [0, 1]."""
    if array.dtype == np.uint8:
        scaled = array.astype(np.float32) / 255.0
    elif array.dtype in (np.uint16, np.int32, np.uint32, np.int16):
        maximum = 65535.0 if array.dtype != np.uint32 else float(max(array.max(), 1))
        scaled = array.astype(np.float32) / maximum
    elif array.dtype == bool:
        scaled = array.astype(np.float32)
    else:
        scaled = array.astype(np.float32)
        high = float(scaled.max()) if scaled.size else 1.0
        scaled = scaled / high if high > 1.0 else scaled
    if scaled.ndim == 2:
        scaled = scaled[..., None]
    channels = scaled.shape[-1]
    if channels == 1:
        scaled = np.repeat(scaled, 3, axis=-1)
    elif channels == 2:
        scaled = np.repeat(scaled[..., :1], 3, axis=-1)
    elif channels >= 4:
        scaled = scaled[..., :3]
    return np.ascontiguousarray(np.clip(scaled, 0.0, 1.0), dtype=np.float32)


def _pixels(handle):
    """Returns the pixel array of a decoded PIL image, keeping 16-bit depth."""
    if handle.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(handle, dtype=np.uint16)
    if handle.mode == "I":
        array = np.asarray(handle, dtype=np.int32)
        return array.astype(np.uint16) if array.max() <= 65535 else array
    if handle.mode == "P":
        return np.asarray(handle.convert("RGBA" if "transparency" in handle.info else "RGB"))
    if handle.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        return np.asarray(handle.convert("RGB"))
    if handle.mode == "1":
        return np.asarray(handle.convert("L"))
    return np.asarray(handle)


def _read_tiff_16(source):
    """Reads TIFFs with tifffile, which keeps 16-bit RGB that PIL cannot."""
    import tifffile

    data = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else str(source)
    array = tifffile.imread(data)
    if array.ndim == 3 and array.shape[0] in (3, 4) and array.shape[-1] not in (3, 4):
        array = np.moveaxis(array, 0, -1)
    return array


def read_image(source, name=None):
    """Reads an image as float32 RGB in [0, 1].

    Args:
        source: a path, or the file's bytes.
        name: the name used in messages when `source` is bytes.

    Returns:
        A float32 array of shape (H, W, 3).

    Raises:
        DataError: the file is empty, not an image, truncated, or over the pixel cap.
    """
    label = _label(source, name)
    suffix = Path(name or str(source) if not isinstance(source, bytes) else name or "").suffix
    if suffix.lower() in (".tif", ".tiff"):
        image_shape(source, name)
        try:
            return _to_float_rgb(_read_tiff_16(source))
        except DataError:
            raise
        except Exception as error:  # tifffile raises many types for broken files
            raise DataError(f"{label}: the TIFF image is truncated or corrupt ({error}).") from None
    return _to_float_rgb(_pixels(_decode(source, name)))


def read_image_uint8(source, name=None):
    """Reads an image as uint8 RGB (H, W, 3): a quarter of the memory, for huge inputs."""
    image = _decode(source, name)
    if image.mode != "RGB":
        if image.mode.startswith("I"):
            return (read_image(source, name) * 255.0 + 0.5).astype(np.uint8)
        image = image.convert("RGB")
    return np.asarray(image)


def read_raw_mask(source, name=None):
    """Reads a mask's raw values: (H, W) for index/gray masks, (H, W, 3) for colour masks.

    Palette (mode P) masks give their indices, not the palette colours. EXIF orientation is
    honoured, like for images, so a mask stays aligned with its image.
    """
    label = _label(source, name)
    handle = _decode(source, name)
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
    return raw_to_labels(read_raw_mask(source, name), class_map, _label(source, name))
