"""Quality: train through the CLI within a time budget, then score at full resolution."""

import json
import tempfile
import time
from pathlib import Path

from bench.common import run_cli


def run_quality(data, model, minutes, img_size, extra_args=(), workspace=None, split_args=()):
    """Trains `model` on `data` for `minutes` via `python -m segcore train`, then evaluates it.

    Returns:
        A dict with mean_iou, pixel_accuracy, per_class_iou, epochs, train_seconds, run.
    """
    workspace = workspace or tempfile.mkdtemp(prefix="segcore-bench-")
    height, width = img_size
    start = time.perf_counter()
    stdout, _ = run_cli(
        [
            "--workspace", str(workspace), "train",
            "--data", str(data), "--model", model,
            "--img-size", f"{height}x{width}",
            "--time-budget", str(minutes),
            "--epochs", "100000",
            *split_args, *extra_args,
        ]
    )
    train_seconds = time.perf_counter() - start
    run_dir = Path(stdout.strip().splitlines()[-1])
    stdout, _ = run_cli(
        # The run remembers its split; evaluate scores the run's own validation images.
        ["--workspace", str(workspace), "evaluate", "--run", str(run_dir), "--json"]
    )
    result = json.loads(stdout)
    epochs = sum(
        1 for line in (run_dir / "metrics.jsonl").read_text().splitlines()
        if '"kind": "epoch"' in line
    )
    return {
        "model": model,
        "mean_iou": result["mean_iou"],
        "pixel_accuracy": result["pixel_accuracy"],
        "per_class_iou": result["per_class_iou"],
        "epochs": epochs,
        "train_seconds": round(train_seconds, 1),
        "run": str(run_dir),
    }
