"""How many channels a dataset's images have, how they are read, and their statistics.

The rule (one per dataset, decided from the image headers):

- **RGB, as always**: when every image has 1 to 4 channels of 8- or 16-bit integers and at
  least one is an ordinary picture (8-bit gray, gray + alpha, palette, RGB or RGBA, or 16-bit
  RGB), every image is read as float32 RGB in [0, 1]: gray replicated, alpha dropped, 16-bit
  divided by 65535. Photos, CamVid, membrane and pretrained ImageNet encoders see what they
  always saw; the model takes 3 channels in [0, 1].
- **Bands, as they are**: otherwise (16-bit gray microscopy, 2- or 4-channel 16-bit TIFFs, 5 or
  13 multispectral bands, float or 32-bit pixels) every image keeps its own channels: integers
  divided by their type's maximum (uint16 / 65535), floats as they are. Every image must then
  have the same number of channels; the odd one is a DataError naming it. The model takes C
  channels and standardizes them itself with per-channel mean and std of the training split
  (`segcore.models.input_norm.InputNorm`, its first layer), so evaluation, prediction and
  every export apply them without being told.

A run records its `InputSpec` (mode, channels, the statistics) in `config.json` under "input";
prediction reads images the way the run was trained.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from segcore.errors import DataError, RunError

RGB, BANDS = "rgb", "bands"
MODES = (RGB, BANDS)

# Pillow modes: (channels, type) of the pixels `formats.read_pixels` gives for them.
_MODES = {
    "1": (1, "uint8"), "L": (1, "uint8"), "LA": (2, "uint8"), "La": (2, "uint8"),
    "RGB": (3, "uint8"), "RGBA": (4, "uint8"), "RGBa": (4, "uint8"), "RGBX": (4, "uint8"),
    "CMYK": (3, "uint8"), "YCbCr": (3, "uint8"), "LAB": (3, "uint8"), "HSV": (3, "uint8"),
    "I;16": (1, "uint16"), "I;16B": (1, "uint16"), "I;16L": (1, "uint16"),
    "I;16N": (1, "uint16"), "I": (1, "int32"), "F": (1, "float32"),
}


@dataclass(frozen=True)
class ImageInfo:
    """What an image's header says: its size as shown, channels and pixel type."""

    path: str
    height: int
    width: int
    channels: int
    dtype: str

    @property
    def picture(self):
        """An ordinary picture: 8-bit with 1..4 channels, or 16-bit RGB."""
        return (self.dtype in ("uint8", "bool") and self.channels <= 4) or (
            self.dtype == "uint16" and self.channels == 3)

    @property
    def rgb_readable(self):
        """`formats.read_image` gives what it always did: 1..4 channels of 8/16-bit integers."""
        return self.dtype in ("uint8", "bool", "uint16") and self.channels <= 4


def image_info(source, name=None):
    """Reads an image's header (no pixels decoded) into an `ImageInfo`.

    Raises:
        DataError: the file is not an image, is damaged, or is over the pixel cap.
    """
    from segcore.data import formats
    from segcore.data.tiff import tiff_header

    label = formats.source_label(source, name)
    try:
        with formats._open(source, name) as handle:
            width, height = formats._shown_size(handle, label)
            mode, info, is_tiff = handle.mode, handle.info, handle.format == "TIFF"
    except formats.UnreadableTiff as refusal:
        height, width, channels, dtype = tiff_header(source, label, refusal)
        return ImageInfo(label, height, width, channels, dtype)
    if is_tiff:  # Pillow's TIFF modes hide 16-bit RGB and sample formats: ask tifffile
        _, _, channels, dtype = tiff_header(source, label)
        return ImageInfo(label, height, width, channels, dtype)
    if mode == "P":
        channels, dtype = (4 if "transparency" in info else 3), "uint8"
    else:
        channels, dtype = _MODES.get(mode, (3, "uint8"))
    return ImageInfo(label, height, width, channels, dtype)


