"""Reading images and masks from disk or bytes, with the header checked before any decoding.

`read_image` gives float32 RGB in [0, 1] (gray replicated, alpha dropped, 16-bit scaled), the
input of RGB datasets; `read_pixels` gives any image's own pixels (1..N channels, 8/16/32-bit or
float), which `segcore.data.channels` reads for datasets kept at their own channel count.
Masks are read in `segcore.data.masks`, with the same decoder and header checks.
"""

import io
import os
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from segcore.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
MASK_EXTENSIONS = (".png", ".bmp", ".tif", ".tiff")

# PIL's own bomb check raises its own error type; segcore checks the header itself.
Image.MAX_IMAGE_PIXELS = None
_ORIENTATION = 0x0112  # the EXIF (and TIFF) orientation tag
_TURNS_SIDES = (5, 6, 7, 8)  # orientations that swap width and height


def max_pixels():
    """The pixel cap (decompression-bomb guard): 100 MP unless `SEGCORE_MAX_PIXELS` says."""
    return int(os.environ.get("SEGCORE_MAX_PIXELS", 100_000_000))


def is_image_name(name):
    return Path(str(name)).suffix.lower() in IMAGE_EXTENSIONS


def source_label(source, name):
    """How messages name a source: the given name, else the path."""
    return name or str(source)


def _starts_like_tiff(source):
    if isinstance(source, (bytes, bytearray)):
        head = bytes(source[:4])
    else:
        with open(source, "rb") as handle:
            head = handle.read(4)
    return head in (b"II*\x00", b"MM\x00*")


class UnreadableTiff(DataError):
    """A TIFF that Pillow cannot open (e.g. more than 4 samples per pixel): tifffile reads it."""


def _open(source, name=None):
    """Opens an image lazily (header only) and checks its size against the pixel cap."""
    label = source_label(source, name)
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
        if _starts_like_tiff(source):
            raise UnreadableTiff(
                f"{label}: a TIFF whose layout cannot be read as one image (e.g. more than 4 "
                "channels per pixel or an unusual sample format); save it as gray, RGB or RGBA."
            ) from None
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
    if handle.format == "TIFF":
        try:
            pages = handle.n_frames
        except (OSError, ValueError, EOFError, SyntaxError):
            pages = 1  # a broken chain of pages shows as corruption when decoding
        if pages > 1:
            handle.close()
            raise DataError(
                f"{label}: a multi-page TIFF ({pages} pages) is not one image; save each page "
                "as its own file (or, when the pages are the bands of one image, save them as "
                "one page with a sample per band, e.g. tifffile's photometric='minisblack', "
                "planarconfig='contig')."
            )
    return handle


def _png_without_exif(handle):
    """True for a PNG with no eXIf chunk, found by walking the chunk headers.

    Pillow's PNG `getexif` decodes every pixel when the chunk was not seen before the image
    data (it may follow it), which made reading the headers of a folder of large PNGs cost as
    much as decoding them; seeking from chunk to chunk costs a few reads.
    """
    if handle.format != "PNG" or "exif" in handle.info:
        return False
    stream = getattr(handle, "fp", None)
    if stream is None:
        return False
    position = stream.tell()
    try:
        stream.seek(8)  # the signature
        while True:
            head = stream.read(8)
            if len(head) < 8:
                return True  # no IEND: a truncated file; decoding will say so
            length, kind = struct.unpack(">I4s", head)
            if kind == b"eXIf":
                return False
            if kind == b"IEND":
                return True
            stream.seek(length + 4, os.SEEK_CUR)  # the data and its CRC
    except (OSError, struct.error):
        return False
    finally:
        stream.seek(position)


def _orientation(handle, label):
    """The EXIF orientation (1..8; 1 = as stored), read from the header."""
    if _png_without_exif(handle):
        return 1
    try:
        value = handle.getexif().get(_ORIENTATION, 1)
    except (OSError, ValueError, SyntaxError, TypeError, struct.error) as error:
        raise DataError(f"{label}: the image's EXIF block is corrupt ({error}).") from None
    return value if value in range(1, 9) else 1


def _shown_size(handle, label):
    """(width, height) as shown, i.e. after the EXIF orientation, without decoding."""
    width, height = handle.size
    # Pillow reports a TIFF's size already turned by its orientation tag (and turns the
    # pixels on load); other formats are turned by exif_transpose after decoding.
    if handle.format != "TIFF" and _orientation(handle, label) in _TURNS_SIDES:
        return height, width
    return width, height


def image_shape(source, name=None):
    """Returns (height, width) as shown (EXIF orientation applied), without decoding the pixels."""
    label = source_label(source, name)
    try:
        with _open(source, name) as handle:
            width, height = _shown_size(handle, label)
    except UnreadableTiff as refusal:
        from segcore.data.tiff import tiff_header

        return tiff_header(source, label, refusal)[:2]
    return height, width


def turned_by_exif(source, name=None):
    """Whether the image's EXIF orientation swaps its width and height."""
    label = source_label(source, name)
    with _open(source, name) as handle:
        return handle.size != _shown_size(handle, label) or (
            handle.format == "TIFF" and _orientation(handle, label) in _TURNS_SIDES
        )


def decode_image(source, name=None, transpose=True):
    """Decodes an image fully, turning truncation and corruption into DataError."""
    label = source_label(source, name)
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


def _to_float_rgb(array, label="image"):
    """Converts a decoded pixel array of 1..4 channels to float32 (H, W, 3) in [0, 1]."""
    if array.ndim == 3 and array.shape[-1] > 4:
        raise DataError(
            f"{label}: the image has {array.shape[-1]} channels per pixel, so it is no RGB "
            "picture; a dataset of such images trains at its own channel count."
        )
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


def read_pixels(source, name=None):
    """Reads an image's own pixels: every channel, in the file's own type, as shown.

    Args:
        source: a path, or the file's bytes.
        name: the name used in messages when `source` is bytes.

    Returns:
        An array (H, W) or (H, W, C) of uint8, uint16, int32 or float (palette images give
        their RGB(A) colours).

    Raises:
        DataError: the file is empty, not an image, truncated, or over the pixel cap.
    """
    label = source_label(source, name)
    suffix = Path(name or str(source) if not isinstance(source, bytes) else name or "").suffix
    if suffix.lower() in (".tif", ".tiff"):
        from segcore.data.tiff import read_tiff

        image_shape(source, name)
        try:
            return read_tiff(source, label)
        except DataError:
            raise
        except Exception as error:  # tifffile raises many types for broken files
            raise DataError(f"{label}: the TIFF image is truncated or corrupt ({error}).") from None
    return _pixels(decode_image(source, name))


def read_image(source, name=None):
    """Reads an image as float32 RGB in [0, 1].

    Args:
        source: a path, or the file's bytes.
        name: the name used in messages when `source` is bytes.

    Returns:
        A float32 array of shape (H, W, 3).

    Raises:
        DataError: the file is empty, not an image, truncated, over the pixel cap, or has
            more than 4 channels.
    """
    return _to_float_rgb(read_pixels(source, name), source_label(source, name))


def read_image_uint8(source, name=None):
    """Reads an image as uint8 RGB (H, W, 3): a quarter of the memory, for huge inputs."""
    image = decode_image(source, name)
    if image.mode != "RGB":
        if image.mode.startswith("I") or image.mode == "F":
            return (read_image(source, name) * 255.0 + 0.5).astype(np.uint8)
        image = image.convert("RGB")
    return np.asarray(image)
