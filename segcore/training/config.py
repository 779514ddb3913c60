"""The run configuration: one dataclass behind the CLI flags, the app's widgets and config.json."""

import dataclasses
import json
from dataclasses import dataclass, field

from segcore.class_weights import CLASS_WEIGHTINGS
from segcore.data.augment import AugmentConfig
from segcore.data.dataset import SPLIT_MODES
from segcore.data.shrink import LABEL_RESIZE
from segcore.errors import ConfigError
from segcore.losses import LOSS_HELP, LOSSES, check_smoothing
from segcore.models import MODELS, model_stride, resolve_hparams
from segcore.models.precision import PRECISIONS
from segcore.numeric_range import NumericRange
from segcore.training.prior_fit import FITS
from segcore.widget import Widget

OPTIMIZERS = {
    "adam": "Adam: robust default.",
    "adamw": "AdamW: Adam with decoupled weight decay.",
    "sgd": "SGD with Nesterov momentum.",
}
SCHEDULES = {
    "constant": "Constant learning rate (after warm-up).",
    "cosine": "Linear warm-up, then cosine decay to 1% of the rate at the last epoch "
              "(with a time budget: at the last epoch that fits in it).",
    "plateau": "Halve the rate when validation mean IoU stalls for 2 epochs.",
}
STRATEGIES = {
    "auto": "mirrored when more than one GPU is visible, else one device",
    "one": "the default strategy on one device",
    "mirrored": "all local GPUs, or N logical CPU devices (SEGCORE_CPU_REPLICAS)",
    "multiworker": "MultiWorkerMirroredStrategy configured from TF_CONFIG on every host",
}
JIT = {
    "off": "TensorFlow's graph with its oneDNN kernels",
    "xla": "XLA compiles each step's forward and backward pass into fused kernels (0.59-0.76x "
           "the images per second of oneDNN's kernels in float32 on an AVX2 CPU)",
}
PREDICT_TTA = {
    "off": "each image once",
    "flip": "each image and its left-right mirror, averaged (twice the compute)",
    "scales": "the image and its mirror at 0.75, 1, 1.25 and 1.5 times the trained size, "
              "averaged (about nine times the compute)",
    "auto": "scales if it beats flip on the validation images when training finishes, else "
            "flip (flip until then)",
}
# What the app's sliders offer; a config may hold any value of the field's range.
SIZES = (32, 64, 96, 128, 160, 192, 224, 256, 320, 352, 384, 480, 512)
RATES = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)


def _ints(low, high):
    return NumericRange(low, high, integer=True)


def _floats(low, high, **bounds):
    return NumericRange(low, high, **bounds)


def _option(default, help, choices=None, **extra):
    return field(default=default, metadata={"help": help, "choices": choices, **extra})


