"""From a dataset fingerprint, a time budget, the cores and the machine's training speed:
training settings, each with why.

A pure function: the same fingerprint, budget, cores and training speed give the same
settings, so it is tested on made-up fingerprints and speeds. Settings the user gave
(`given`) are kept as they are and the rest are chosen around them (an image size that suits
a given model's stride, a batch that suits a given size).

The figures it rests on are this project's measurements (bench/RESULTS.md, 2 cores):
U-Net trains about 9 images of 256x256 per second on an AMD EPYC Zen 4 (~2.8e5 pixels per
core-second; `size.PIXEL_RATE`, assumed where the speed is not timed: `speed.py` times it); ReSeg
led U-Net on CamVid (0.563 vs 0.512 in 15 min, 0.602 vs 0.589 in 30); U-Net+ReNet on whole
membrane slices led U-Net in native crops (0.793 vs 0.786 in 4 min, 4 seeds); half-resolution
training with median-frequency weights, flips and a 0.75 scale-crop made CamVid's best recipe.
"""

import math

from segcore.models import MODELS
from segcore.training.auto.plan import Plan
from segcore.training.auto.size import choose_size, machine_rate, whole_scale
from segcore.training.auto.targets import balance, label_resize, smoothing

# Training speed in bfloat16 against float32 on a CPU that computes it natively (`python -m
# bench precision`: U-Net 1.73x, ReSeg 1.60x at 256x256 on an AMD EPYC Zen 4).
BFLOAT16_SPEEDUP = 1.6
DEFAULT_MINUTES = 15.0
# Rare classes of small objects (`small_objects`, named in the paste's reason): under this
# share of the pixels, their typical object under this share of its image.
RARE_SHARE = 0.02
SMALL_OBJECT = 0.02
# Gray or multi-band images whose budget keeps whole images at this share of their side or
# more train U-Net+ReNet on them, under it U-Net in native crops (membrane, 4 min, 2-core
# AVX2 Zen 2, float32: U-Net+ReNet on whole slices resized to 0.625 0.793 ± 0.002 over 4
# seeds, flip TTA 0.794 ± 0.002, against U-Net in native crops of the same side 0.786 ±
# 0.004, 0.789 ± 0.004, and U-Net on the same whole slices 0.791, 2 seeds; at 0.4 of the
# side resized slices lost to crops, U-Net 0.774 against 0.784; bench/RESULTS.md).
CONTEXT_SCALE = 0.6
PREFERRED_ENCODERS = ("mobilenet_v2", "efficientnetv2_b0", "mobilenet_v3_large",
                      "efficientnetv2_b1", "resnet50", "convnext_tiny", "mobilenet_v3_small",
                      "efficientnetv2_b2")


def _model(plan, fp, whole_scale):
    """The family: from the data, unless given hyperparameters name another one's.

    `whole_scale(family)` is the share of their side whole images keep on the budget.
    """
    model, reason = _family(plan, fp, whole_scale)
    wanted = {p.split(".", 1)[1] for p in plan.given if p.startswith("hparams.")}
    if "model" not in plan.given and not wanted <= {p.name for p in MODELS[model].params}:
        fits = [name for name, spec in MODELS.items() if wanted <= {p.name for p in spec.params}]
        if fits:
            flags = ", ".join(f"--{w.replace('_', '-')}" for w in sorted(wanted))
            model, reason = fits[0], f"{flags} given: a hyperparameter of {fits[0]}"
    return plan.set("model", model, reason)


