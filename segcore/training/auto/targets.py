"""What the loss learns toward, chosen from the fingerprint: the class weighting (and the
prior correction that goes with it), the loss, label smoothing, and how masks shrink with
their images (`--label-resize`). Each function adds its `Choice`s to a `plan.Plan`."""

import math

from segcore.losses import SMOOTHABLE

# Class shares of shrunk training masks held in memory at most (a byte per class a pixel).
SHARES_BYTES = 2**30


def balance(plan, fp):
    shares = [(s, n) for s, n in zip(fp.class_shares, fp.class_names or
                                     [str(i) for i in range(len(fp.class_shares))])]
    present = [(s, n) for s, n in shares if s > 0]
    absent = [n for s, n in shares if s == 0]
    if not present:
        plan.set("class_weights", "none", "no labelled pixel in the sampled masks")
        plan.set("loss", "ce", "cross-entropy")
        return
    rarest, commonest = min(present), max(present)
    ratio = commonest[0] / rarest[0]
    note = f" ({', '.join(absent)} absent from {fp.sampled_masks} sampled masks)" if absent else ""
    if ratio >= 10:
        plan.set("class_weights", "median",
                 f"{commonest[1]} covers {ratio:.0f}x the pixels of {rarest[1]} "
                 f"({rarest[0]:.2%}): median-frequency weights keep rare classes in the loss "
                 f"(CamVid's recipe){note}")
        plan.set("prior_correction", 0.5,
                 "half of the weights' push toward rare classes taken back at prediction: "
                 "weighted training leaves them predicted 3-4x as often as they occur "
                 "(CamVid val, 15 min: +0.045 and +0.027 mean IoU on two seeds, bench/RESULTS.md)")
    else:
        plan.set("class_weights", "none",
                 f"classes are balanced within {ratio:.1f}x (rarest {rarest[1]} "
                 f"{rarest[0]:.1%}){note}")
    if ratio >= 1000:
        plan.set("loss", "ce+dice", f"{rarest[1]} holds {rarest[0]:.3%} of the pixels: Dice "
                 "weighs every class's area alike, which cross-entropy alone cannot at that "
                 "imbalance (not measured here)")
    else:
        plan.set("loss", "ce", "cross-entropy (with the weighting above)")


def smoothing(plan):
    loss = plan.get("loss")
    if loss not in SMOOTHABLE:
        plan.set("label_smoothing", 0.0, f"no label smoothing: the {loss} loss has no "
                 "cross-entropy term to smooth")
        return
    plan.set("label_smoothing", 0.1, "cross-entropy toward smoothed targets: CamVid in 15 min "
             "on a 2-core AVX2 CPU, 6 seeds side by side, 0.592 against 0.582 (won 4, paired t "
             "1.9; Pedestrian +0.05), membrane unchanged; no cost in speed (bench/RESULTS.md)")


def label_resize(plan, fp):
    """Class shares where whole masks shrink and the loss takes them; else the majority
    label where masks shrink; nearest (no change) where they keep their size."""
    size, scale = plan.get("img_size"), plan.get("scale", 1.0)
    patch = plan.get("patch")
    shrinks = (scale < 1.0 if patch else
               size is not None and (size[0] < fp.max_size[0] or size[1] < fp.max_size[1]))
    if not shrinks:
        plan.set("label_resize", "nearest", "masks keep their native size: nothing to shrink")
        return
    held = fp.train_images * size[0] * size[1] * (fp.num_classes + 1) if size else math.inf
    blocker = ("patches take labels" if patch else
               f"the {plan.get('loss')} loss takes labels" if plan.get("loss") != "ce" else
               "pasting copies labels" if plan.get("augment.paste") or
               plan.get("augment.paste_rare", 0) > 0 else
               "the prior fit counts labels" if plan.get("prior_fit") == "train" else
               f"a byte per class a pixel would hold {held / 2**30:.1f} GiB"
               if held > SHARES_BYTES else None)
    if blocker is None:
        plan.set("label_resize", "shares", "masks shrink with the images: each pixel's "
                 "target is every class's share of its footprint, as the shrunk image shows "
                 "it (CamVid in 15 min on a 2-core AVX2 CPU, 2 seeds side by side: 0.608 "
                 "against 0.586 with nearest-neighbour labels, 0.600 with the majority label; "
                 "Pole lower, Car and SignSymbol higher, bench/RESULTS.md)")
    else:
        plan.set("label_resize", "majority", "masks shrink with the images: each pixel takes "
                 f"the label covering most of its footprint ({blocker}, so not the class "
                 "shares); thin structures stay lines rather than dashes (CamVid in 15 min, 2 "
                 "seeds: 0.600 against 0.586 with nearest-neighbour labels, bench/RESULTS.md)")
