"""Batch normalization: a U-Net training step with FusedBatchNorm against Keras' own layer.

The two models are the same U-Net (256x256, batch 8) with the same weights; the reference is a
clone whose FusedBatchNorm layers are plain `keras.layers.BatchNormalization` built from the
same config. Each times a bare `tf.function` step; they alternate A B, B A, ... and each
figure is the median of the rounds.
"""

import numpy as np

from bench.common import median, step_images_per_second

SIZE = (256, 256)
BATCH = 8
STEPS = 6


def run_batchnorm(rounds=3, model_name="unet"):
    """Returns {fused_img_per_s, keras_bn_img_per_s, speedup, rounds}."""
    import keras
    import tensorflow as tf

    from segcore.models import build_model
    from segcore.models.fused_batch_norm import FusedBatchNorm

    keras.utils.set_random_seed(0)
    fused = build_model(model_name, (None, None, 3), 4)

    def plain_batch_norm(layer):
        if isinstance(layer, FusedBatchNorm):
            return keras.layers.BatchNormalization.from_config(layer.get_config())
        return layer.__class__.from_config(layer.get_config())

    reference = keras.models.clone_model(fused, clone_function=plain_batch_norm)
    reference.set_weights(fused.get_weights())
    assert not any(isinstance(layer, FusedBatchNorm) for layer in reference.layers)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.random((BATCH, *SIZE, 3), dtype=np.float32))
    masks = tf.constant(rng.integers(0, 4, (BATCH, *SIZE), dtype=np.int32))
    rates = {"fused": [], "keras_bn": []}
    contenders = [("fused", fused), ("keras_bn", reference)]
    for index in range(rounds):
        for name, model in contenders[::-1] if index % 2 else contenders:
            rates[name].append(step_images_per_second(model, images, masks, STEPS))
    fused_rate, keras_rate = median(rates["fused"]), median(rates["keras_bn"])
    return {
        "model": model_name,
        "fused_img_per_s": round(fused_rate, 2),
        "keras_bn_img_per_s": round(keras_rate, 2),
        "speedup": round(fused_rate / keras_rate, 3),
        "rounds": {k: [round(v, 2) for v in values] for k, values in rates.items()},
    }