def _family(plan, fp, whole_scale):
    if fp.pretrained_available:
        encoder = next(e for e in PREFERRED_ENCODERS + fp.cached_encoders
                       if e in fp.cached_encoders)
        return "deeplabv3plus", (
            f"ImageNet weights of {encoder} are cached and the images are RGB: a pretrained "
            "encoder generalises to new scenes better than one from scratch (not measured "
            "here: no weights were on this machine)")
    if fp.num_classes >= 6 and fp.channels == 3:
        return "reseg", (f"{fp.num_classes} classes in colour scenes: ReSeg's row and column "
                         "sweeps give each pixel the scene's context (CamVid: 0.563 vs U-Net "
                         "0.512 in 15 min)")
    if fp.channels == 3:
        return "unet", (f"{fp.num_classes} classes in colour images: U-Net keeps the finest "
                        "boundaries (ReSeg's lead was measured on street scenes of 11 classes)")
    if "model" in plan.given or {"crop", "patch"} & set(plan.given):
        return "unet", "gray or multi-band images in the crops or patches given: U-Net"
    scale = whole_scale("unet-renet")
    if scale >= CONTEXT_SCALE:
        return "unet-renet", (
            f"gray or multi-band images whose whole extent the budget trains at {scale:.2f} of "
            "their side: U-Net+ReNet, whose row and column sweeps give each pixel the whole "
            "image's context (membrane, 4 min, whole slices at 0.625: 0.793 ± 0.002 against "
            "U-Net in native crops 0.786 ± 0.004, 4 seeds each, bench/RESULTS.md)")
    return "unet", (f"gray or multi-band images that the budget would shrink to {scale:.2f} of "
                    "their side whole: U-Net in native-size crops keeps their fine structure "
                    "(membrane, 4 min, a slow CPU: 0.784 against 0.774 resized)")


def _hparams(plan, fp, model):
    """Depth that suits the smallest image; a pretrained encoder's fine-tuning."""
    side = min(fp.min_size)
    if model in ("unet", "unet-renet"):
        depth = max(2, min(4, int(math.log2(max(side, 4) / 4))))
        plan.set("hparams.depth", depth,
                 f"{depth} poolings: the smallest image ({side} px a side) keeps 4 px or more "
                 "at the bottleneck" if depth < 4 else "4 poolings (U-Net's default)")
    elif model == "reseg":
        depth = max(1, min(3, int(math.log2(max(side, 4) / 8))))
        plan.set("hparams.encoder_depth", depth,
                 f"{depth} poolings before the recurrent sweeps"
                 + (f" (the smallest image is {side} px a side)" if depth < 3 else " (default)"))
    if model in ("deeplabv3plus", "unet") and fp.pretrained_available:
        encoder = next(e for e in PREFERRED_ENCODERS + fp.cached_encoders
                       if e in fp.cached_encoders)
        if plan.set("hparams.encoder", encoder, "the fastest encoder whose ImageNet weights "
                    "are cached") != "none":
            plan.set("hparams.encoder_weights", "imagenet", "the cached ImageNet weights")
            plan.set("hparams.freeze_epochs", 1, "one epoch with the encoder frozen lets the "
                     "new decoder settle before the pretrained weights move")
            plan.set("hparams.encoder_lr_scale", 0.1, "the pretrained encoder moves at a "
                     "tenth of the rate (usual fine-tuning practice)")


def _arithmetic(plan, fp):
    """(precision, speed-up) the run will train in, before `_precision` records it."""
    precision = plan.given.get("precision", "bfloat16" if fp.native_bfloat16 else "float32")
    return precision, BFLOAT16_SPEEDUP if precision == "bfloat16" and fp.native_bfloat16 else 1.0


def _precision(plan, fp):
    """bfloat16 arithmetic where the CPU has it natively (`_arithmetic`'s choice, recorded)."""
    if fp.native_bfloat16:
        plan.set("precision", "bfloat16", "this CPU computes bfloat16 natively (AVX512-BF16 "
                 f"or AMX): about {BFLOAT16_SPEEDUP:g}x the training images per second over "
                 "float32 weights; predictions stay float32")
    else:
        plan.set("precision", "float32", "this CPU has no native bfloat16 instructions: "
                 "emulated bfloat16 would train more slowly")


def _batch(plan, fp, window):
    area = window[0] * window[1]
    batch = 8 if area <= 1.1 * 256 * 256 else 4 if area <= 512 * 512 else 2
    why = (" (CamVid, 15 min: batch 4 and 16 each scored about 0.03 below 8, one seed each)"
           if batch == 8 else " (large windows: fewer per step keep steps frequent)")
    while batch > 1 and fp.train_images // batch < 10:  # the Train page warns below 10
        batch //= 2
        why = " (a small set: smaller batches give more steps)"
    batch = max(1, min(batch, fp.train_images))
    steps = fp.train_images // batch
    return plan.set("batch_size", batch, f"{steps} steps per epoch over {fp.train_images} "
                    f"images of {window[0]}x{window[1]}{why}")


