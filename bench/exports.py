"""An exported SavedModel served one image at a time, under oneDNN's kernels and TensorFlow's own.

A SavedModel is traced for one (1, H, W, C) image, and oneDNN's convolution fused with
inference-mode batch normalization runs 20-40 times slower on one image than on two
(`segcore.inference.Traced`). `export` therefore writes a `serve` that runs two copies
(`segcore.export.write_saved_model`). This writes both SavedModels of one random-weight model
(speed does not depend on the weights) and times `serve` on one image, each SavedModel loaded
with `tf.saved_model.load` as a user's runtime does, in a fresh process per kernel set
(`python -m bench.exports PATH H W CALLS`: TensorFlow reads `TF_ENABLE_ONEDNN_OPTS` once),
alternating the order over the rounds.
"""

import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.common import last_json, median, run_python
from bench.kernels import SETTINGS
from bench.throughput import model_and_hparams

SIZE = (144, 208)  # about a 15-minute CamVid ReSeg's training size here; U-Net's stride 16
CLASSES = 11
CALLS = 10
EXPORTS = ("one", "two")  # Keras's own `model.export` (one image), segcore's (two copies)


def write_exports(folder, model, size):
    """Writes `folder/one` (Keras's own `model.export`) and `folder/two` (segcore's)."""
    import keras
    import tensorflow as tf

    from segcore.export import write_saved_model
    from segcore.models import build_model

    keras.utils.set_random_seed(0)
    family, hparams = model_and_hparams(model)
    net = build_model(family, (None, None, 3), CLASSES, **hparams)
    signature = tf.TensorSpec((1, *size, 3), tf.float32, name="image")
    net.export(str(Path(folder) / "one"), format="tf_saved_model",
               input_signature=[signature], verbose=False)
    write_saved_model(net, signature, Path(folder) / "two")


def _serve_ms(path, size, calls):
    """In this process: the median milliseconds of `calls` batch-1 `serve` calls (after two)."""
    import time

    import tensorflow as tf

    served = tf.saved_model.load(str(path))
    image = tf.constant(np.random.default_rng(0).random((1, *size, 3), dtype=np.float32))
    times = []
    for index in range(calls + 2):
        start = time.perf_counter()
        served.serve(image).numpy()
        if index >= 2:
            times.append(time.perf_counter() - start)
    return 1e3 * median(times)


def _child(setting, path, size, calls):
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": SETTINGS[setting], "TF_CPP_MIN_LOG_LEVEL": "2"}
    return last_json(run_python(f"serving {path}", ["-m", "bench.exports", path, *size, calls],
                                env).stdout)


def run_exports(models=("reseg", "unet"), size=SIZE, rounds=2, calls=CALLS):
    """One record per model: batch-1 `serve` milliseconds of each export under each kernel
    set (medians of the rounds), and what the two copies gain (`onednn_speedup`) or cost
    (`tensorflow_cost`)."""
    records = []
    for model in models:
        with tempfile.TemporaryDirectory(prefix="segcore-bench-exports-") as folder:
            code = ("import sys; from bench.exports import write_exports; "
                    "write_exports(sys.argv[1], sys.argv[2], (int(sys.argv[3]), int(sys.argv[4])))")
            run_python(f"exporting {model}", ["-c", code, folder, model, *size])
            times = {(s, e): [] for s in SETTINGS for e in EXPORTS}
            for index in range(rounds):
                order = list(SETTINGS) if index % 2 == 0 else list(SETTINGS)[::-1]
                for setting in order:
                    for export in EXPORTS:
                        record = _child(setting, Path(folder) / export, size, calls)
                        if record["onednn"] != (setting == "onednn"):
                            raise RuntimeError(f"TF_ENABLE_ONEDNN_OPTS={SETTINGS[setting]} "
                                               "was not honoured")
                        times[setting, export].append(record["ms"])
        ms = {key: median(values) for key, values in times.items()}
        records.append({
            "model": model, "size": f"{size[0]}x{size[1]}",
            **{f"{s}_{e}_ms": round(ms[s, e], 1) for s in SETTINGS for e in EXPORTS},
            "onednn_speedup": round(ms["onednn", "one"] / ms["onednn", "two"], 2),
            "tensorflow_cost": round(ms["tensorflow", "two"] / ms["tensorflow", "one"], 2),
            "rounds": {f"{s}_{e}": [round(t, 1) for t in times[s, e]]
                       for s in SETTINGS for e in EXPORTS}})
    return records


if __name__ == "__main__":
    from segcore.cpuinfo import onednn_on  # TensorFlow's own answer

    path, height, width, calls = sys.argv[1], *map(int, sys.argv[2:5])
    print(json.dumps({"onednn": onednn_on(), "ms": _serve_ms(path, (height, width), calls)}))
