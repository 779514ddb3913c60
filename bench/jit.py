"""XLA's training step against TensorFlow's: images per second, and how far the gradients
differ.

Each case builds one model and times the training loop's step two ways (`--jit off` and
`--jit xla`: XLA compiles the forward and backward pass, the optimizer's update stays
outside) on random data of the case's shape, alternating A B, B A, ... in one process; each
figure is the median of the rounds. The gradient agreement is the largest difference of
any variable's gradient between the two ways, from the same weights and batch, relative to
that variable's largest gradient.
"""

import time

import numpy as np

from bench.common import median

# (family, H, W, channels, classes, batch): `--auto`'s CamVid and membrane windows on a
# 2-core AVX2 CPU, and the speed probe's 256x256.
CASES = (("reseg", 120, 160, 3, 11, 8), ("unet", 240, 240, 1, 2, 2),
         ("reseg", 256, 256, 3, 8, 4), ("unet", 256, 256, 3, 8, 4))


def _steps(model, channels, classes):
    import keras
    import tensorflow as tf

    from segcore.models import build_model

    keras.utils.set_random_seed(0)
    net = build_model(model, (None, None, channels), classes)
    start = [v.numpy() for v in net.weights]

    def gradients(images, masks):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                masks, net(images, training=True), from_logits=True))
        return loss, tape.gradient(loss, net.trainable_variables)

    compiled = {"off": gradients, "xla": tf.function(gradients, jit_compile=True)}
    steps, optimizer = {}, keras.optimizers.Adam(1e-3)
    for jit, inner in compiled.items():
        def step(images, masks, inner=inner):
            loss, grads = inner(images, masks)
            optimizer.apply(grads, net.trainable_variables)
            return loss

        steps[jit] = tf.function(step)
    return net, start, {k: tf.function(v) for k, v in compiled.items()}, steps


def run_jit(cases=CASES, rounds=5):
    """Returns one record per case: img/s each way, their ratio and the gradient agreement."""
    import tensorflow as tf

    records = []
    for model, height, width, channels, classes, batch in cases:
        rng = np.random.default_rng(0)
        images = tf.constant(rng.random((batch, height, width, channels), dtype=np.float32))
        masks = tf.constant(rng.integers(0, classes, (batch, height, width)), tf.int32)
        net, start, gradients, steps = _steps(model, channels, classes)
        grads = {jit: [g.numpy() for g in fn(images, masks)[1]] for jit, fn in gradients.items()}
        differ = max(float(np.abs(a - b).max() / (np.abs(a).max() + 1e-12))
                     for a, b in zip(grads["off"], grads["xla"]))
        for variable, value in zip(net.weights, start):
            variable.assign(value)
        rates = {"off": [], "xla": []}
        for step in steps.values():
            float(step(images, masks))  # traces (and compiles)
        for index in range(rounds):
            for jit in ("off", "xla") if index % 2 == 0 else ("xla", "off"):
                started = time.perf_counter()
                for _ in range(3):
                    loss = steps[jit](images, masks)
                float(loss)
                rates[jit].append(3 * batch / (time.perf_counter() - started))
        off, xla = median(rates["off"]), median(rates["xla"])
        records.append({"model": model, "window": f"{height}x{width}x{channels}", "batch": batch,
                        "off_img_per_s": round(off, 2), "xla_img_per_s": round(xla, 2),
                        "speedup": round(xla / off, 3),
                        "gradient_max_relative_difference": round(differ, 5),
                        "rounds": {k: [round(v, 2) for v in values]
                                   for k, values in rates.items()}})
    return records
