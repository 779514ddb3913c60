"""Mixed precision: training images per second in bfloat16 against float32, per family.

Each family is built twice with the same weights, once under float32 and once under Keras'
"mixed_bfloat16" policy (`segcore.models.precision.policy`), and each times bare Adam steps
on the same batch (256x256, batch 8). They alternate A B, B A, ... in one process, and each
figure is the median of the rounds. On a CPU without native bfloat16 instructions oneDNN
emulates them, and the speed-up falls below 1.
"""

import numpy as np

from bench.common import median, step_images_per_second

SIZE = (256, 256)
BATCH = 8
STEPS = 5


def run_precision(models=("unet", "reseg"), rounds=3):
    """Returns one record per model: float32 and bfloat16 img/s, their ratio and the rounds."""
    import keras
    import tensorflow as tf

    from segcore.models import build_model
    from segcore.models.precision import native_bfloat16, policy

    rng = np.random.default_rng(0)
    images = tf.constant(rng.random((BATCH, *SIZE, 3), dtype=np.float32))
    masks = tf.constant(rng.integers(0, 12, (BATCH, *SIZE), dtype=np.int32))
    records = []
    for name in models:
        keras.utils.set_random_seed(0)
        built = {}
        for precision in ("float32", "bfloat16"):
            with policy(precision):
                built[precision] = build_model(name, (None, None, 3), 12)
        built["bfloat16"].set_weights(built["float32"].get_weights())
        rates = {"float32": [], "bfloat16": []}
        order = list(built)
        for index in range(rounds):
            for precision in order[::-1] if index % 2 else order:
                rates[precision].append(
                    step_images_per_second(built[precision], images, masks, STEPS))
        f32, bf16 = median(rates["float32"]), median(rates["bfloat16"])
        records.append({
            "model": name, "native_bfloat16": native_bfloat16(),
            "float32_img_per_s": round(f32, 2), "bfloat16_img_per_s": round(bf16, 2),
            "speedup": round(bf16 / f32, 3),
            "rounds": {k: [round(v, 2) for v in values] for k, values in rates.items()},
        })
    return records
