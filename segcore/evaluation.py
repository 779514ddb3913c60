"""Full-resolution evaluation of a run: predictions resized back to each mask's own size."""

import logging
from pathlib import Path

import numpy as np

from segcore.data.classes import IGNORE_LABEL
from segcore.data.dataset import load_dataset
from segcore.data.masks import read_mask
from segcore.errors import DataError, SegcoreError, WorkspaceError
from segcore.fileio import read_json, write_json_atomic
from segcore.inference import RunPredictor
from segcore.metrics import confusion_matrix, json_safe, scores
from segcore.numeric_range import is_finite_number, is_whole_number
from segcore.runs import read_config
from segcore.tta import CHOICE_FILE, tta_mode


def evaluate_run(run_dir, data=None, split="val", which="best", cache=True, on_image=None,
                 tta=False):
    """Scores a run's model on a split, accumulating one confusion matrix over all pixels.

    Args:
        run_dir: the run folder.
        data: dataset folder (default: the one the run trained on).
        split: "train", "val" or "test".
        which: "best" or "last" checkpoint.
        cache: reuse/write `<run>/eval_<split>_<which>.json` when the data is the run's own.
        on_image: optional callback(index, count) for progress.
        tta: test-time augmentation (`inference.RunPredictor`): "flip" (or True) or
            "scales"; kept in caches of their own, `eval_<split>_<which>_tta.json` and
            `eval_<split>_<which>_tta_scales.json`.

    Returns:
        A JSON-ready dict: the keys of `metrics.scores`, `class_names`, `per_image`
        (file, mean_iou, pixel_accuracy; worst first) and `confusion_matrix`.
    """
    run_dir = Path(run_dir)
    config = read_config(run_dir)["config"]  # checked: a damaged config.json raises RunError
    own_data = data is None or Path(data).resolve() == Path(config["data"]).resolve()
    tta = tta_mode(tta)
    suffix = {None: "", "flip": "_tta"}.get(tta, f"_tta_{tta}")
    cache_path = run_dir / f"eval_{split}_{which}{suffix}.json"
    checkpoint = run_dir / f"{which}.keras"
    if (cache and own_data and cache_path.is_file() and checkpoint.is_file()
            and cache_path.stat().st_mtime >= checkpoint.stat().st_mtime):
        cached = read_json(cache_path)
        if _sound_cache(cached, split, which):
            return cached
        # A damaged cache is only a cache: score again and rewrite it.
    predictor = RunPredictor(run_dir, which, tta=tta)
    class_map = predictor.class_map
    dataset = load_dataset(data or config["data"], classes=class_map, split=config.get("split", "auto"),
                           val_fraction=config.get("val_fraction", 0.2), seed=config.get("seed", 0))
    samples = dataset.samples(split)
    if not samples:
        raise DataError(f"{dataset.root}: no images in the {split!r} split.")
    num_classes = class_map.num_classes
    total = np.zeros((num_classes, num_classes), dtype=np.int64)
    per_image = []
    for index, sample in enumerate(samples):
        truth = read_mask(sample.mask, class_map)
        prediction = predictor.predict(predictor.read(sample.image))  # the run's channels
        cm = confusion_matrix(truth, prediction, num_classes, ignore_index=IGNORE_LABEL)
        total += cm
        image_scores = scores(cm)
        per_image.append({"file": sample.image.name, "mean_iou": image_scores["mean_iou"],
                          "pixel_accuracy": image_scores["pixel_accuracy"]})
        if on_image:
            on_image(index + 1, len(samples))
    result = scores(total, class_map.names)
    per_image.sort(key=lambda r: (np.nan_to_num(r["mean_iou"], nan=1.0), r["file"]))
    # `checkpoint` says which weights were scored: last.keras stands in while there is no best.
    result.update(split=split, checkpoint=predictor.which, per_image=per_image, tta=tta or False,
                  confusion_matrix=total.tolist(), images=len(samples))
    result = json_safe(result)
    if cache and own_data and predictor.which == which:
        try:
            write_json_atomic(cache_path, result)
        except WorkspaceError:  # only a cache: the scores stand without it
            logging.getLogger("segcore").warning("cannot keep the scores in %s", cache_path)
    return result


def _sound_cache(result, split, which):
    """True when a cached evaluation has every field the CLI and the Results page read."""
    def number(value, allow_none=False):
        return (value is None and allow_none) or is_finite_number(value)

    if not isinstance(result, dict):
        return False
    try:
        names, matrix = result["class_names"], result["confusion_matrix"]
        count = len(names)
        return (result["split"] == split and result["checkpoint"] == which
                and all(number(result[k]) for k in
                        ("mean_iou", "pixel_accuracy", "mean_class_accuracy", "fw_iou"))
                and is_whole_number(result["images"], minimum=1)
                and all(isinstance(n, str) for n in names)
                and len(result["per_class_iou"]) == count
                and all(number(v, allow_none=True) for v in result["per_class_iou"])
                and len(matrix) == count
                and all(len(row) == count and all(number(v) for v in row) for row in matrix)
                and all(isinstance(r["file"], str) and number(r["mean_iou"], allow_none=True)
                        and number(r["pixel_accuracy"], allow_none=True)
                        for r in result["per_image"]))
    except (KeyError, TypeError):
        return False


def choose_run_tta(run_dir):
    """For a run whose `predict_tta` is "auto", when its training finishes: scores its best
    model on its validation images with flip and with multi-scale TTA (each cached as
    `evaluate --tta` caches it) and keeps the better in `tta.CHOICE_FILE`; flip on a tie, for
    a fifth of the compute. Multi-scale TTA lifts CamVid's models, but ruins a model that only
    saw its objects at one scale (the demo's shapes: 0.39 against 0.90 with flip).

    Returns:
        One line for the training log: the mode chosen and both scores, or why it stays flip.
    """
    try:
        scored = {mode: evaluate_run(run_dir, which="best", tta=mode)["mean_iou"]
                  for mode in ("flip", "scales")}
        flip, scales = (scored[m] if is_finite_number(scored[m]) else -1.0
                        for m in ("flip", "scales"))
        mode = "scales" if scales > flip else "flip"
        write_json_atomic(Path(run_dir) / CHOICE_FILE, {"mode": mode, **scored})
    except Exception as error:  # noqa: BLE001 - a finished training never fails over it
        if not isinstance(error, SegcoreError):
            logging.getLogger("segcore").exception("choosing the prediction TTA failed")
        return f"prediction TTA: flip (multi-scale could not be measured: {error})\n"
    return (f"prediction TTA: {mode} (validation mean IoU with multi-scale TTA {scales:.4f}, "
            f"with flip TTA {flip:.4f})\n")