@dataclass(frozen=True)
class InputSpec:
    """How a dataset's (or a run's) images become the model's input.

    Attributes:
        mode: "rgb" (float RGB in [0, 1], 3 channels) or "bands" (the images' own channels).
        channels: the model's input channels.
        dtype: the pixel type of the first image (informative: depths may mix).
        mean, std: per-channel statistics of the training split after reading (empty until
            computed); the model standardizes "bands" input with them.
    """

    mode: str = RGB
    channels: int = 3
    dtype: str = "uint8"
    mean: tuple = field(default=())
    std: tuple = field(default=())

    @property
    def value_range(self):
        """(low, high) of every input value, for clipping augmented pixels; None: unbounded."""
        return (0.0, 1.0) if self.mode == RGB else None

    def normalization(self):
        """{"mean", "std"} the model's first layer applies, or None (RGB input goes in as is)."""
        if self.mode != BANDS or not self.mean:
            return None
        return {"mean": list(self.mean), "std": list(self.std)}

    def with_stats(self, images):
        """This spec with the per-channel mean and std of `images` (see `channel_stats`)."""
        mean, std = channel_stats(images)
        return InputSpec(self.mode, self.channels, self.dtype, tuple(mean), tuple(std))

    def describe(self):
        """One line for people, e.g. "5 channels (uint16), standardized per channel"."""
        if self.mode == RGB:
            return "RGB (3 channels in [0, 1])"
        plural = "s" if self.channels != 1 else ""
        return f"{self.channels} channel{plural} ({self.dtype}), standardized per channel"

    def to_json(self):
        return {"mode": self.mode, "channels": self.channels, "dtype": self.dtype,
                "mean": [float(m) for m in self.mean], "std": [float(s) for s in self.std]}

    @classmethod
    def from_json(cls, data):
        """Builds and checks a spec from its JSON form.

        Raises:
            ValueError: a field is missing, of the wrong type, or inconsistent (one sentence).
        """
        if not isinstance(data, dict):
            raise ValueError(f"not an object but {type(data).__name__}")
        mode, channels = data.get("mode"), data.get("channels")
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not one of {', '.join(MODES)}")
        if isinstance(channels, bool) or not isinstance(channels, int) or not 1 <= channels <= 1024:
            raise ValueError(f"channels {channels!r} is not a count in 1..1024")
        if mode == RGB and channels != 3:
            raise ValueError(f"an RGB input has 3 channels, not {channels}")
        stats = []
        for key in ("mean", "std"):
            values = data.get(key, [])
            if not isinstance(values, list) or len(values) not in (0, channels) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
                    for v in values):
                raise ValueError(f"{key} must be {channels} finite numbers")
            stats.append(tuple(float(v) for v in values))
        if len(stats[0]) != len(stats[1]) or any(s <= 0 for s in stats[1]):
            raise ValueError("mean and std must both be given, with every std above 0")
        if mode == BANDS and not stats[0]:
            raise ValueError("a bands input needs its mean and std")
        dtype = data.get("dtype", "uint8")
        return cls(mode, channels, str(dtype), *stats)


def run_input_spec(info, run_dir):
    """The `InputSpec` recorded in a run's config.json (RGB for runs from before channels).

    Args:
        info: the run's config.json as read by `segcore.runs.read_config`.
        run_dir: the run folder, for the message.

    Raises:
        RunError: the "input" entry is damaged, naming config.json.
    """
    if "input" not in info:
        return InputSpec()
    try:
        return InputSpec.from_json(info["input"])
    except ValueError as error:
        raise RunError(f"{Path(run_dir) / 'config.json'} holds an invalid input description "
                       f"({error}); restore it from a copy of the run or train the run again.") from None


