"""Augmentations: what a run may apply (`AugmentConfig`) and how one sample is augmented.

Every random choice is a stateless function of (seed, epoch, sample index) (`augment_sample`),
so each training path (in memory, patches, streamed) gives the same batches and an epoch
replays exactly after a resume.
"""

import math
from dataclasses import asdict, dataclass, field, fields

from segcore.errors import ConfigError
from segcore.numeric_range import NumericRange
from segcore.widget import Widget

# ITU-R BT.601 weights of R, G and B in a pixel's gray (luma).
LUMA = (0.299, 0.587, 0.114)


@dataclass
class AugmentConfig:
    """Augmentations applied identically to image and mask (colour ones to the image only).

    Attributes:
        hflip: random left-right flip.
        vflip: random up-down flip.
        rot90: random multiple of 90 degrees (square training sizes only).
        scale_min: scale-crop: a whole image has a random window of `scale..1` of its sides
            zoomed to the training size (from images kept larger, `zoom_source`); a crop
            or patch is cut `1..1/scale` times its side and shrunk to it.
        brightness: maximum brightness shift (added to pixels in [0, 1]).
        contrast: maximum contrast change (factor in [1 - c, 1 + c]).
        saturation: maximum colour saturation change of RGB images (each pixel's distance
            from its gray scaled by a factor in [1 - s, 1 + s]; 1 - s = 0 can turn an image
            gray); images of other channel counts are left as they are.
        elastic: elastic deformation: the standard deviation, in pixels of the training
            size, of random shifts at a 3x3 grid of control points, interpolated smoothly over
            the image (U-Net's recipe for few microscopy images); 0 turns it off.
        paste_rare: rare-class paste (`segcore.data.paste`): the classes that hold less
            than this share of the training pixels are copied, image and label, from each
            sample of a batch onto the next one; 0 turns it off.
        paste: class names pasted the same way, whatever their share (`--paste
            Pole,Pedestrian`); `--auto` leaves it empty and names in its reason the rare
            classes of small objects to try.
    """

    hflip: bool = field(default=True, metadata={
        "help": "random left-right flip", "widget": Widget("Horizontal flip", "data", "checkbox")})
    vflip: bool = field(default=False, metadata={
        "help": "random up-down flip", "widget": Widget("Vertical flip", "data", "checkbox")})
    rot90: bool = field(default=False, metadata={
        "help": "random multiple of 90 degrees (square training sizes only)",
        "widget": Widget("Rotate 90°", "data", "checkbox")})
    # A zero scale divides by zero; below 0.1 a crop is a few pixels zoomed to the full size.
    scale_min: float = field(default=1.0, metadata={
        "range": NumericRange(0.1, 1.0),
        "help": "scale-crop: a random window of scale..1 of the side, zoomed to full size",
        "widget": Widget("Scale-crop (min scale)", "data", "slider", 0.3, 1.0, 0.05)})
    brightness: float = field(default=0.0, metadata={
        "range": NumericRange(0.0, 1.0), "help": "maximum brightness shift (pixels in 0..1)",
        "widget": Widget("Brightness jitter", "data", "slider", 0.0, 0.5, 0.05)})
    contrast: float = field(default=0.0, metadata={
        "range": NumericRange(0.0, 1.0), "help": "maximum contrast change (factor 1 ± c)",
        "widget": Widget("Contrast jitter", "data", "slider", 0.0, 0.5, 0.05)})
    saturation: float = field(default=0.0, metadata={
        "range": NumericRange(0.0, 1.0),
        "help": "maximum colour saturation change of RGB images (factor 1 ± s)",
        "widget": Widget("Saturation jitter", "data", "slider", 0.0, 1.0, 0.05)})
    # Shifts beyond ~a tenth of the side fold the image over itself between control points.
    elastic: float = field(default=0.0, metadata={
        "range": NumericRange(0.0, 64.0),
        "help": "elastic deformation: std of random shifts (pixels) at a 3x3 grid, 0: off",
        "widget": Widget("Elastic deformation (px)", "data", "slider", 0.0, 32.0, 1.0)})
    paste_rare: float = field(default=0.0, metadata={
        "range": NumericRange(0.0, 0.5),
        "help": "rare-class paste: classes under this share of the training pixels are copied "
                "from each image of a batch onto the next; 0: off",
        "widget": Widget("Rare-class paste (share)", "data", "slider", 0.0, 0.1, 0.001)})
    paste: list = field(default_factory=list, metadata={
        "help": "classes pasted from each image of a batch onto the next, by name "
                "(comma-separated: Pole,Pedestrian); none by default",
        "widget": Widget("Paste classes", "data", "classes")})

    def to_json(self):
        return asdict(self)

    @classmethod
    def from_json(cls, data):
        """Builds the config from its JSON form; unknown keys are a ConfigError."""
        data = data or {}
        if not isinstance(data, dict):
            raise ConfigError(f"The augmentations must be a JSON object, not {data!r}.")
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"Unknown augmentations {', '.join(sorted(map(str, unknown)))}.")
        return cls(**data)

    def validate(self):
        """Checks every value (flips are booleans, `paste` class names, the rest finite and in
        range); returns self.

        Raises:
            ConfigError: naming the flag, e.g. `--scale-min nan must be a finite number in
                [0.1, 1].`
        """
        for f in fields(self):
            flag = "--" + f.name.replace("_", "-")
            value = getattr(self, f.name)
            if "range" in f.metadata:
                setattr(self, f.name, f.metadata["range"].check(value, flag))
            elif f.name == "paste":
                self.paste = class_names(value, flag)
            elif not isinstance(value, bool):
                raise ConfigError(f"{flag} {value!r} must be true or false.")
        return self

    @property
    def enabled(self):
        return (
            self.hflip or self.vflip or self.rot90 or self.scale_min < 1.0
            or self.brightness > 0 or self.contrast > 0 or self.saturation > 0
            or self.elastic > 0
        )