def _augment(plan, fp, window):
    plan.set("augment.hflip", True, "left-right flips keep the meaning of almost any image")
    gray = fp.channels != 3  # gray or multi-band: microscopy, scans, satellites
    plan.set("augment.vflip", gray, "gray or multi-band images (microscopy, scans, satellites) "
             "have no up and down" if gray else "colour scenes have an up (sky) and a down (road)")
    square = window[0] == window[1]
    plan.set("augment.rot90", gray and square,
             "quarter turns: no up and down, square training window" if gray and square else
             "off: " + ("the training window is not square" if gray else
                        "colour scenes have an up and a down"))
    whole = plan.get("crop") is None and plan.get("patch") is None
    if fp.channels == 3:
        if whole:
            plan.set("augment.scale_min", 1.0, "no scale-crop on whole images: zooming into "
                     "windows of 0.75-1 of their sides cost CamVid 0.019 mean IoU in 15 min "
                     "on a 2-core AVX2 CPU (0.574 against 0.593, 3 seeds, bench/RESULTS.md)")
        else:
            plan.set("augment.scale_min", 0.75, "scale-crops from 0.75: objects at other "
                     "distances (CamVid's recipe)")
        plan.set("augment.brightness", 0.1, "light brightness jitter: scenes differ in lighting "
                 "(a CamVid street held out of training, 15 min: 0.419 with this and 0.1 contrast, "
                 "2 seeds, against 0.407 with neither and 0.380 with both at 0.3, one seed each)")
        plan.set("augment.contrast", 0.1, "light contrast jitter: cameras and weather differ")
    else:
        plan.set("augment.scale_min", 1.0, "no scale-crop: such data is usually imaged at one "
                 "scale")
        for name in ("brightness", "contrast"):
            plan.set(f"augment.{name}", 0.0, f"no {name} jitter: gray or multi-band images "
                     "are usually imaged alike (membrane, 4 min: 0.793 with brightness and "
                     "contrast 0.1 and without, 2 seeds, bench/RESULTS.md)")
    plan.set("augment.elastic", 0.0, "no elastic deformation: it cost membrane a sixth of "
             "its epochs in 4 min for no gain (0.785 against 0.791, bench/RESULTS.md)")
    plan.set("augment.paste_rare", 0.0, "no paste by share alone: pasting every class under "
             "2% of the pixels (CamVid's Pole, SignSymbol, Fence, Pedestrian, Bicyclist) cost "
             "0.03 mean IoU in 15 min (0.602 against 0.631, one seed; Fence, a rare class of "
             "large objects, lost most, bench/RESULTS.md)")
    small = small_objects(fp)
    names = ",".join(_names(fp)[c] for c in small)
    plan.set("augment.paste", (),
             f"off, though {names.replace(',', ', ')} are rare classes of small objects (under "
             f"{RARE_SHARE:.0%} of the pixels, objects under {SMALL_OBJECT:.0%} of the image): "
             "pasting such classes cost CamVid 0.026 mean IoU in 15 min on a 2-core AVX2 CPU "
             "(0.565 against 0.591, 2 seeds; Pole up, Fence and Car down) and tied on an "
             f"AVX-512 one (bench/RESULTS.md); to try it: --paste '{names}'" if small else
             "off: no class is both rare and made of small objects")


def _prediction(plan, fp):
    """The TTA that evaluation and prediction use for the run unless told otherwise."""
    whole = plan.get("crop") is None and plan.get("patch") is None
    if fp.channels == 3 and whole:
        plan.set("predict_tta", "auto", "multi-scale and flip TTA when the model predicts, if "
                 "it beats flip TTA on the validation images when training finishes (else "
                 "flip): CamVid's 15-minute models, 12 runs, +0.018 mean IoU over one pass, "
                 "every run up (0.609 against 0.592 for these settings), for about 0.4 s per "
                 "360x480 image on 2 cores; but 0.39 against flip's 0.90 for the demo's shapes, "
                 "all at one scale (bench/RESULTS.md); training's validation stays plain")
    else:
        plan.set("predict_tta", "flip", "flip TTA when the model predicts: membrane's 4-minute "
                 "models, +0.002 mean IoU over one pass for U-Net in crops (4 runs; "
                 "multi-scale +0.001), +0.001 for U-Net+ReNet on whole slices (6 runs; "
                 "multi-scale -0.002, 2 runs), for twice the compute (bench/RESULTS.md); "
                 "training's validation stays plain")


def _names(fp):
    return fp.class_names or tuple(str(i) for i in range(len(fp.class_shares)))


