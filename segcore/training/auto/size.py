"""The training size, crop or patch a time budget buys on this machine, for `choose`.

How many pixels a budget buys (`machine_rate`: the timed rate or the constants) and where
they go: a resize to about `TARGET_EPOCHS` epochs, native-size crops that keep thin
classes sharp, streamed patches when the images do not fit in memory, and a floor on the
side for thin classes under a recurrent family.
"""

import math
from dataclasses import dataclass

from segcore.models import MODELS, model_stride, resolve_hparams

# Native training pixels per core-second (forward + backward), from bench throughput.
PIXEL_RATE = {"unet": 2.8e5, "reseg": 2.8e5, "unet-renet": 2.4e5, "deeplabv3plus": 1.2e5}
# Epochs a budget should allow: the cosine schedule needs room to decay (the measured
# 15-minute CamVid recipe ran 25-31 epochs).
TARGET_EPOCHS = 30
# Past this budget a recurrent family's epochs grow with the square root of the minutes: a
# budget four times as long buys twice the epochs and twice the pixels per image (CamVid,
# ReSeg, bfloat16, 60 min, 2 seeds: 264x352 for ~100 epochs 0.681 and 0.670, against the
# native 360x480's 40-43 epochs 0.624 and 0.644 on older code whose pipeline stalls cost
# epochs; bench/RESULTS.md).
LONG_MINUTES = 15
# Native-size crops replace a resize only down to this scale: smaller crops see too little
# of each image (ReSeg's sweeps and U-Net's bottleneck want the scene).
CROP_SCALE = 0.5
# Gray or multi-band images (microscopy, scans) are texture more than scene: crops down to
# this scale still see enough (membrane, U-Net, 4 min on a slow CPU: native crops of
# 192-208 px 0.784 over four runs against whole slices resized to 208-224 px 0.774 over
# two; bench/RESULTS.md).
TEXTURE_CROP_SCALE = 0.25
# Thin classes in images a recurrent family resizes keep at least this share of the native
# side while the budget still plans `THIN_MIN_EPOCHS` there (CamVid, ReSeg, 15 min, a slow
# CPU, 3 seeds: 120x160 0.588 against the 96x128 the epochs rule chose, 0.572; Pole 0.05
# against 0.02 on every seed; 120x160's 19-24 planned epochs ran 30-37, the probe
# undercounting ReSeg in the loop; bench/RESULTS.md).
THIN_SCALE = 1 / 3
THIN_MIN_EPOCHS = 18
# Share of the budget left for training steps (validation and checkpoints take the rest).
TRAIN_SHARE = 0.8
# Decoded float32 RGB pixels (train + val) held in memory at most: ~12 bytes each, ~2 GB.
MEMORY_PIXELS = 160e6


def round_to(value, stride, low):
    """`value` rounded to a multiple of `stride`, and at least `low`."""
    return max(low, int(round(value / stride)) * stride)


def _patches(plan, fp, stride, scale, minutes, where, epochs=TARGET_EPOCHS):
    """More images than memory holds at the budget's scale: native-size patches (times
    `--scale`) streamed from the on-disk cache, instead of shrinking every image to fit."""
    height, width = fp.median_size
    side = min(512, max(128, scale * math.sqrt(height * width)), scale * min(height, width))
    side = round_to(side, stride, stride)
    plan.set("scale", round(scale, 3), f"{scale:.2f}x the median {height}x{width}: about "
             f"{epochs:.0f} epochs fit in {minutes:g} min {where}")
    plan.set("patch", (side, side), f"{fp.train_images + fp.val_images} images do not fit in "
             f"{MEMORY_PIXELS / 1e6:.0f} M pixels of memory at that scale: random {side}x{side} "
             "patches, the images streamed from disk")
    plan.set("crop", None, "patches instead of crops")
    return None, (side, side)


@dataclass(frozen=True)
class _Rate:
    """Training pixels per second of the whole machine, and whether it was measured here."""

    pixels: float
    measured: bool
    cores: int
    bfloat16: bool
    untimed: bool = False  # a speed was asked for but not timed (the machine was busy)
    unkept: bool = False  # timed while another program ran: used for this run only

    def on(self):
        """'on 2 cores (measured 1.6e+05 px/s)', '... in bfloat16', for the reasons."""
        timed = ""
        if self.measured:
            busy = " while another program ran: not kept for later runs" if self.unkept else ""
            timed = f" (measured {self.pixels:.2g} training px/s{busy})"
        return (f"on {self.cores} cores" + (" in bfloat16" if self.bfloat16 else "") + timed
                + (" (speed assumed: a run was training, so this machine was not timed)"
                   if self.untimed else ""))

    def budget_pixels(self, minutes):
        """Training pixels a budget buys (validation and checkpoints take the rest)."""
        return minutes * 60 * self.pixels * TRAIN_SHARE


