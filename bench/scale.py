"""Scale: patch training on datasets larger than memory, streamed from the on-disk cache.

Synthetic 1024x1024 datasets of 250, 1000 and 2000 images (PNG, generated once into `--work`
and reused: the smaller sets are hard links to the first images of the largest) are trained with
256x256 patches for a fixed number of steps, each run in a fresh process through segcore's own
`Trainer` (the `train` command's code path, without its run folder). Reported:

- `peak_rss_ratio`: peak RSS of the training process on 2000 images / on 250 images, both
  streamed (goal <= 1.2: memory stays flat as the dataset grows);
- `throughput_ratio`: streamed / in-memory training img/s on the 250 images (goal >= 0.9),
  the streamed run reading a warm cache (what every epoch after the first does);
  `throughput_ratio_cold` is the first pass, decoding PNGs inside tf.data as it trains.

img/s are counted over the steps after the first `WARMUP` (which trace the step function).
"""

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import REPO, machine_info

SIZES = (250, 1000, 2000)
SIDE = 1024
PATCH = (256, 256)
BATCH = 8
STEPS = 24
WARMUP = 4
HPARAMS = {"depth": 3, "base_filters": 16}
DEFAULT_WORK = Path("/tmp/segcore-bench-scale")
VAL_IMAGES = 2


def _picture(rng):
    """One 1024x1024 image and its 3-class mask: smooth shading, discs and bars, light grain."""
    import cv2

    coarse = rng.random((SIDE // 64, SIDE // 64, 3)).astype(np.float32)
    image = cv2.resize(coarse, (SIDE, SIDE), interpolation=cv2.INTER_CUBIC) * 120 + 40
    mask = np.zeros((SIDE, SIDE), np.uint8)
    for _ in range(12):
        y, x = (int(v) for v in rng.integers(0, SIDE, 2))
        cv2.circle(mask, (x, y), int(rng.integers(20, 90)), 1, -1)
    for _ in range(6):
        y, x = (int(v) for v in rng.integers(0, SIDE, 2))
        cv2.rectangle(mask, (x, y), (x + int(rng.integers(8, 30)), y + 200), 2, -1)
    image[mask == 1] += (90, 20, 0)
    image[mask == 2] += (0, 40, 90)
    image += rng.normal(0, 6, (SIDE, SIDE, 1)).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8), mask


def prepare(work):
    """The datasets under `work` (generated on first use): {size: folder}."""
    import cv2

    work = Path(work)
    pool = work / "pool"
    count = max(SIZES) + VAL_IMAGES
    for sub in ("images", "masks"):
        (pool / sub).mkdir(parents=True, exist_ok=True)
    for index in range(count):
        name = f"img_{index:05d}.png"
        if not (pool / "masks" / name).is_file():
            image, mask = _picture(np.random.default_rng([0, index]))  # the same bytes every time
            cv2.imwrite(str(pool / "images" / name), image)
            cv2.imwrite(str(pool / "masks" / name), mask)  # written last: it marks a done pair
    folders = {}
    for size in SIZES:
        folder = work / f"data-{size}"
        for split, names in (("train", range(size)), ("val", range(count - VAL_IMAGES, count))):
            for sub in ("images", "masks"):
                target = folder / split / sub
                target.mkdir(parents=True, exist_ok=True)
                for index in names:
                    link = target / f"img_{index:05d}.png"
                    if not link.exists():
                        os.link(pool / sub / link.name, link)
        folders[size] = folder
    return folders


class _StepClock:
    """A stop request that is true after `steps` steps, noting when each step ended."""

    def __init__(self, steps):
        self.steps, self.times = steps, []

    def __bool__(self):
        self.times.append(time.perf_counter())
        return len(self.times) >= self.steps


def child(spec):
    """Trains `spec["steps"]` steps in this process; returns img/s and peak RSS (MB)."""
    import io

    from segcore.training.config import RunConfig
    from segcore.training.loop import Trainer

    started = time.perf_counter()
    config = RunConfig(data=spec["data"], model="unet", hparams=dict(HPARAMS), patch=PATCH,
                       batch_size=BATCH, seed=0, epochs=1, cache_memory=spec["cache_memory"],
                       augment={"hflip": True, "vflip": True}).validate()
    trainer = Trainer(config, None)
    ready = time.perf_counter()
    clock = _StepClock(spec["steps"])
    trainer.train_epoch(0, clock, io.StringIO())
    timed = clock.times[WARMUP - 1:]
    return {
        "images": trainer.data.train_count,
        "streaming": trainer.data.streaming,
        "img_per_s": (len(timed) - 1) * BATCH / (timed[-1] - timed[0]),
        "setup_s": ready - started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _run_child(data, cache_memory, steps, workspace):
    spec = {"data": str(data), "cache_memory": cache_memory, "steps": steps}
    env = {**os.environ, "SEGCORE_HOME": str(workspace), "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "bench.scale", json.dumps(spec)], cwd=REPO,
                            env=env, capture_output=True, text=True, check=False)
    if result.returncode:
        raise RuntimeError(f"bench scale child failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_scale(work=DEFAULT_WORK, steps=STEPS, fresh_cache=True):
    """Generates (or reuses) the datasets and measures; returns the figures as a dict.

    Args:
        work: folder for the datasets and the workspace with the decoded cache.
        steps: training steps per run.
        fresh_cache: empty the decoded cache first, so the cold figure is a real first pass.
    """
    import shutil

    work = Path(work)
    folders = prepare(work)
    workspace = work / "workspace"
    if fresh_cache:
        shutil.rmtree(workspace / "cache", ignore_errors=True)
    workspace.mkdir(parents=True, exist_ok=True)
    stream, memory = "1MB", "64GB"  # far below / above what 250 decoded images take (~1 GB)
    runs = {"memory_250": _run_child(folders[250], memory, steps, workspace),
            "stream_250_cold": _run_child(folders[250], stream, steps, workspace),
            "stream_250": _run_child(folders[250], stream, steps, workspace)}
    for size in SIZES[1:]:
        runs[f"stream_{size}"] = _run_child(folders[size], stream, steps, workspace)
    assert not runs["memory_250"]["streaming"] and runs["stream_2000"]["streaming"]
    return {
        "benchmark": "scale",
        "peak_rss_ratio": runs["stream_2000"]["peak_rss_mb"] / runs["stream_250"]["peak_rss_mb"],
        "throughput_ratio": runs["stream_250"]["img_per_s"] / runs["memory_250"]["img_per_s"],
        "throughput_ratio_cold": (runs["stream_250_cold"]["img_per_s"]
                                  / runs["memory_250"]["img_per_s"]),
        "runs": runs,
        "settings": {"image": f"{SIDE}x{SIDE}", "patch": "x".join(map(str, PATCH)),
                     "batch": BATCH, "steps": steps, "warmup_steps": WARMUP,
                     "model": f"unet {HPARAMS}"},
        "machine": machine_info(),
    }


if __name__ == "__main__":
    print(json.dumps(child(json.loads(sys.argv[1]))))
