"""Encoder weights files: Keras's own ImageNet files, read from Keras's cache
(`$KERAS_HOME/models/`, `~/.keras/models/` by default) under the names Keras gives them, or any
weights file given by path. Nothing is downloaded here: a missing file is a `ConfigError` naming
the file and the folder to put it in, never a silent fall back to random weights.
"""

import importlib
import os
from pathlib import Path

from segcore.errors import ConfigError
from segcore.models.encoders import ENCODERS, IMAGENET, NONE, get_encoder


def keras_cache():
    """Keras's weights cache folder: `$KERAS_HOME/models`, else `~/.keras/models` (as Keras)."""
    home = os.environ.get("KERAS_HOME")
    if not home:
        base = os.path.expanduser("~")
        home = os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")
    return Path(home) / "models"


def weights_path(name, weights):
    """The weights file an encoder would load, checked to exist; None for random weights.

    Args:
        name: the encoder.
        weights: "imagenet" (Keras's cache file), "none", or a path.

    Raises:
        ConfigError: the file is missing, naming it and the folder to put it in.
    """
    encoder = get_encoder(name)
    if weights in (None, NONE):
        return None
    if weights == IMAGENET:
        path = keras_cache() / encoder.weights_file
        if not path.is_file():
            raise ConfigError(
                f"{path} is missing: the ImageNet weights of {name} cannot be downloaded here; "
                f"put Keras's file {encoder.weights_file} into {path.parent}/ (or set "
                "KERAS_HOME), or give --encoder-weights none or a weights file.")
        return path
    path = Path(weights).expanduser()
    if not path.is_file():
        raise ConfigError(f"--encoder-weights {weights}: no such file; give imagenet, none or "
                          "the path of a weights file of this encoder.")
    return path


def is_cached(name):
    """Whether the ImageNet weights of `name` are in Keras's cache on this machine."""
    return (keras_cache() / get_encoder(name).weights_file).is_file()


def check_hash(encoder, path):
    if not encoder.hash_key:
        return
    from keras.src.utils.file_utils import validate_file

    module, key = encoder.hash_key
    expected = importlib.import_module(module).WEIGHTS_HASHES[key][1]
    if not validate_file(str(path), expected):
        raise ConfigError(
            f"{path} does not match the hash Keras publishes for it (damaged or another "
            "file); delete it and put Keras's file there, or give it as --encoder-weights PATH.")


def load_weights(encoder, source, path, imagenet):
    """Loads the weights of `path` into `source`, the encoder's application as Keras builds it
    (3 input channels, Keras's own config), checking Keras's published hash for ImageNet files.

    Raises:
        ConfigError: a file whose hash differs, or that holds no weights of this encoder.
    """
    if imagenet:
        check_hash(encoder, path)
    try:
        source.load_weights(str(path))
    except Exception as error:  # h5py, Keras's checks: the file's problem, not a bug of ours
        detail = str(error).splitlines()[0][:160] if str(error) else error.__class__.__name__
        raise ConfigError(f"{path}: not weights of the {encoder.name} encoder ({detail}); give "
                          "that encoder's Keras weights file, imagenet or none.") from None
    return source


def weights_note(hparams):
    """One line on a model's encoder weights for the app, or None without an encoder.

    Example: "mobilenet_v2 ImageNet weights: cached (/root/.keras/models/mobilenet_v2_...h5)."
    """
    name = hparams.get("encoder", NONE)
    if name == NONE or name not in ENCODERS:
        return None
    weights = hparams.get("encoder_weights", NONE)
    if weights == NONE:
        return f"{name}: random initial weights (trained from scratch)."
    try:
        path = weights_path(name, weights)
    except ConfigError as error:
        return str(error)
    return f"{name} {'ImageNet ' if weights == IMAGENET else ''}weights: cached ({path})."
