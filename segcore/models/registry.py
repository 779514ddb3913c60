"""The model registry: each family with its hyperparameters, ranges and defaults.

The app builds its sliders and the CLI its flags from these tables.
"""

import importlib
import math
from dataclasses import dataclass, field, replace

from segcore.errors import ConfigError
from segcore.models.encoders import ENCODERS


@dataclass(frozen=True)
class Param:
    """One hyperparameter, described as data so the app and the CLI are generated from it.

    Attributes:
        name: snake_case keyword of the builder; the CLI flag is `--name-with-dashes`.
        kind: "int", "float", "log" (a float best swept on a log scale), "choice" or "bool".
        default: the value used when none is given (chosen for short CPU runs).
        low, high: inclusive range of numeric kinds.
        choices: the allowed values of a "choice".
        help: one line for the slider's tooltip and the flag's help.
        paths: a "choice" that also takes a file path (the CLI's `--encoder-weights FILE`;
            the app offers the choices).
    """

    name: str
    kind: str
    default: object
    low: float | None = None
    high: float | None = None
    choices: tuple = ()
    help: str = ""
    paths: bool = False

    def validate(self, value, model):
        """Returns `value` converted to this parameter's type, or raises ConfigError.

        Strings are accepted (CLI flags): "true"/"false"/"1"/"0"/"yes"/"no" for bools, and
        numbers for ints and floats; an int parameter rejects a fractional value.
        """
        try:
            if self.kind == "bool":
                if isinstance(value, str):
                    value = _BOOLS[value.strip().lower()]
                elif value not in (True, False):
                    raise ValueError
                return bool(value)
            if self.kind == "choice":
                if value in self.choices:
                    return value
                # CLI strings name non-string choices ("8" for --output-stride).
                named = [c for c in self.choices if str(c) == str(value)]
                if named:
                    return named[0]
                if self.paths and isinstance(value, str) and value.strip():
                    return value
                raise ValueError
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if not math.isfinite(number):
                raise ValueError
            if self.kind == "int":
                if not number.is_integer():
                    raise ValueError
                value = int(number)
            else:
                value = number
        except (KeyError, TypeError, ValueError, OverflowError):  # a 400-digit JSON integer
            raise ConfigError(
                f"{model}: --{self.name.replace('_', '-')} {value!r} is invalid"
                + (f"; choose one of {', '.join(map(str, self.choices))}"
                   + (" or give a file." if self.paths else ".") if self.choices else
                   f"; expected {_EXPECTED.get(self.kind, 'a value')}.")
            ) from None
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            raise ConfigError(
                f"{model}: --{self.name.replace('_', '-')} {value} is outside its range "
                f"{self.low}..{self.high}."
            )
        return value


_EXPECTED = {"int": "an integer", "float": "a finite number", "log": "a finite number",
             "bool": "true or false"}
_BOOLS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False,
          "on": True, "off": False}


@dataclass(frozen=True)
class ModelSpec:
    """A model family: its builder ("module:function", imported on use) and hyperparameters.

    Builders import Keras, so the registry stays importable without TensorFlow: the CLI's
    flags and the app's sliders come from here without paying TensorFlow's start-up.
    The input must be a multiple of 2**`stride_param` (of `stride_param` itself when
    `stride_exponent` is False).
    """

    name: str
    family: str
    description: str
    builder: object
    params: tuple = field(default_factory=tuple)
    stride_param: str = "depth"
    stride_exponent: bool = True

    def defaults(self):
        """{param name: default value}."""
        return {p.name: p.default for p in self.params}


_DEPTH = Param("depth", "int", 4, 2, 5, help="2x poolings; the input must be a multiple of 2**depth")
_FILTERS = Param("base_filters", "int", 16, 8, 64, help="filters of the first level, doubled per level")
_BN = Param("batch_norm", "bool", True, help="batch normalization after each convolution")
_DROPOUT = Param("dropout", "float", 0.0, 0.0, 0.5, help="dropout in the deep layers")
_UP = Param("upsampling", "choice", "transpose", choices=("transpose", "resize"),
            help="learned transposed conv, or bilinear resize + conv")
_RNN = Param("rnn_type", "choice", "gru", choices=("gru", "lstm"), help="recurrent cell")
_UNITS = Param("rnn_units", "int", 32, 8, 128, help="hidden units per direction of each sweep")
_ENCODER = Param("encoder", "choice", "none", choices=("none", *ENCODERS),
                 help="keras.applications encoder (none: U-Net's own, trained from scratch)")
_WEIGHTS = Param("encoder_weights", "choice", "none", choices=("none", "imagenet"), paths=True,
                 help="encoder weights: imagenet (Keras's cache, KERAS_HOME), none (random) or "
                      "a weights file")
_FREEZE = Param("freeze_epochs", "int", 0, 0, 1000,
                help="epochs trained with the encoder frozen (its batch norm in inference mode)")
_ENCODER_LR = Param("encoder_lr_scale", "float", 1.0, 0.0, 1.0,
                    help="the encoder's learning rate as a fraction of --lr")
# Settings of the training loop, not of the builder: build_model leaves them out.
TRAINING_PARAMS = ("freeze_epochs", "encoder_lr_scale")