def named_classes(paste, names):
    """The indices of the `paste` class names in `names` (a class map's).

    Raises:
        ConfigError: a name the class map lacks, naming it and the classes there are.
    """
    unknown = [name for name in paste if name not in names]
    if unknown:
        raise ConfigError(f"--paste {', '.join(unknown)}: no such class"
                          f"{'es' if len(unknown) > 1 else ''}; the classes are "
                          f"{', '.join(names)}.")
    return [list(names).index(name) for name in paste]


def class_names(value, flag="--paste"):
    """Class names as a list: a list of names, or one comma-separated string of them.

    Example: "Pole, Pedestrian" -> ["Pole", "Pedestrian"]; duplicates are dropped.

    Raises:
        ConfigError: a value that is neither, or an empty name, naming `flag`.
    """
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")] if value.strip() else []
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{flag} {value!r} must be a list of class names.")
    if any(not v.strip() for v in value):
        raise ConfigError(f"{flag} {', '.join(value)!r} holds an empty class name.")
    return list(dict.fromkeys(v.strip() for v in value))


def _elastic_field(seed, size, sigma):
    """A smooth random displacement field float32 [H, W, 2] (dy, dx) in pixels.

    Shifts drawn at a 3x3 grid of control points (normal, std `sigma`), interpolated bicubically
    to every pixel, as in U-Net (Ronneberger et al., 2015).
    """
    import tensorflow as tf

    coarse = tf.random.stateless_normal([1, 3, 3, 2], seed, stddev=sigma)
    return tf.image.resize(coarse, size, method="bicubic")[0]


def _mirror(coord, last):
    """Reflects coordinates into [0, last] (a shift past the border reads back inwards)."""
    import tensorflow as tf

    coord = last - tf.abs(last - tf.abs(coord))
    return tf.clip_by_value(coord, 0.0, last)  # shifts past a whole side stay in bounds