def small_objects(fp):
    """The classes of rare, small objects: under `RARE_SHARE` of the pixels, and their
    typical object (`Fingerprint.object_sizes`) under `SMALL_OBJECT` of the image.

    Example: CamVid's Pole (1.0% of the pixels, objects 0.3% of the image), SignSymbol,
    Pedestrian and Bicyclist, and not Fence (1.5%, but objects of 4%: a fence spans a scene).
    """
    sizes = fp.object_sizes or (0.0,) * len(fp.class_shares)
    return tuple(c for c, (share, size) in enumerate(zip(fp.class_shares, sizes))
                 if 0 < share < RARE_SHARE and 0 < size < SMALL_OBJECT)


def choose_settings(fp, minutes=0.0, cores=2, given=None, patches=True, speed=None):
    """Chooses training settings for a dataset, a time budget and a machine.

    Args:
        fp: a `Fingerprint`.
        minutes: the time budget (0: `DEFAULT_MINUTES` is chosen and said).
        cores: CPU cores training may use.
        given: {path: value} of settings the user gave (CLI flags typed, widgets changed);
            paths as in `Choice.path`. They are kept and the rest chosen around them.
        patches: may choose `--patch`/`--scale` (the Train page does not: its scale slider
            cannot show every scale, so it shrinks the images instead).
        speed: fn(model, precision) -> this machine's training pixels per second for the
            family (`speed.MachineSpeed`), or None; None (or no `speed`) assumes `PIXEL_RATE`
            per core.

    Returns:
        A list of `Choice`s, one per setting, in the order they are decided.
    """
    plan = Plan(given)
    minutes = plan.set("time_budget_min", float(minutes or DEFAULT_MINUTES),
                       f"{minutes:g} minutes, as asked" if minutes else
                       f"no time budget given: {DEFAULT_MINUTES:g} minutes") or DEFAULT_MINUTES
    cores = max(1, int(cores))
    precision, speedup = _arithmetic(plan, fp)
    rates = {}

    def rate_of(family):  # once per family: `speed` may time it (a probe of seconds)
        if family not in rates:
            rates[family] = machine_rate(family, precision, cores, speedup, speed)
        return rates[family]

    model = _model(plan, fp, lambda family: whole_scale(
        fp, family, float(minutes), rate_of(family), speedup))
    _hparams(plan, fp, model)
    _precision(plan, fp)
    plan.set("jit", "off", "TensorFlow's step on its oneDNN kernels: XLA's trains 0.59-0.76x "
             "its images per second on a 2-core AVX2 CPU, and even against TensorFlow's own "
             "kernels (1.2x there) its extra epochs did not raise CamVid's score in 15 min "
             "(0.582 against 0.584, 3 seeds, bench/RESULTS.md)")
    rate = rate_of(model)  # `precision` is what `_precision` recorded
    size, crop = choose_size(plan, fp, model, float(minutes), rate, speedup, patches)
    window = tuple(crop or size)
    batch = _batch(plan, fp, window)
    per_epoch = max(fp.train_images // max(batch, 1), 1) * batch * window[0] * window[1]
    epochs = rate.budget_pixels(float(minutes)) / per_epoch
    pretrained = plan.get("hparams.encoder_weights") == "imagenet"
    rate = 1e-3 if pretrained or batch <= 2 else 3e-3
    plan.set("lr", rate, "Adam at 1e-3: " + ("fine-tuning pretrained weights" if pretrained
                                             else "small batches give noisy gradients")
             if rate < 3e-3 else "Adam at 3e-3 with batch normalization (the measured recipe)")
    plan.set("optimizer", "adam", "Adam: the optimizer of every measured recipe")
    plan.set("schedule", "cosine", "cosine decay over the epochs that fit in the budget")
    plan.set("warmup_epochs", 1.0 if epochs >= 20 else 0.5,
             f"about {epochs:.0f} epochs expected: "
             + ("one warm-up epoch" if epochs >= 20 else "a short warm-up leaves room to decay"))
    plan.set("epochs", int(min(100_000, max(30, math.ceil(3 * epochs)))),
             f"a ceiling above the ~{epochs:.0f} epochs expected: the time budget ends the run")
    plan.set("patience", 0, "no early stop: the budget ends the run and the best epoch is kept")
    balance(plan, fp)
    smoothing(plan)
    _augment(plan, fp, window)
    label_resize(plan, fp)
    _prediction(plan, fp)
    return plan.choices
