"""Shared benchmark helpers: machine facts, the fp32 matmul peak, medians, JSON output."""

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "datasets"


def machine_info():
    """Returns the facts that make a figure comparable: CPU, cores, versions."""
    import keras
    import numpy
    import tensorflow as tf

    from segcore.cpuinfo import onednn_on
    from segcore.training.auto.speed import cpu_name

    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "onednn": onednn_on(),
    }


def matmul_peak_gflops(size=2048, repeats=5):
    """Measures the fp32 matmul peak in GFLOP/s: the best of several timed square matmuls.

    A matmul of two n x n matrices costs 2 n^3 floating-point operations.
    """
    import tensorflow as tf

    a = tf.random.uniform((size, size), dtype=tf.float32)
    b = tf.random.uniform((size, size), dtype=tf.float32)

    @tf.function
    def chain():
        c = a
        for _ in range(4):
            c = tf.matmul(c, b) * 1e-3
        return tf.reduce_sum(c)

    chain().numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        chain().numpy()
        best = min(best, time.perf_counter() - start)
    return 4 * 2 * size**3 / best / 1e9


def median(values):
    return statistics.median(values)


def print_json(data):
    print(json.dumps(data, indent=2))


def run_python(what, args, env=None, timeout=None):
    """Runs `python ARGS` in the repository, in a fresh process.

    Args:
        what: names the child in the error ("tiling 2048", "segcore train ...").
        args: the arguments after `python`.
        env: the child's whole environment (None: this process's).
        timeout: seconds before `subprocess.TimeoutExpired`.

    Returns:
        The `subprocess.CompletedProcess`, with stdout and stderr as text.

    Raises:
        RuntimeError: the child failed; the message ends with the last of its stderr.
    """
    done = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{what} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done


def last_json(stdout):
    """The JSON on a child's last line of output."""
    return json.loads(stdout.strip().splitlines()[-1])


def run_cli(args, env=None, timeout=None):
    """Runs `python -m segcore ARGS` and returns (stdout, stderr); raises on failure."""
    done = run_python(f"segcore {' '.join(args)}", ["-m", "segcore", *args],
                      dict(os.environ, **(env or {})), timeout)
    return done.stdout, done.stderr


def step_images_per_second(model, images, masks, steps, warmup=1):
    """Images per second of `steps` bare Adam steps on one batch.

    `warmup` untimed steps go first: the first traces the step, and under oneDNN's kernels
    the second is still slow (they pick their implementations on first use).
    """
    from segcore.training.auto.speed import bare_train_step

    step = bare_train_step(model)
    for _ in range(warmup):
        float(step(images, masks))
    start = time.perf_counter()
    for _ in range(steps):
        loss = step(images, masks)
    float(loss)
    return steps * len(images) / (time.perf_counter() - start)
