"""TensorFlow's oneDNN kernels against its own: training images per second.

TensorFlow reads `TF_ENABLE_ONEDNN_OPTS` once, when it is imported, so each setting is timed
in a child process of its own (`python -m bench.kernels CASES`), alternating on, off, off,
on, ... over the rounds; each figure is the median of the rounds, each round the mean of
its timed steps (`common.step_images_per_second`, after two untimed steps). The step is the
training loop's (forward, backward, Adam) on random data of the case's shape, in float32.
"""

import json
import os
import sys

import numpy as np

from bench.common import last_json, median, run_python, step_images_per_second
from bench.jit import CASES

SETTINGS = {"onednn": "1", "tensorflow": "0"}


def _time_cases(cases, steps=3):
    """In this process: training img/s for each case (after two untimed steps)."""
    import keras
    import tensorflow as tf

    from segcore.models import build_model

    rates = []
    for model, height, width, channels, classes, batch in cases:
        keras.utils.set_random_seed(0)
        net = build_model(model, (None, None, channels), classes)
        rng = np.random.default_rng(0)
        images = tf.constant(rng.random((batch, height, width, channels), dtype=np.float32))
        masks = tf.constant(rng.integers(0, classes, (batch, height, width)), tf.int32)
        rates.append(step_images_per_second(net, images, masks, steps, warmup=2))
    return rates


def _child(setting, cases):
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": SETTINGS[setting],
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    record = last_json(run_python(f"bench kernels ({setting})",
                                  ["-m", "bench.kernels", json.dumps(cases)], env).stdout)
    if record["onednn"] != (setting == "onednn"):
        raise RuntimeError(f"TF_ENABLE_ONEDNN_OPTS={SETTINGS[setting]} was not honoured")
    return record["img_per_s"]


def run_kernels(cases=CASES, rounds=3):
    """Returns one record per case: img/s with each kernel set, and their ratio."""
    cases = [list(case) for case in cases]
    rates = {setting: [] for setting in SETTINGS}
    for index in range(rounds):
        order = ("onednn", "tensorflow") if index % 2 == 0 else ("tensorflow", "onednn")
        for setting in order:
            rates[setting].append(_child(setting, cases))
    records = []
    for number, (model, height, width, channels, _, batch) in enumerate(cases):
        on, off = (median([r[number] for r in rates[s]]) for s in ("onednn", "tensorflow"))
        records.append({"model": model, "window": f"{height}x{width}x{channels}", "batch": batch,
                        "tensorflow_img_per_s": round(off, 2), "onednn_img_per_s": round(on, 2),
                        "speedup": round(on / off, 3),
                        "rounds": {s: [round(r[number], 2) for r in rates[s]]
                                   for s in SETTINGS}})
    return records


if __name__ == "__main__":
    from segcore.cpuinfo import onednn_on

    img_per_s = _time_cases([tuple(case) for case in json.loads(sys.argv[1])])
    print(json.dumps({"onednn": onednn_on(), "img_per_s": img_per_s}))