def _warp(image, field, nearest):
    """Samples image [H, W, C] at (y + dy, x + dx), mirrored beyond the border.

    Bilinear for images; nearest for masks (labels are never blended).
    """
    import tensorflow as tf

    height, width = tf.shape(image)[0], tf.shape(image)[1]
    grid_y, grid_x = tf.meshgrid(tf.range(height, dtype=tf.float32),
                                 tf.range(width, dtype=tf.float32), indexing="ij")
    y = _mirror(grid_y + field[..., 0], tf.cast(height - 1, tf.float32))
    x = _mirror(grid_x + field[..., 1], tf.cast(width - 1, tf.float32))
    flat = tf.reshape(image, [height * width, -1])

    def at(yi, xi):
        return tf.gather(flat, tf.reshape(yi * width + xi, [-1]))

    if nearest:
        out = at(tf.cast(tf.round(y), tf.int32), tf.cast(tf.round(x), tf.int32))
        return tf.reshape(out, tf.shape(image))
    y0f, x0f = tf.floor(y), tf.floor(x)
    wy, wx = tf.reshape(y - y0f, [-1, 1]), tf.reshape(x - x0f, [-1, 1])
    y0, x0 = tf.cast(y0f, tf.int32), tf.cast(x0f, tf.int32)
    y1, x1 = tf.minimum(y0 + 1, height - 1), tf.minimum(x0 + 1, width - 1)
    top = at(y0, x0) * (1.0 - wx) + at(y0, x1) * wx
    bottom = at(y1, x0) * (1.0 - wx) + at(y1, x1) * wx
    return tf.reshape(top * (1.0 - wy) + bottom * wy, tf.shape(image))


