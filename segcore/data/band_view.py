"""A picture of any image: chosen bands as R, G, B (or one as gray), stretched per band.

Multi-channel, 16-bit and float images have no colours of their own; people look at them as
three chosen bands (or one), each stretched between two percentiles of its own values so
a band that fills 2% of the 16-bit range is not black.
"""

import numpy as np

from segcore.errors import ConfigError

# Percentiles a stretched band spans (black at the first, white at the second), as GIS
# viewers do by default: a few hot or dead pixels do not squash the rest to one grey.
STRETCH = (2.0, 98.0)
_SAMPLE = 1_000_000  # pixels the percentiles are taken from (a strided subset of larger images)


def default_bands(channels):
    """The first three bands as R, G, B; band 0 as gray for one or two channels."""
    return (0, 1, 2) if channels >= 3 else (0,)


def render_bands(image, bands=None, stretch=STRETCH):
    """Renders chosen bands of an image as a uint8 RGB picture.

    Args:
        image: (H, W) or (H, W, C) of any numeric type.
        bands: one band index (gray) or three (R, G, B); None: `default_bands`.
        stretch: (low, high) percentiles mapped to 0 and 255, per band; None maps [0, 1]
            (uint8: 0..255) as it is, for images that already are pictures.

    Returns:
        uint8 (H, W, 3).

    Raises:
        ConfigError: not one or three bands, or a band the image does not have.

    Example: a one-band uint16 image [[100, 200], [300, 400]] with stretch (0, 100) renders
    as gray 0, 85, 170, 255.
    """
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    channels = array.shape[-1]
    bands = tuple(default_bands(channels) if bands is None else bands)
    if len(bands) not in (1, 3):
        raise ConfigError(f"Pick one band (gray) or three (R, G, B), not {len(bands)}.")
    for band in bands:
        if not isinstance(band, (int, np.integer)) or not 0 <= band < channels:
            raise ConfigError(f"Band {band!r} does not exist: the image has {channels} "
                              f"band{'s' if channels != 1 else ''} (0..{channels - 1}).")
    planes = [_plane(array[..., band], stretch) for band in bands]
    if len(planes) == 1:
        planes = planes * 3
    return np.stack(planes, axis=-1)


def _plane(values, stretch):
    """One band as uint8: stretched between its percentiles, or [0, 1] (uint8 as is)."""
    if stretch is None:
        if values.dtype == np.uint8:
            return values.copy()
        return (np.clip(np.nan_to_num(values.astype(np.float32)), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    values = values.astype(np.float32)
    flat = values.ravel()
    step = max(1, flat.size // _SAMPLE)
    finite = flat[::step][np.isfinite(flat[::step])]
    if not finite.size:
        return np.zeros(values.shape, np.uint8)
    low, high = np.percentile(finite, stretch)
    if high <= low:  # a constant band: mid-grey says "no contrast" better than black
        return np.full(values.shape, 128 if finite.size else 0, np.uint8)
    scaled = (np.nan_to_num(values, nan=low) - low) / (high - low)
    return (np.clip(scaled, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def picture(image):
    """How segcore shows an image: RGB pictures as they are, anything else through
    `render_bands` (default bands, stretched). Returns uint8 (H, W, 3)."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 3 and (
            array.dtype == np.uint8 or (array.size and array.min() >= 0.0 and array.max() <= 1.0)):
        return render_bands(array, stretch=None)
    return render_bands(array)


def shown_picture(path):
    """An image file as segcore shows it: uint8 RGB (H, W, 3).

    Ordinary pictures are read as they are; 16-bit, float and multi-band images go through
    `picture` (default bands, per-band stretch), as on the Data page.

    Raises:
        DataError: the file is not a readable image.
    """
    from segcore.data.channels import image_info
    from segcore.data.formats import read_image_uint8, read_pixels

    if image_info(path).picture:
        return read_image_uint8(path)
    return picture(read_pixels(path))
