"""Scale: patch training on datasets larger than memory, streamed from the on-disk cache.

Synthetic 1024x1024 datasets of 250, 1000 and 2000 images (PNG, generated once into `--work`
and reused: the smaller sets are hard links to the first images of the largest) are trained with
256x256 patches for a fixed number of steps, each run in a fresh process through segcore's own
`Trainer` (the `train` command's code path, without its run folder). Reported:

- `peak_rss_ratio`: peak RSS of the training process on 2000 images / on 250 images, both
  streamed from a filled cache (goal <= 1.2: memory stays flat as the dataset grows);
  `peak_rss_ratio_cold` the same on first passes (decoding into the cache);
- `throughput_ratio`: streamed / in-memory training img/s on the 250 images (goal >= 0.9),
  medians over blocks of steps alternated in one process, the streamed blocks reading a filled
  cache (what every epoch after the first does); `throughput_ratio_cold` for blocks whose
  samples are decoded into the cache inside tf.data as they train (a first epoch).

img/s are counted over the steps after the first `WARMUP` (which trace the step function).
"""

import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import REPO, last_json, machine_info, run_python

SIZES = (250, 1000, 2000)
SIDE = 1024
PATCH = (256, 256)
BATCH = 8
STEPS = 24
WARMUP = 4
BLOCK_STEPS = 10  # steps of one alternated block
ROUNDS = 4
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


def _config(data, cache_memory):
    from segcore.training.config import RunConfig

    return RunConfig(data=str(data), model="unet", hparams=dict(HPARAMS), patch=PATCH,
                     batch_size=BATCH, seed=0, epochs=1, cache_memory=cache_memory,
                     augment={"hflip": True, "vflip": True}).validate()


def child(spec):
    """Trains `spec["steps"]` steps in this process; returns img/s and peak RSS (MB)."""
    import io

    from segcore.training.loop import Trainer

    if spec.get("alternate"):
        return alternating_child(spec)
    started = time.perf_counter()
    trainer = Trainer(_config(spec["data"], spec["cache_memory"]), None)
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


def alternating_child(spec):
    """In-memory and streamed img/s measured in one process, in alternated blocks of steps.

    One `Trainer` trains on the 250 images in memory and, between blocks, is handed the same
    images streamed from the cache instead (`trainer.data`), so a load change of the shared
    machine hits both alike. Warm streamed blocks replay epoch 0 (its samples are in the cache
    after the first block); cold ones take an epoch never seen, so their samples are decoded
    into the cache inside tf.data as they train. Each block's first two steps (a new iterator
    filling its prefetch buffer) are not counted, nor the first round (tracing).
    """
    import io

    from segcore.training.data_source import RunData, cache_folder
    from segcore.training.loop import Trainer

    trainer = Trainer(_config(spec["data"], "64GB"), None)
    streamed = RunData(_config(spec["data"], "1MB"), cache_folder(None))
    sources = {"memory": trainer.data, "stream": streamed, "stream_cold": streamed}
    rates = {kind: [] for kind in sources}
    kinds = list(sources)
    for round_ in range(spec["rounds"] + 1):
        for kind in kinds[round_ % 3:] + kinds[:round_ % 3]:  # each kind first in turn
            trainer.data = sources[kind]
            trainer.state["step_in_epoch"] = 0
            clock = _StepClock(spec["steps"])
            trainer.train_epoch(1000 + round_ if kind == "stream_cold" else 0, clock,
                                io.StringIO())
            if round_:
                times = clock.times[1:]
                rates[kind].append((len(times) - 1) * BATCH / (times[-1] - times[0]))
    return {kind: values for kind, values in rates.items()}


def _run_child(data, cache_memory, steps, workspace, **extra):
    spec = {"data": str(data), "cache_memory": cache_memory, "steps": steps, **extra}
    env = {**os.environ, "SEGCORE_HOME": str(workspace), "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": str(REPO)}
    return last_json(run_python("bench scale child", ["-m", "bench.scale", json.dumps(spec)],
                                env).stdout)


def run_scale(work=DEFAULT_WORK, steps=STEPS, rounds=ROUNDS, fresh_cache=True):
    """Generates (or reuses) the datasets and measures; returns the figures as a dict.

    Every size is trained twice in its own process, streamed, for peak RSS: first on an empty
    cache (the first epoch: PNGs decoded inside tf.data as it trains), then on the cache the
    first run filled (every later epoch). Throughput comes from `alternating_child`.

    Args:
        work: folder for the datasets and the workspace with the decoded cache.
        steps: training steps per run.
        rounds: rounds of alternated blocks (in memory, streamed warm, streamed cold).
        fresh_cache: empty the decoded cache first, so the cold figures are real first passes.
    """
    import shutil
    import statistics

    work = Path(work)
    folders = prepare(work)
    workspace = work / "workspace"
    if fresh_cache:
        shutil.rmtree(workspace / "cache", ignore_errors=True)
    workspace.mkdir(parents=True, exist_ok=True)
    stream = "1MB"  # far below what 250 decoded images take (~1 GB)
    runs = {}
    for size in SIZES:
        runs[f"stream_{size}_cold"] = _run_child(folders[size], stream, steps, workspace)
        runs[f"stream_{size}"] = _run_child(folders[size], stream, steps, workspace)
    rates = _run_child(folders[250], None, BLOCK_STEPS, workspace, alternate=True,
                       rounds=rounds)
    runs["alternated_250_img_per_s"] = rates

    def median(kind):
        return statistics.median(rates[kind])

    return {
        "benchmark": "scale",
        "peak_rss_ratio": runs["stream_2000"]["peak_rss_mb"] / runs["stream_250"]["peak_rss_mb"],
        "peak_rss_ratio_cold": (runs["stream_2000_cold"]["peak_rss_mb"]
                                / runs["stream_250_cold"]["peak_rss_mb"]),
        "throughput_ratio": median("stream") / median("memory"),
        "throughput_ratio_cold": median("stream_cold") / median("memory"),
        "runs": runs,
        "settings": {"image": f"{SIDE}x{SIDE}", "patch": "x".join(map(str, PATCH)),
                     "batch": BATCH, "steps": steps, "warmup_steps": WARMUP,
                     "model": f"unet {HPARAMS}", "alternated_rounds": rounds,
                     "block_steps": BLOCK_STEPS},
        "machine": machine_info(),
    }


if __name__ == "__main__":
    print(json.dumps(child(json.loads(sys.argv[1]))))
