"""Quality: train through the CLI within a time budget, then score at full resolution.

`run_quality_seeds` repeats a setting over seeds and reports the mean and spread: one seed's
difference under ~0.01 mean IoU is not known to be real. The kept checkpoint is the one that
scored best on the very images it is scored on, so its figure flatters a little; the last
weights' figure (`mean_iou_last`) does not.
"""

import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import run_cli
from segcore.tta import run_tta

LAST_WEIGHTS = (("mean_iou_last", ("--weights", "last")),)


def scorings(tta, also):
    """The extra scores of a run: (key, `evaluate` arguments) for each TTA mode, then `also`'s."""
    return [(tta_key(mode), ("--tta", mode)) for mode in tta_modes(tta)] + list(also)


def run_quality(data, model, minutes, img_size, extra_args=(), workspace=None, split_args=(),
                tta=False, also=()):
    """Trains `model` on `data` for `minutes` via `python -m segcore train`, then evaluates it.

    Args:
        model: a family, or "auto" (`train --auto`: the family and the rest chosen by segcore).
        img_size: (H, W), or None to leave it to the run.
        tta: also score with test-time augmentation: True or ("flip",) gives `mean_iou_tta`,
            "scales" in it `mean_iou_tta_scales` (`evaluate --tta scales`).
        also: more scores, as (key, `evaluate` arguments) pairs: e.g. `LAST_WEIGHTS`, or
            ("mean_iou_data_val", ("--data", DIR, "--split", "val")) for another dataset.

    Returns:
        A dict with mean_iou, pixel_accuracy, per_class_iou (each image predicted once),
        epochs, train_seconds, run, predict_tta (the run's default TTA, scored only when
        `tta` names it), predict_tta_chosen (the mode an "auto" run measured), and each
        TTA's and `also` key's mean IoU.
    """
    workspace = workspace or tempfile.mkdtemp(prefix="segcore-bench-")
    chosen = ["--auto"] if model == "auto" else ["--model", model]
    size = ["--img-size", f"{img_size[0]}x{img_size[1]}"] if img_size else []
    start = time.perf_counter()
    stdout, _ = run_cli(
        [
            "--workspace", str(workspace), "train",
            "--data", str(data), *chosen, *size,
            "--time-budget", str(minutes),
            "--epochs", "100000",
            *split_args, *extra_args,
        ]
    )
    train_seconds = time.perf_counter() - start
    run_dir = Path(stdout.strip().splitlines()[-1])
    stdout, _ = run_cli(
        # The run remembers its split; evaluate scores the run's own validation images, each
        # predicted once (a run's own `--predict-tta` is scored only when `tta` asks for it).
        ["--workspace", str(workspace), "evaluate", "--run", str(run_dir), "--json",
         "--tta", "off"]
    )
    result = json.loads(stdout)
    epochs = sum(
        1 for line in (run_dir / "metrics.jsonl").read_text().splitlines()
        if '"kind": "epoch"' in line
    )
    scored = {}
    for key, evaluate_args in scorings(tta, also):
        plain = () if "--tta" in evaluate_args else ("--tta", "off")
        stdout, _ = run_cli(["--workspace", str(workspace), "evaluate", "--run", str(run_dir),
                             "--json", *evaluate_args, *plain])
        scored[key] = json.loads(stdout)["mean_iou"]
    config = json.loads((run_dir / "config.json").read_text())["config"]
    return {
        **scored,
        "model": config["model"],
        "img_size": config["img_size"],
        "predict_tta": config.get("predict_tta", "off"),
        # "auto": the mode the run measured on its validation images when it finished.
        "predict_tta_chosen": run_tta(run_dir) or "off",
        "mean_iou": result["mean_iou"],
        "pixel_accuracy": result["pixel_accuracy"],
        "per_class_iou": result["per_class_iou"],
        "epochs": epochs,
        "train_seconds": round(train_seconds, 1),
        "run": str(run_dir),
    }


def tta_modes(tta):
    """("flip",) for True, () for False, else the modes given."""
    return ("flip",) if tta is True else () if not tta else tuple(tta)


def tta_key(mode):
    """The result key of a TTA mode's score: mean_iou_tta (flip), mean_iou_tta_scales."""
    return "mean_iou_tta" if mode == "flip" else f"mean_iou_tta_{mode}"


def spread(values):
    """(mean, sample standard deviation; 0 for one value)."""
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def run_quality_seeds(data, model, minutes, img_size, seeds, extra_args=(), split_args=(),
                      tta=False, also=()):
    """`run_quality` once per seed (`--seed S`); the mean and spread of the scores.

    Returns:
        {"runs": [one `run_quality` dict per seed], "seeds", "mean_iou_mean", "mean_iou_std",
        with `tta` "mean_iou_tta_mean" and "mean_iou_tta_std" (and so on per mode), and the
        same pair for each `also` key}.
    """
    results = []
    for seed in seeds:
        result = run_quality(data, model, minutes, img_size, [*extra_args, "--seed", str(seed)],
                             split_args=split_args, tta=tta, also=also)
        results.append({"seed": seed, **result})
    out = {"runs": results, "seeds": list(seeds)}
    for key in ("mean_iou", *(key for key, _ in scorings(tta, also))):
        mean, std = spread([r.get(key) for r in results])
        out[f"{key}_mean"], out[f"{key}_std"] = mean, std
    return out
