"""Prediction from a run: its checkpoint, its model as the run trained it, labels at an
image's own size (tiles and blending: `segcore.tiling`; pictures of it: `segcore.pictures`;
export: `segcore.export`)."""

import logging
from pathlib import Path

import cv2
import numpy as np

from segcore.data.classes import ClassMap
from segcore.errors import RunError
from segcore.tiling import predict_logits, predict_tiled

WHICH = ("best", "last")


def checkpoint_path(run_dir, which="best"):
    """The `.keras` file that `which` names in a run folder (`last` when there is no best yet).

    Raises:
        RunError: an unknown name, no checkpoint, or a checkpoint linking out of the run folder.
    """
    if which not in WHICH:
        raise RunError(f"Unknown checkpoint {which!r}; use best or last.")
    run_dir = Path(run_dir)
    path = run_dir / f"{which}.keras"
    if not path.is_file():
        other = run_dir / "last.keras"
        if which == "best" and other.is_file():
            path = other
        elif path.is_symlink():
            raise RunError(f"{path} links to a checkpoint that is gone; resume the run or "
                           "train it again.")
        else:
            raise RunError(f"{path}: no checkpoint yet; train the run for at least one epoch.")
    # Models load only from the run folder's own files (its best/last may link into ckpt/).
    if not path.resolve().is_relative_to(run_dir.resolve()):
        raise RunError(f"{path} links to {path.resolve()}, outside the run folder; models load "
                       "only from a run's own files.")
    return path


def load_run_model(run_dir, which="best"):
    """Loads a run's checkpoint with Keras' safe mode (only a run folder's own `.keras` files).

    Raises:
        RunError: no checkpoint, or one that Keras cannot read (a damaged or truncated file).
    """
    from segcore.models import load_model

    path = checkpoint_path(run_dir, which)
    try:
        return load_model(path, compile=False)
    except Exception as error:  # noqa: BLE001 (Keras raises a zoo of types for a damaged zip)
        # Keras words a damaged archive as "File not found", which misleads: name the file.
        logging.getLogger("segcore").debug("cannot load %s", path, exc_info=True)
        raise RunError(
            f"{path} is damaged and cannot be loaded as a Keras model ({error.__class__.__name__}); "
            f"use the other checkpoint (--weights {'last' if path.stem == 'best' else 'best'}) "
            "or train the run again."
        ) from None


class RunPredictor:
    """What inference needs from a run: its model, class map, training size, scale and stride."""

    def __init__(self, run_dir, which="best", tta=False):
        """Args:
            run_dir: the run folder.
            which: "best" or "last" checkpoint.
            tta: test-time augmentation: "flip" (or True) averages each prediction with
                that of the left-right mirror (`segcore.tta.FlipAverage`; twice the
                compute); "scales" does so at each of `TTA_SCALES` times the trained scale
                and averages those (`segcore.tta.predict_multiscale`; about nine times the
                compute); None or False: none.
        """
        from segcore.models import model_stride
        from segcore.runs import read_config

        info = read_config(run_dir)  # checked: a damaged config.json raises RunError
        if "class_map" not in info:
            raise RunError(f"{run_dir}: the run has not started training yet.")
        config = info["config"]
        self.run_dir = Path(run_dir)
        self.class_map = ClassMap.from_json(info["class_map"])
        # Patch training predicts whole images in tiles of its patch, at its --scale.
        self.tile = tuple(config.get("patch") or config["crop"] or config["img_size"])
        scale = info.get("input_scale") or 1.0
        self.scale = tuple(scale) if isinstance(scale, list) else (float(scale), float(scale))
        self.stride = model_stride(config["model"], **config["hparams"])
        self.which = checkpoint_path(run_dir, which).stem  # "last" when there is no best yet
        from segcore.data.channels import run_input_spec

        self.input = run_input_spec(info, run_dir)  # how its images are read (channels, mode)
        self.model = load_run_model(run_dir, which)
        shape = getattr(self.model, "output_shape", None)
        if not (isinstance(shape, tuple) and shape and shape[-1] == self.class_map.num_classes):
            raise RunError(
                f"{checkpoint_path(run_dir, which)} does not fit the run's config.json (its "
                f"output is {shape}, for {self.class_map.num_classes} classes); the file was "
                "replaced or damaged, so train the run again."
            )
        from segcore.tta import FlipAverage, tta_mode

        self.tta = tta_mode(tta)
        if self.tta:
            self.model = FlipAverage(self.model)
        # What predictions call: `model` stays the Keras model (or its FlipAverage) for export.
        # FlipAverage calls its model on an image and its mirror: never on one image alone.
        self.forward = Traced(self.model, pairs=bool(self.tta))

    def read(self, source, name=None, compact=False):
        """Reads an image as this run's model takes it (`segcore.data.channels.read_input`).

        Args:
            compact: RGB runs read uint8 (a quarter of float memory) for huge inputs.

        Raises:
            DataError: unreadable, or not the channel count the run was trained on.
        """
        from segcore.data.channels import RGB, read_input
        from segcore.data.formats import read_image_uint8

        if compact and self.input.mode == RGB:
            return read_image_uint8(source, name)
        return read_input(source, self.input, name)

    def predict(self, image):
        """Returns uint8 labels at the image's own size."""
        if self.tta == "scales":
            from segcore.tta import TTA_SCALES, fits_multiscale, predict_multiscale

            if fits_multiscale(image, self.class_map.num_classes):
                return predict_multiscale(self.forward, image, self.tile, self.stride,
                                          self.scale, TTA_SCALES, self.class_map.num_classes)
            # The model flips already: such an image gets flip TTA, in bounded memory.
            logging.getLogger("segcore").warning(
                "a %dx%d image is too large for multi-scale TTA; predicted with flip TTA",
                image.shape[1], image.shape[0])
        return predict_labels(self.forward, image, self.tile, self.stride, self.scale,
                              self.class_map.num_classes)