def machine_rate(model, precision, cores, speedup, speed):
    """The machine's rate for the family: `speed`'s measurement, else the constants."""
    measured = speed(model, precision) if speed is not None else None
    if measured is not None:
        unkept = f"{model}|{precision}" in getattr(speed, "unkept", {})
        return _Rate(float(measured), True, cores, speedup > 1, unkept=unkept)
    return _Rate(PIXEL_RATE.get(model, 2.5e5) * cores * speedup, False, cores, speedup > 1,
                 untimed=speed is not None)


def choose_size(plan, fp, model, minutes, rate, speedup=1.0, patches=True):
    """Training size (and crop, or patch) from the budget, memory and thin classes.

    Args:
        plan: `plan.Plan`, whose given settings are kept and into which choices go.
        fp: the `Fingerprint`.
        model: the chosen family.
        minutes: the time budget.
        rate: `machine_rate`'s result.
        speedup: bfloat16's speed-up (1.0 in float32).
        patches: may choose streamed patches.

    Returns:
        (img_size, crop): img_size None with patches, crop None for whole images; the
        window a step trains on is `crop or img_size` (a patch returns it as the crop).
    """
    hparams = {k.split(".", 1)[1]: v for k, v in
               ([*plan.given.items()] + [(c.path, c.value) for c in plan.choices])
               if k.startswith("hparams.")}
    hparams = {k: v for k, v in hparams.items() if k in {p for p in resolve_hparams(model)}}
    stride = model_stride(model, **hparams)
    height, width = fp.median_size
    longer = _longer(minutes)
    epochs = _epochs(model, minutes, speedup)
    scale, memory_scale = _scales(fp, epochs, rate.budget_pixels(minutes))
    low = max(stride, 32)
    thin = [fp.class_names[c] if c < len(fp.class_names) else str(c) for c in fp.thin_classes]
    # Crops for convolutional families only: a recurrent sweep trained on a crop's rows meets
    # whole images' longer rows at prediction (CamVid, ReSeg, 15 min: 240x240 native crops
    # 0.470 against a resize to 208x280, bench/RESULTS.md).
    texture = fp.channels != 3
    floor = TEXTURE_CROP_SCALE if texture else CROP_SCALE
    if (thin and floor <= scale < 0.9 and "img_size" not in plan.given
            and "crop" not in plan.given and MODELS[model].family == "cnn"):
        base = memory_scale
        size = (round_to(height * base, stride, low), round_to(width * base, stride, low))
        side = round_to(scale * math.sqrt(height * width), stride, max(low, 96))
        if side < min(size):
            memory = ("" if base >= 1 else f" (scaled by {base:.2f} to fit {MEMORY_PIXELS / 1e6:.0f} "
                      "M pixels in memory)")
            plan.set("img_size", size, f"thin classes ({', '.join(thin)}) lie within "
                     f"{2} px of their edges: kept at the native size{memory} rather than "
                     f"resized by {scale:.2f}, which would thin them away")
            small = (" (gray or multi-band images are texture more than scene: crops this "
                     "small still see enough; membrane 0.784 against 0.774 resized)"
                     if scale < CROP_SCALE else "")
            plan.set("crop", (side, side), f"random {side}x{side} crops at that size: as many "
                     f"pixels per step as a {scale:.2f}x resize, about {epochs:.0f} epochs "
                     f"in {minutes:g} min {rate.on()}{small}")
            return size, (side, side)
    if (patches and memory_scale < scale
            and not {"img_size", "crop", "patch", "scale"} & set(plan.given)):
        return _patches(plan, fp, stride, scale, minutes, rate.on(), epochs)
    factor = min(scale, memory_scale)
    factor = 1.0 if factor >= 0.9 else factor  # a 10% resize saves little and blurs every edge
    lifted = _thin_floor(plan, model, thin, scale, memory_scale, epochs)
    planned = epochs * (scale / lifted) ** 2 if lifted > factor else None
    factor = max(factor, lifted)
    size = (round_to(height * factor, stride, low), round_to(width * factor, stride, low))
    crop = plan.given.get("crop")
    if crop:  # a given crop needs an image at least as large
        size = (max(size[0], crop[0]), max(size[1], crop[1]))
    more = []
    if epochs > TARGET_EPOCHS and speedup > 1:
        more.append("the bfloat16 speed-up buys epochs rather than pixels")
    if epochs > TARGET_EPOCHS and minutes > LONG_MINUTES:
        more.append(f"{minutes / LONG_MINUTES:.2g}x a {LONG_MINUTES}-minute budget buys "
                    f"{longer:.2g}x its epochs, the rest pixels")
    more = f" (a recurrent family: {'; '.join(more)})" if more else ""
    why = (f"{factor:.2f}x the median {height}x{width}: about {epochs:.0f} epochs fit in "
           f"{minutes:g} min {rate.on()}{more}" if factor < 1 else
           f"the median {height}x{width} (a multiple of {stride}): the budget allows the "
           "native size")
    if factor < 1 and memory_scale < scale:
        why = (f"{factor:.2f}x the median {height}x{width}: {fp.train_images + fp.val_images} "
               f"images fit in {MEMORY_PIXELS / 1e6:.0f} M pixels of memory at this size")
    if planned is not None:
        keep = ("a third of the side" if factor >= THIN_SCALE else
                f"as much of the side as {THIN_MIN_EPOCHS} epochs allow (a third is the aim)")
        why = (f"{factor:.2f}x the median {height}x{width}: the thin classes "
               f"({', '.join(thin)}) keep {keep}, about {planned:.0f} epochs in {minutes:g} "
               f"min {rate.on()} "
               "(CamVid, ReSeg, 15 min: 120x160 0.588 against 96x128 0.572 over 3 seeds, "
               "Pole 0.05 against 0.02)")
    size = plan.set("img_size", size, why)
    if not thin:
        why = "whole images (no thin classes to keep at native size)"
    elif factor >= 0.9:
        why = "whole images: the budget allows about the native size"
    elif MODELS[model].family != "cnn":
        why = (f"whole images: {model}'s recurrent sweeps run along whole rows and columns, "
               "which crops would cut short")
    else:
        why = (f"whole images: native-size crops of {scale:.2f} of the side would see too "
               f"little of each {'image' if texture else 'scene'}, so the thin classes "
               f"({', '.join(thin)}) are resized too")
    crop = plan.set("crop", None, why)
    return size, crop


