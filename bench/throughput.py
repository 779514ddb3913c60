"""Throughput: segcore's training loop against a bare Keras `model.fit` on the same model.

Both train the identical model (same builder, hyperparameters, optimizer and loss) on the same
in-memory images at 256x256, batch 8. segcore runs its whole loop (tf.data pipeline with
augmentation, per-epoch validation excluded from the timing, metrics and checkpoint logging);
`model.fit` gets plain tensors. Each measurement runs in a fresh process; the contenders
alternate A B, B A, A B... and each figure is the median of the pairs, so drifts of a shared
machine hit both alike.
"""

import io
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import machine_info, matmul_peak_gflops, median, run_python
from segcore.training.auto.speed import bare_train_step

SIZE = (256, 256)
BATCH = 8
IMAGES = 64
EPOCHS = 3


def model_and_hparams(model):
    """"family" or "family+encoder" (e.g. "unet+mobilenet_v2") -> (family, hparams).

    Encoders start from random weights here: throughput does not depend on their values.
    """
    family, _, encoder = model.partition("+")
    return family, ({"encoder": encoder} if encoder else {})


def _dataset(folder):
    from segcore.data.synthetic import make_synthetic

    return make_synthetic(Path(folder) / "data", count=IMAGES + 8, size=SIZE, seed=0)


def segcore_images_per_second(data, model, workspace):
    """Trains EPOCHS epochs through segcore's loop; img/s over the epochs after the first."""
    import keras

    from segcore import runs
    from segcore.training import loop
    from segcore.training.config import RunConfig

    keras.backend.clear_session()
    family, hparams = model_and_hparams(model)
    config = RunConfig(data=str(data), model=family, hparams=hparams, img_size=SIZE,
                       epochs=EPOCHS, batch_size=BATCH,
                       val_fraction=8 / (IMAGES + 8), seed=0, schedule="constant",
                       warmup_epochs=0)
    path = runs.create_run(workspace, config)
    loop.train(config, path, stream=io.StringIO())
    epochs, _ = runs.read_metrics(path)
    timed = epochs[1:]
    return sum(e["train_images"] for e in timed) / sum(e["train_seconds"] for e in timed)


def _model_and_tensors(data, model):
    """The identical model, compiled with segcore's optimizer and loss, and the images in memory."""
    import keras
    import tensorflow as tf

    from segcore.data import load_dataset
    from segcore.data.pipeline import load_arrays
    from segcore.models import build_model

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    dataset = load_dataset(data, val_fraction=8 / (IMAGES + 8), seed=0)
    images, masks = load_arrays(dataset.samples("train"), dataset.class_map, SIZE)
    family, hparams = model_and_hparams(model)
    net = build_model(family, (None, None, 3), dataset.class_map.num_classes, **hparams)
    net.compile(optimizer=keras.optimizers.Adam(3e-3),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return net, tf.constant(images), tf.constant(masks.astype(np.int32))


def keras_fit_images_per_second(data, model):
    """Trains the same model with `model.fit` on in-memory tensors; same timing window."""
    import keras

    net, x, y = _model_and_tensors(data, model)

    class EpochTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.start)

    timer = EpochTimer()
    net.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=True, verbose=0, callbacks=[timer])
    return (EPOCHS - 1) * len(x) / sum(timer.times[1:])


def raw_step_images_per_second(data, model):
    """The least a loop can do: one `tf.function` step per in-memory batch, nothing else."""
    net, x, y = _model_and_tensors(data, model)
    step = bare_train_step(net, net.optimizer, net.loss)
    batches = [(x[i:i + BATCH], y[i:i + BATCH]) for i in range(0, len(x) - BATCH + 1, BATCH)]
    times = []
    for _ in range(EPOCHS):
        start = time.perf_counter()
        for images, masks in batches:
            loss = step(images, masks)
        float(loss)
        times.append(time.perf_counter() - start)
    return (EPOCHS - 1) * len(batches) * BATCH / sum(times[1:])


_CONTENDERS = {
    "segcore": "segcore_images_per_second(data, model, Path(workspace))",
    "keras_fit": "keras_fit_images_per_second(data, model)",
    "raw_step": "raw_step_images_per_second(data, model)",
}


def measure_in_fresh_process(contender, data, model, workspace):
    """Images/s of one contender, measured in a new Python process.

    One process per measurement: a model trained earlier in the same process slowed the next
    one by up to a fifth (segcore 9.1 img/s alone, 7.2 after a bare step had run), which
    in-process alternation could not cancel.
    """
    code = ("import sys; from pathlib import Path; from bench.throughput import *; "
            "data, model, workspace = sys.argv[1:4]; print(" + _CONTENDERS[contender] + ")")
    done = run_python(f"{contender} on {model}", ["-c", code, data, model, workspace])
    return float(done.stdout.strip().splitlines()[-1])


def gflop_per_image(model):
    """Training cost: 3x the forward FLOPs (forward, and backward for inputs and weights)."""
    from segcore.models import build_model
    from segcore.models.flops import forward_flops

    family, hparams = model_and_hparams(model)
    return 3 * forward_flops(build_model(family, (*SIZE, 3), 4, **hparams)) / 1e9


def run_throughput(models=("unet", "reseg", "unet-renet"), pairs=3, raw_step=False):
    """Returns one record per model with the keys listed in issue 6.

    With `raw_step`, each round also times a bare `tf.function` step on the same tensors
    (A B C, C B A, ...), adding `raw_step_img_per_s` and `ratio_to_raw_step`.
    """
    peak = matmul_peak_gflops()
    records = []
    with tempfile.TemporaryDirectory() as folder:
        data = _dataset(folder)
        workspace = Path(folder) / "workspace"
        workspace.mkdir()
        for model in models:
            rates = {"segcore": [], "keras_fit": []} | ({"raw_step": []} if raw_step else {})
            for index in range(pairs):
                # A B, B A, A B...: a drift of the machine hits no contender always first.
                order = list(rates)[::-1] if index % 2 else list(rates)
                for contender in order:
                    rates[contender].append(
                        measure_in_fresh_process(contender, data, model, workspace))
            ours, theirs, raw = rates["segcore"], rates["keras_fit"], rates.get("raw_step")
            segcore_rate, keras_rate = median(ours), median(theirs)
            gflop = gflop_per_image(model)
            achieved = segcore_rate * gflop
            record = {
                "model": model,
                "segcore_img_per_s": round(segcore_rate, 2),
                "keras_fit_img_per_s": round(keras_rate, 2),
                "ratio": round(segcore_rate / keras_rate, 3),
                "gflop_per_img": round(gflop, 2),
                "achieved_gflop_per_s": round(achieved, 1),
                "peak_gflop_per_s": round(peak, 1),
                "efficiency": round(achieved / peak, 3),
                "pairs": {"segcore": [round(v, 2) for v in ours],
                          "keras_fit": [round(v, 2) for v in theirs]},
            }
            if raw_step:
                record.update(raw_step_img_per_s=round(median(raw), 2),
                              ratio_to_raw_step=round(segcore_rate / median(raw), 3))
                record["pairs"]["raw_step"] = [round(v, 2) for v in raw]
            records.append(record)
    return records


def machine():
    return machine_info()