class Traced:
    """A model's inference call as a traced TensorFlow function, never on a single image.

    Eager Keras calls cost far more than the arithmetic on a CPU: two images through ReSeg
    at 144x200 took 0.47 s eagerly against 0.04 s traced. The function is traced once per
    input shape and, from the second shape on, once for any height and width
    (`reduce_retracing`), so images and tiles of new sizes do not retrace it again.

    A batch of one image is predicted as two copies: oneDNN's convolution fused with
    inference-mode batch normalization runs 20-40 times slower on one image than on two (a
    3x3 convolution of 16 channels at 360x480: 437 ms against 19 ms for both; TensorFlow's
    own kernels and training-mode batch normalization do not slow down).

    Args:
        model: a Keras model or a `segcore.tta.FlipAverage`.
        pairs: the model calls its network on two images per image already (FlipAverage),
            so a single image needs no copy.

    Attributes:
        model: the wrapped model.
        output_shape, input_shape: the model's.
    """

    def __init__(self, model, pairs=False):
        import tensorflow as tf

        self.model, self.pairs = model, pairs
        self.output_shape = model.output_shape
        self.input_shape = model.input_shape
        self._call = tf.function(lambda images: model(images, training=False),
                                 reduce_retracing=True)

    def __call__(self, images, training=False):
        images = np.asarray(images, dtype=np.float32)
        if len(images) == 1 and not self.pairs:
            return self._call(np.concatenate([images, images]))[:1]
        return self._call(images)


def predict_labels(model, image, tile, stride, scale=(1.0, 1.0), num_classes=None):
    """Labels at the image's own size, predicted at the scale the model was trained at.

    Args:
        scale: (y, x) factors from the native image size to the training size.
    """
    height, width = image.shape[:2]
    num_classes = num_classes or model.output_shape[-1]
    if all(abs(factor - 1.0) <= 1e-3 for factor in scale_pair(scale)):
        return predict_tiled(model, image, tile, stride, num_classes)
    small = resize_image(image, scaled_size(image.shape, scale, stride))
    if small.shape[0] <= tile[0] and small.shape[1] <= tile[1]:
        logits = resize_image(predict_logits(model, small, stride), (width, height),
                              cv2.INTER_LINEAR)
        return np.argmax(logits, axis=-1).astype(np.uint8)
    labels = predict_tiled(model, small, tile, stride, num_classes)
    return cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)


def scale_pair(scale):
    """(y, x) factors from one number or a pair."""
    return (scale, scale) if isinstance(scale, (int, float)) else tuple(scale)


def scaled_size(shape, scale, minimum=1):
    """(W, H) of an image of `shape` (H, W, ...) resized by `scale`: at least `minimum` a side."""
    scale_y, scale_x = scale_pair(scale)
    return (max(minimum, round(shape[1] * scale_x)), max(minimum, round(shape[0] * scale_y)))


def resize_image(image, size, interpolation=None):
    """cv2.resize to size=(W, H), keeping a lone channel's axis.

    Args:
        interpolation: an OpenCV flag; by default area when shrinking, else linear (area
            takes at most 4 channels: pass linear for class scores).
    """
    if interpolation is None:
        shrink = size[0] * size[1] < image.shape[0] * image.shape[1]
        interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    out = cv2.resize(image, size, interpolation=interpolation)
    return out[..., None] if out.ndim < image.ndim else out


def predict_image_file(model, path, tile=(256, 256), stride=None):
    """Reads an image as uint8 (a quarter of float memory) and predicts its labels tiled."""
    from segcore.data.formats import read_image_uint8

    image = read_image_uint8(path)
    stride = stride or 32
    return predict_tiled(Traced(model), image, tile, stride, model.output_shape[-1])