def _epochs(model, minutes, speedup):
    """The epochs a budget should allow the family.

    Recurrent families spend bfloat16's speed-up on epochs, convolutional ones on pixels
    (CamVid, ReSeg, 15 min: 168x224 with 51 epochs 0.582 against 208x280 with 39 epochs
    0.573; membrane, U-Net, 4 min: whole 512x512 slices 0.792 against float32's 384x384
    crops 0.788).
    """
    if MODELS[model].family == "cnn":
        return float(TARGET_EPOCHS)
    return TARGET_EPOCHS * speedup * _longer(minutes)


def _longer(minutes):
    """A long budget's share of epochs: the square root of its multiple of `LONG_MINUTES`."""
    return math.sqrt(max(1.0, minutes / LONG_MINUTES))


def _scales(fp, epochs, budget_pixels):
    """(scale, memory_scale): the share of the median side at which whole images train
    `epochs` epochs on the budget's pixels, and at which they all fit in memory."""
    height, width = fp.median_size
    native_epoch = max(fp.train_images, 1) * height * width
    scale = min(1.0, math.sqrt(budget_pixels / (epochs * native_epoch)))
    held = max(fp.train_images + fp.val_images, 1) * height * width
    return scale, min(1.0, math.sqrt(MEMORY_PIXELS / held))


def whole_scale(fp, model, minutes, rate, speedup=1.0):
    """The share of the median side whole images of the family keep on this budget and in
    memory (1.0: the native size fits)."""
    return min(_scales(fp, _epochs(model, minutes, speedup), rate.budget_pixels(minutes)))


def _thin_floor(plan, model, thin, scale, memory_scale, epochs):
    """The scale thin classes keep for a recurrent family (which cannot crop), or 0."""
    if (not thin or MODELS[model].family == "cnn" or "img_size" in plan.given
            or scale >= THIN_SCALE):
        return 0.0
    return min(THIN_SCALE, scale * math.sqrt(epochs / THIN_MIN_EPOCHS), memory_scale)


__all__ = ["LONG_MINUTES", "MEMORY_PIXELS", "PIXEL_RATE", "TARGET_EPOCHS", "choose_size",
           "machine_rate", "round_to", "whole_scale"]