MODELS = {
    "unet": ModelSpec(
        "unet", "cnn", "U-Net: encoder-decoder CNN with skip connections.",
        "segcore.models.unet:build_unet",
        (_DEPTH, _FILTERS, _BN, _DROPOUT, _UP, _ENCODER, _WEIGHTS, _FREEZE, _ENCODER_LR),
    ),
    "reseg": ModelSpec(
        "reseg", "rnn",
        "ReSeg: CNN encoder, ReNet layers (bidirectional RNN sweeps over columns then rows), "
        "upsampling decoder.",
        "segcore.models.reseg:build_reseg",
        (
            Param("encoder_depth", "int", 3, 1, 4, help="2x poolings before the recurrent layers"),
            _FILTERS,
            Param("renet_layers", "int", 1, 1, 3, help="stacked ReNet layers"),
            _RNN, _UNITS,
            Param("skips", "bool", True, help="skip connections from the encoder to the decoder"),
            _BN, _DROPOUT,
        ),
        stride_param="encoder_depth",
    ),
    "unet-renet": ModelSpec(
        "unet-renet", "hybrid", "U-Net whose bottleneck is a ReNet layer: global context from "
        "the RNN with the U-Net's sharp boundaries.",
        "segcore.models.hybrid:build_unet_renet", (_DEPTH, _FILTERS, _RNN, _UNITS, _BN, _DROPOUT, _UP),
    ),
    "deeplabv3plus": ModelSpec(
        "deeplabv3plus", "cnn", "DeepLabV3+: a keras.applications encoder, atrous spatial pyramid "
        "pooling with image pooling, and a decoder joining the stride-4 features.",
        "segcore.models.deeplab:build_deeplabv3plus",
        (
            replace(_ENCODER, default="mobilenet_v2", choices=tuple(ENCODERS)),
            _WEIGHTS,
            Param("output_stride", "choice", 16, choices=(16, 8),
                  help="encoder output stride (8: dilated further, sharper and slower)"),
            Param("aspp_filters", "int", 128, 16, 256, help="filters of the ASPP and decoder"),
            _DROPOUT, _FREEZE, _ENCODER_LR,
        ),
        stride_param="output_stride", stride_exponent=False,
    ),
}


def get_spec(name):
    """The `ModelSpec` of a registered model, or ConfigError naming the choices."""
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"Unknown model {name!r}; choose one of {', '.join(MODELS)}.") from None


def resolve_hparams(name, hparams=None):
    """Returns the model's full hyperparameters: defaults filled in, values checked.

    Raises:
        ConfigError: an unknown name or a value out of range.
    """
    spec = get_spec(name)
    hparams = dict(hparams or {})
    unknown = set(hparams) - {p.name for p in spec.params}
    if unknown:
        raise ConfigError(f"{name}: unknown hyperparameters {', '.join(sorted(unknown))}.")
    resolved = {p.name: p.validate(hparams.get(p.name, p.default), name) for p in spec.params}
    if resolved.get("encoder") == "none":
        unused = [f"--{key.replace('_', '-')}" for key, plain in
                  (("encoder_weights", "none"), ("freeze_epochs", 0), ("encoder_lr_scale", 1.0))
                  if key in resolved and resolved[key] != plain]
        if unused:
            raise ConfigError(f"{name}: {', '.join(unused)} need a pretrained encoder; "
                              "give --encoder (e.g. mobilenet_v2).")
    return resolved


def model_stride(name, **hparams):
    """The factor that input height and width must be multiples of."""
    spec = get_spec(name)
    value = resolve_hparams(name, hparams)[spec.stride_param]
    return 2**value if spec.stride_exponent else int(value)


def build_model(name, input_shape, num_classes, input_norm=None, prior_bias=None, **hparams):
    """Builds a registered model that outputs float32 logits (B, H, W, num_classes).

    Args:
        name: a key of `MODELS`.
        input_shape: (H, W, C); None for H and W accepts any multiple of the stride; C is the
            dataset's channels (`segcore.data.channels`).
        num_classes: number of classes.
        input_norm: {"mean", "std"} per channel, standardized by the model's first layer
            (`InputSpec.normalization()`); None feeds the input as it is (RGB in [0, 1]).
        prior_bias: per-class constants subtracted from the logits at prediction, not in
            training (`prior_correction.PriorCorrection`); None leaves them as they are.
        **hparams: the family's hyperparameters (see `MODELS[name].params`).
    """
    spec = get_spec(name)
    hparams = resolve_hparams(name, hparams)
    stride = model_stride(name, **hparams)
    for side in input_shape[:2]:
        if side is not None and side % stride:
            raise ConfigError(
                f"{name}: input size {input_shape[0]}x{input_shape[1]} must be a multiple of "
                f"{stride} ({'2**' if spec.stride_exponent else ''}{spec.stride_param})."
            )
    module, function = spec.builder.split(":")
    builder = getattr(importlib.import_module(module), function)
    for key in TRAINING_PARAMS:
        hparams.pop(key, None)
    if input_norm is not None:
        hparams["input_norm"] = input_norm
    from segcore.models.prior_correction import with_prior_correction

    return with_prior_correction(builder(tuple(input_shape), int(num_classes), **hparams),
                                 prior_bias)
