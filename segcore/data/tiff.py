"""TIFF images through tifffile: 16-bit, float and N-channel pixels that Pillow cannot read.

`formats` reads every TIFF image here (Pillow still reads TIFF masks); `channels` reads a
TIFF's header here when Pillow cannot open it (more than 4 samples per pixel).
"""

import io

import numpy as np

from segcore.data.formats import _ORIENTATION, _TURNS_SIDES, max_pixels
from segcore.errors import DataError


def tiff_header(source, label, refusal=None):
    """(height, width, channels, dtype name) of a one-page TIFF as shown, read by tifffile.

    Checks the pixel cap and that the file is one 2-D image (samples per pixel are channels).

    Raises:
        DataError: not a TIFF tifffile reads (`refusal`, Pillow's message, when given), a
            stack of images, or over the pixel cap.
    """
    import tifffile

    data = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else str(source)
    try:
        with tifffile.TiffFile(data) as tiff:
            series = tiff.series[0]
            shape, axes, dtype = tuple(series.shape), series.axes, series.dtype
            tag = tiff.pages[0].tags.get(_ORIENTATION)
            orientation = tag.value if tag is not None else 1
    except Exception:  # noqa: BLE001 (tifffile raises many types for broken files)
        raise refusal or DataError(f"{label}: the TIFF image is truncated or corrupt.") from None
    sides = [size for size, axis in zip(shape, axes) if axis in "YX"]
    channels = shape[axes.index("S")] if "S" in axes else 1
    if len(sides) != 2 or len(shape) != len(sides) + ("S" in axes):
        raise DataError(f"{label}: the TIFF holds a {axes} stack of shape {shape}, not one 2-D "
                        "image; save each image as its own file.")
    height, width = sides
    if width * height > max_pixels():
        raise DataError(
            f"{label}: the image is {width}x{height} pixels, over the {max_pixels():,}-pixel cap "
            "(raise SEGCORE_MAX_PIXELS if it is genuine)."
        )
    if orientation in _TURNS_SIDES:
        height, width = width, height
    return height, width, channels, np.dtype(dtype).name


# The same turns as PIL's ImageOps.exif_transpose, for arrays (H, W[, C]).
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: np.swapaxes(a, 0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.swapaxes(a[::-1, ::-1], 0, 1),
    8: lambda a: np.rot90(a, 1),
}


def read_tiff(source, label):
    """Reads a one-page TIFF with tifffile, which keeps 16-bit, float and N-channel pixels that
    PIL cannot.

    Planar (channels-first) pixels are made interleaved and the orientation tag is applied,
    so the array is the picture PIL shows for 8-bit files (what prediction and masks use).
    """
    import tifffile

    data = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else str(source)
    with tifffile.TiffFile(data) as tiff:
        series = tiff.series[0]
        array, axes = series.asarray(), series.axes
        tag = tiff.pages[0].tags.get(_ORIENTATION)
        orientation = tag.value if tag is not None else 1
    if "S" in axes and axes.index("S") < axes.index("Y"):
        array = np.moveaxis(array, axes.index("S"), -1)
    if array.ndim not in (2, 3) or (array.ndim == 3 and "S" not in axes):
        raise DataError(f"{label}: the TIFF holds a {axes} stack, not one 2-D image.")
    return np.ascontiguousarray(_ORIENT.get(orientation, lambda a: a)(array))