@dataclass
class RunConfig:
    """Everything that defines a training run; `config.json` holds one of these."""

    data: str = _option("", "dataset folder (images/ + masks/, or train/ val/ test/)")
    model: str = _option("unet", "model family", tuple(MODELS),
                         widget=Widget("Model family", "model", "select"))
    hparams: dict = field(default_factory=dict, metadata={"help": "model hyperparameters"})
    classes: str | None = _option(None, "class file (JSON) when the dataset has none")
    ignore_index: int | None = _option(None, "mask value of void pixels", range=_ints(0, 255))
    split: str = _option("auto", "validation split when there is no val/ folder", SPLIT_MODES,
                         widget=Widget("Split (without a val/ folder)", "data", "select"))
    val_fraction: float = _option(0.2, "share of images held out for validation",
                                  range=_floats(0, 1, open_high=True),
                                  widget=Widget("Validation fraction", "data", "slider",
                                                0.05, 0.5, 0.05))
    img_size: tuple = _option((128, 128), "training size HxW (images are resized to it)",
                              widget=Widget("Image", "optimization", "size", steps=SIZES))
    crop: tuple | None = _option(None, "random-crop size HxW taken from the resized images",
                                 widget=Widget("Random crop (square)", "advanced", "crop",
                                               steps=SIZES))
    # Native-resolution training (issue 15): patches of the images at their own size, whole
    # images predicted in tiles of the patch for validation, evaluation and prediction.
    patch: tuple | None = _option(None, "train on random HxW patches of the images at their "
                                  "native size (times --scale) instead of resizing them to "
                                  "--img-size; validation predicts whole images in tiles",
                                  widget=Widget("Native-size patch (square; none = resize)",
                                                "advanced", "crop", steps=("none", *SIZES)))
    scale: float = _option(1.0, "with --patch: rescale every image by this factor first",
                           range=_floats(0.05, 4.0),
                           widget=Widget("Patch: image scale", "advanced", "slider",
                                         0.25, 2.0, 0.05))
    oversample_rare: float = _option(0.0, "with --patch: share of patches centred on a pixel of "
                                     "a class drawn uniformly among the classes present",
                                     range=_floats(0.0, 1.0),
                                     widget=Widget("Patch: share centred on a class", "advanced",
                                                   "slider", 0.0, 1.0, 0.05))
    cache_memory: str = _option("auto", "memory for decoded training data, e.g. 512MB or 2GB; "
                                "a larger dataset streams from an on-disk cache (auto: a "
                                "quarter of the memory available)",
                                widget=Widget("Memory for decoded data", "advanced", "steps",
                                              steps=("auto", "256MB", "512MB", "1GB", "2GB",
                                                     "4GB", "8GB", "16GB", "32GB")))
    epochs: int = _option(30, "maximum epochs", range=_ints(1, 100_000),
                          widget=Widget("Epochs", "optimization", "slider", 1, 200, 1))
    batch_size: int = _option(8, "global batch size (split across replicas)", range=_ints(1, 4096),
                              widget=Widget("Batch size", "optimization", "slider", 1, 32, 1))
    lr: float = _option(3e-3, "peak learning rate",
                        range=_floats(0, 10, open_low=True, open_high=True),
                        widget=Widget("Learning rate", "optimization", "steps", steps=RATES))
    optimizer: str = _option("adam", "optimizer", tuple(OPTIMIZERS),
                             widget=Widget("Optimizer", "optimization", "select",
                                           help=" · ".join(OPTIMIZERS.values())))
    weight_decay: float = _option(1e-4, "weight decay (AdamW, SGD)", range=_floats(0, 1),
                                  widget=Widget("Weight decay", "advanced", "steps",
                                                steps=(0.0, 1e-5, 1e-4, 1e-3, 1e-2)))
    momentum: float = _option(0.9, "SGD momentum", range=_floats(0, 1, open_high=True),
                              widget=Widget("SGD momentum", "advanced", "slider", 0.0, 0.99, 0.01))
    schedule: str = _option("cosine", "learning-rate schedule", tuple(SCHEDULES),
                            widget=Widget("Schedule", "optimization", "select",
                                          help=" · ".join(SCHEDULES.values())))
    warmup_epochs: float = _option(1.0, "linear warm-up epochs", range=_floats(0, 1000),
                                   widget=Widget("Warm-up epochs", "advanced", "slider",
                                                 0.0, 5.0, 0.5))
    loss: str = _option("ce", "loss", tuple(LOSSES),
                        widget=Widget("Loss", "optimization", "select", help="\n".join(
                            f"- **{name}**: {text}" for name, text in LOSS_HELP.items())))
    # Issue 17: 0.1 on CamVid's 15-minute --auto runs: +0.013 over 3 seeds, one lost (RESULTS.md).
    label_smoothing: float = _option(
        0.0, "label smoothing of the cross-entropy: the share of each pixel's target spread "
        "evenly over the classes (0 = off)", range=_floats(0, 1, open_high=True),
        widget=Widget("Label smoothing", "optimization", "steps",
                      steps=(0.0, 0.05, 0.1, 0.2),
                      help="The share of each pixel's target spread over all classes: the "
                           "loss stops pushing logits apart once a pixel is right. Applies to "
                           "the losses with a cross-entropy term."))
    # Issue 17: shrunk by nearest neighbour, CamVid's poles break into dashes
    # (segcore/data/shrink.py, bench/RESULTS.md).
    label_resize: str = _option(
        "nearest", "how masks shrink with their images: nearest (the label at one point of "
        "each pixel's footprint), majority (the label covering most of each pixel's footprint) or "
        "shares (every class's share of it, a soft target)",
        tuple(LABEL_RESIZE),
        widget=Widget("Mask shrinking", "data", "select",
                      help=" · ".join(f"{k}: {v}" for k, v in LABEL_RESIZE.items())))
    class_weights: str = _option("none", "class weighting from training pixel counts",
                                 CLASS_WEIGHTINGS,
                                 widget=Widget("Class weighting", "optimization", "select"))
    # Issue 17: a weighted loss leaves rare classes over-predicted, the more the heavier
    # their weight; half of it taken back at prediction scored CamVid +0.03-0.045 mean IoU (2 seeds)
    # (segcore/models/prior_correction.py, bench/RESULTS.md).
    prior_correction: float = _option(
        0.5, "with class weights: share of the log class weights taken off the logits at "
        "prediction (0 = predict as trained, 1 = as if trained unweighted)", range=_floats(0, 1),
        widget=Widget("Prior correction (with class weights)", "optimization", "steps",
                      steps=(0.0, 0.25, 0.5, 0.75, 1.0)))
    # The share fitted to the run on its own training batches (segcore/training/prior_fit.py).
    prior_fit: str = _option(
        "fixed", "with class weights: keep --prior-correction (fixed) or, each epoch, put in "
        "force the share that scores best on the epoch's training batches (train)", FITS,
        widget=Widget("Prior correction set", "optimization", "select",
                      help="How the prior correction's share is set. fixed: the value "
                           "above, for the whole run. train: after each epoch, the share (0 to "
                           "1 in eighths) whose predictions scored the best mean IoU on that "
                           "epoch's training batches; the value above only starts the run. "
                           "The fitted share is in each epoch's record (Results: Metric)."))
    augment: AugmentConfig = field(
        default_factory=AugmentConfig, metadata={"help": "augmentations"}
    )
    # NumPy and Keras seeds are 32-bit; a negative one fails deep inside them.
    seed: int = _option(0, "random seed (same seed, same run on a CPU)", range=_ints(0, 2**32 - 1),
                        widget=Widget("Seed", "data", "number", 0, 2**32 - 1, 1))
    patience: int = _option(0, "early stopping: epochs without a better val mean IoU (0 = off)",
                            range=_ints(0, 100_000),
                            widget=Widget("Early-stopping patience (0 = off)", "data", "slider",
                                          0, 50, 1))
    # A year at most: an infinite budget passes the start and breaks the schedule's horizon.
    time_budget_min: float = _option(
        0.0, "stop at the first epoch end past this many minutes (0 = off)",
        range=_floats(0, 525_600), flag="time_budget",
        widget=Widget("Time budget, minutes (0 = none)", "data", "number", 0.0, 24 * 60.0, 1.0),
    )
    # Issue 17: 0.999 averages over about the last 1000 steps (with a warm-up, segcore/training/ema.py).
    ema: float = _option(0.0, "exponential moving average of the weights for validation and "
                         "checkpoints: its decay, e.g. 0.999 (0 = off)",
                         range=_floats(0, 1, open_high=True),
                         widget=Widget("Weight average (EMA decay, 0 = off)", "advanced", "steps",
                                       steps=(0.0, 0.99, 0.995, 0.999, 0.9995)))
    # Issue 17: bfloat16 arithmetic over float32 weights, ~1.6x the images per second on a CPU
    # with AVX512-BF16 or AMX (segcore/models/precision.py); predictions are always float32.
    precision: str = _option("float32", "arithmetic of training: float32, or bfloat16 over "
                             "float32 weights (mixed precision)", tuple(PRECISIONS),
                             widget=Widget("Training arithmetic", "advanced", "select",
                                           help=" · ".join(f"{k}: {v}" for k, v in
                                                           PRECISIONS.items())))
    # Issue 17: the compiler of the training step (segcore/training/loop.py, `python -m bench
    # jit`); `--auto` leaves it off (bench/RESULTS.md).
    jit: str = _option("off", "compiler of each training step's forward and backward pass: "
                       "off (TensorFlow's kernels) or xla (XLA's fused kernels)", tuple(JIT),
                       widget=Widget("Step compiler", "advanced", "select",
                                     help=" · ".join(f"{k}: {v}" for k, v in JIT.items())))
    # Issue 17: how `evaluate`, `predict` and the app predict with the run's model unless told
    # otherwise (segcore/tta.py); validation during training, and so the choice of best.keras,
    # is always plain.
    predict_tta: str = _option(
        "off", "test-time augmentation that evaluate, predict and the app use for this run's "
        "model unless told otherwise: off, flip, scales, or auto (scales if it beats flip "
        "on the validation images when training finishes; training's validation is plain)",
        tuple(PREDICT_TTA),
        widget=Widget("Prediction TTA (default of this run)", "advanced", "select",
                      help=" · ".join(f"{k}: {v}" for k, v in PREDICT_TTA.items())
                      + ". Evaluation and prediction use it unless told otherwise; "
                        "validation during training is always plain."))
    strategy: str = _option("auto", "tf.distribute strategy", tuple(STRATEGIES))
    log_every: int = _option(5, "write a train-loss record every N steps", range=_ints(1, 1_000_000),
                             widget=Widget("Log train loss every N steps", "advanced", "slider",
                                           1, 50, 1))

    def __post_init__(self):
        if isinstance(self.augment, dict):
            self.augment = AugmentConfig.from_json(self.augment)
        self.img_size = parse_size(self.img_size)
        self.crop = parse_size(self.crop) if self.crop else None
        self.patch = parse_size(self.patch) if self.patch else None

    def validate(self):
        """Checks types, ranges and choices; returns the config with model hyperparameters resolved.

        Every numeric field must be a finite number inside its `range` (NaN and infinity are
        refused: they would train to a NaN loss or fail only after the first epoch).

        Raises:
            ConfigError: one sentence naming the flag and the allowed values.
        """
        for f in dataclasses.fields(self):
            choices = f.metadata.get("choices")
            if choices and getattr(self, f.name) not in choices:
                raise ConfigError(
                    f"{flag_name(f)} {getattr(self, f.name)!r} is not one of "
                    f"{', '.join(choices)}."
                )
            value = getattr(self, f.name)
            if "range" in f.metadata and not (value is None and f.default is None):
                setattr(self, f.name, f.metadata["range"].check(value, flag_name(f)))
        if not isinstance(self.augment, AugmentConfig):
            raise ConfigError("The augmentations must be a JSON object (hflip, scale_min, ...).")
        self.augment.validate()
        check_smoothing(self.loss, self.label_smoothing)
        self._validate_shares()
        if not isinstance(self.hparams, dict):
            raise ConfigError(f"The model hyperparameters must be a JSON object, not {self.hparams!r}.")
        self.hparams = resolve_hparams(self.model, self.hparams)
        stride = model_stride(self.model, **self.hparams)
        for name, size in (("img_size", self.img_size), ("crop", self.crop),
                           ("patch", self.patch)):
            if size and (size[0] % stride or size[1] % stride):
                raise ConfigError(
                    f"--{name.replace('_', '-')} {size[0]}x{size[1]} must be a multiple of "
                    f"{stride} for {self.model} with these settings."
                )
        if self.crop and (self.crop[0] > self.img_size[0] or self.crop[1] > self.img_size[1]):
            raise ConfigError("--crop must not be larger than --img-size.")
        self._validate_patch()
        return self

    def _validate_shares(self):
        if self.label_resize != "shares":
            return
        clash = ("--patch: patches keep their pixels, and their masks take labels"
                 if self.patch else
                 f"--loss {self.loss}: shares train cross-entropy only (--loss ce)"
                 if self.loss != "ce" else
                 "--paste or --paste-rare: pasting copies labels, not shares"
                 if self.augment.paste or self.augment.paste_rare > 0 else
                 "--prior-fit train: the fit counts labels, not shares"
                 if self.prior_fit == "train" else None)
        if clash:
            raise ConfigError(f"--label-resize shares does not go with {clash}; use "
                              "--label-resize majority.")

    def _validate_patch(self):
        from segcore.data.streaming import parse_memory

        if self.patch and self.crop:
            raise ConfigError("--patch and --crop exclude each other: a patch is already a "
                              "random window of the image.")
        if not self.patch and (self.scale != 1.0 or self.oversample_rare):
            raise ConfigError("--scale and --oversample-rare apply with --patch HxW only.")
        parse_memory(self.cache_memory)

    def to_json(self):
        data = dataclasses.asdict(self)
        data["img_size"] = list(self.img_size)
        data["crop"] = list(self.crop) if self.crop else None
        data["patch"] = list(self.patch) if self.patch else None
        return data

    @classmethod
    def from_json(cls, data):
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        # Written before prior correction existed: its runs predicted uncorrected, and a
        # resume must go on predicting so.
        values.setdefault("prior_correction", 0.0)
        return cls(**values)

    def dumps(self):
        return json.dumps(self.to_json(), indent=2)


def flag_name(f):
    """The CLI flag of a dataclass field: `--name-with-dashes` (or its `flag` metadata)."""
    return "--" + f.metadata.get("flag", f.name).replace("_", "-")


def parse_size(value):
    """Parses "HxW", "N", (H, W) or [H, W] into a (H, W) tuple of ints."""
    if value is None:
        return None
    try:
        if isinstance(value, str):
            parts = value.lower().replace(",", "x").split("x")
            parts = parts * 2 if len(parts) == 1 else parts
            height, width = (int(p) for p in parts)
        else:
            height, width = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"Size {value!r} is not of the form HxW (e.g. 256x256).") from None
    if height < 8 or width < 8 or height > 8192 or width > 8192:
        raise ConfigError(f"Size {height}x{width} must lie between 8 and 8192 per side.")
    return height, width