def dataset_input(infos):
    """Decides how a dataset's images are read (the rule in this module's docstring).

    Args:
        infos: an `ImageInfo` per image (`image_info`), in the dataset's order.

    Returns:
        An `InputSpec` without statistics.

    Raises:
        DataError: mixed channel counts in a "bands" dataset, naming the odd file.
    """
    infos = list(infos)
    if not infos:
        return InputSpec()
    if all(i.rgb_readable for i in infos) and any(i.picture for i in infos):
        return InputSpec(RGB, 3, infos[0].dtype)
    problem = mixed_channels(infos)
    if problem:
        raise DataError(problem)
    return InputSpec(BANDS, infos[0].channels, infos[0].dtype)


def samples_input(samples):
    """`dataset_input` of these `Sample`s' images (headers only)."""
    return dataset_input(image_info(sample.image) for sample in samples)


def mixed_channels(infos):
    """The message for a "bands" dataset whose images differ in channels, or None.

    The count most images have is the dataset's; the first image with another one is named.
    """
    counts = {}
    for info in infos:
        counts[info.channels] = counts.get(info.channels, 0) + 1
    if len(counts) < 2:
        return None
    usual = max(counts, key=lambda c: (counts[c], -list(counts).index(c)))
    odd = next(i for i in infos if i.channels != usual)
    return (f"{odd.path}: {odd.channels} channel{'s' if odd.channels != 1 else ''} ({odd.dtype}), "
            f"but {counts[usual]} other images of the dataset have {usual}; every image of a "
            "multi-channel dataset needs the same channels (and an 8-bit picture among them is "
            "read as its own channels too).")


def to_float(pixels, label="image"):
    """Scales pixels to float32 (H, W, C): integers by their type's maximum, floats as they are.

    Raises:
        DataError: float pixels that are NaN or infinite (they would poison every statistic
            and gradient), naming `label`.
    """
    array = np.asarray(pixels)
    if array.dtype == bool:
        scaled = array.astype(np.float32)
    elif np.issubdtype(array.dtype, np.integer):
        scaled = array.astype(np.float32) / float(np.iinfo(array.dtype).max)
    else:
        scaled = array.astype(np.float32)
        if not np.isfinite(scaled).all():
            raise DataError(f"{label}: the image holds NaN or infinite values; fill them (e.g. "
                            "with 0) before training.")
    return scaled[..., None] if scaled.ndim == 2 else scaled


def read_input(source, spec, name=None):
    """Reads an image as a model with this `InputSpec` takes it: float32 (H, W, channels).

    Raises:
        DataError: unreadable, or (bands) another number of channels than the spec's.
    """
    from segcore.data.formats import read_image, read_pixels

    if spec.mode == RGB:
        return read_image(source, name)
    label = name or str(source)
    image = to_float(read_pixels(source, name), label)
    if image.shape[-1] != spec.channels:
        raise DataError(f"{label}: the image has {image.shape[-1]} channel"
                        f"{'s' if image.shape[-1] != 1 else ''}, but the model was trained on "
                        f"{spec.channels}; give images like the training ones.")
    return image


def channel_stats(images):
    """Per-channel mean and standard deviation over every pixel of every image.

    Accumulated in float64 image by image (no copy of the stack). A constant channel gets std
    1, so standardizing it gives zeros rather than a division by zero.

    Args:
        images: float arrays (H, W, C) (a list or an [N, H, W, C] array).

    Returns:
        (mean, std): float64 arrays [C].

    Example: two 1x1 one-channel images 0 and 2 give mean [1.0], std [1.0].
    """
    total = squares = None
    count = 0
    for image in images:
        flat = np.asarray(image, dtype=np.float64).reshape(-1, np.shape(image)[-1])
        total = flat.sum(axis=0) if total is None else total + flat.sum(axis=0)
        squares = (flat**2).sum(axis=0) if squares is None else squares + (flat**2).sum(axis=0)
        count += len(flat)
    if not count:
        raise DataError("No training pixels to compute channel statistics from.")
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    std[std < 1e-6] = 1.0
    return mean, std