def _augment(image, mask, seeds, augment, out_size, value_range=(0.0, 1.0), whole=False):
    """Applies one sample's augmentations; `seeds` is a [k, 2] int tensor of stateless seeds.

    `value_range` clips jittered pixels (None: unbounded, e.g. float bands). `whole`: the
    sample is a whole image (possibly stored larger than `out_size`, see `zoom_source`), so
    the scale-crop zooms in on a window of `scale..1` of its sides; otherwise (crops,
    patches) the window is `out_size / scale`, as far as the input reaches. A mask of
    class shares ([h, w, classes + 1], `shrink.label_shares`) is resized and warped as an
    image is, so its shares stay shares."""
    import tensorflow as tf

    height, width = out_size
    channels = image.shape[-1]
    shares = mask.shape.rank == 3
    mask = mask if shares else mask[..., None]
    if augment.scale_min < 1.0 or image.shape[0] != height or image.shape[1] != width:
        scale = tf.random.stateless_uniform([], seeds[0], augment.scale_min, 1.0)
        in_h, in_w = tf.shape(image)[0], tf.shape(image)[1]
        if whole:
            crop_h = tf.maximum(1, tf.cast(tf.round(tf.cast(in_h, tf.float32) * scale), tf.int32))
            crop_w = tf.maximum(1, tf.cast(tf.round(tf.cast(in_w, tf.float32) * scale), tf.int32))
        elif augment.scale_min >= 1.0:
            crop_h, crop_w = tf.minimum(in_h, height), tf.minimum(in_w, width)
        else:
            crop_h = tf.minimum(in_h, tf.cast(tf.round(height / scale), tf.int32))
            crop_w = tf.minimum(in_w, tf.cast(tf.round(width / scale), tf.int32))
        top = tf.random.stateless_uniform([], seeds[1], 0, in_h - crop_h + 1, dtype=tf.int32)
        left = tf.random.stateless_uniform([], seeds[2], 0, in_w - crop_w + 1, dtype=tf.int32)
        image = image[top:top + crop_h, left:left + crop_w]
        mask = mask[top:top + crop_h, left:left + crop_w]
        # A whole image's window is often larger than the output (a zoom source):
        # antialiased like the area resize that prediction shrinks images with.
        image = tf.image.resize(image, (height, width), method="bilinear", antialias=whole)
        mask = (tf.cast(tf.round(tf.image.resize(tf.cast(mask, tf.float32), (height, width),
                                                 method="bilinear", antialias=True)), mask.dtype)
                if shares else tf.image.resize(mask, (height, width), method="nearest"))
    if augment.elastic > 0:
        # Its own seed, folded from the flips', so the other draws stay as they were.
        field = _elastic_field(tf.random.experimental.stateless_fold_in(seeds[3], 1),
                               (height, width), augment.elastic)
        image = _warp(image, field, nearest=False)
        mask = (tf.cast(tf.round(_warp(tf.cast(mask, tf.float32), field, nearest=False)),
                        mask.dtype) if shares else _warp(mask, field, nearest=True))
    flips = tf.random.stateless_uniform([3], seeds[3])
    if augment.hflip:
        image = tf.cond(flips[0] < 0.5, lambda: tf.reverse(image, [1]), lambda: image)
        mask = tf.cond(flips[0] < 0.5, lambda: tf.reverse(mask, [1]), lambda: mask)
    if augment.vflip:
        image = tf.cond(flips[1] < 0.5, lambda: tf.reverse(image, [0]), lambda: image)
        mask = tf.cond(flips[1] < 0.5, lambda: tf.reverse(mask, [0]), lambda: mask)
    if augment.rot90 and height == width:
        turns = tf.cast(tf.floor(flips[2] * 4.0), tf.int32)
        image = tf.image.rot90(image, turns)
        mask = tf.image.rot90(mask, turns)
    if augment.brightness > 0:
        shift = tf.random.stateless_uniform([], seeds[4], -augment.brightness, augment.brightness)
        image = image + shift
    if augment.contrast > 0:
        factor = tf.random.stateless_uniform(
            [], seeds[5], 1.0 - augment.contrast, 1.0 + augment.contrast
        )
        mean = tf.reduce_mean(image, axis=[0, 1], keepdims=True)
        image = (image - mean) * factor + mean
    if augment.saturation > 0 and channels == 3:
        # Its own seed, folded from the contrast's, so the other draws stay as they were.
        factor = tf.random.stateless_uniform(
            [], tf.random.experimental.stateless_fold_in(seeds[5], 1),
            1.0 - augment.saturation, 1.0 + augment.saturation,
        )
        gray = tf.reduce_sum(image * tf.constant(LUMA, image.dtype), axis=-1, keepdims=True)
        image = gray + (image - gray) * factor
    jittered = augment.brightness > 0 or augment.contrast > 0 or augment.saturation > 0
    if jittered and value_range is not None:
        image = tf.clip_by_value(image, *value_range)
    image = tf.ensure_shape(image, (height, width, channels))
    mask = (tf.ensure_shape(mask, (height, width, mask.shape[-1])) if shares
            else tf.ensure_shape(mask[..., 0], (height, width)))
    return image, mask


def augment_sample(image, mask, seed, epoch, index, augment, out_size, value_range,
                   whole=False):
    """Augments one sample with seeds drawn from (seed, epoch, index) alone.

    Every training path (in memory, patches, streamed) goes through here, so they give the
    same batches for the same seed and an epoch replays exactly after a resume. `whole`: the
    sample is a whole image, which the scale-crop zooms into (see `_augment`).
    """
    import tensorflow as tf

    seeds = tf.random.experimental.stateless_split(
        tf.stack([tf.cast(seed, tf.int64), epoch * 1_000_003 + index]), 6
    )
    return _augment(image, mask, seeds, augment, out_size, value_range, whole)


def zoom_source(size, native, scale_min):
    """The (H, W) whole training images are kept at so the scale-crop zooms into real pixels.

    A window of `scale_min` of the sides, zoomed to the training `size`, needs `size /
    scale_min` pixels to bring detail rather than an upsample; no more than the native
    image has, and never less than `size`.

    Example:
        >>> zoom_source((152, 200), (360, 480), 0.75)
        (203, 267)
    """
    if scale_min >= 1.0:
        return tuple(size)
    return tuple(max(s, min(n, math.ceil(s / scale_min - 1e-9))) for s, n in zip(size, native))
