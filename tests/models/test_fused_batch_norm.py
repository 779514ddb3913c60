"""FusedBatchNorm computes what keras.layers.BatchNormalization does, through one fused kernel."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from segcore.models.fused_batch_norm import FusedBatchNorm


def _pair(shape, **kwargs):
    """A Keras layer and a fused one with the same random weights and moving statistics."""
    reference = keras.layers.BatchNormalization(momentum=0.9, **kwargs)
    fused = FusedBatchNorm(momentum=0.9, **kwargs)
    reference.build(shape)
    fused.build(shape)
    rng = np.random.default_rng(0)
    weights = [rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in reference.weights]
    reference.set_weights(weights)
    fused.set_weights(weights)
    return reference, fused


def _inputs(shape=(3, 9, 7, 5)):
    rng = np.random.default_rng(1)
    return tf.constant(rng.normal(2.0, 3.0, shape).astype("float32"))


def test_training_step_matches_keras_outputs_gradients_and_moving_statistics():
    x = _inputs()
    reference, fused = _pair(x.shape)
    # Weighting the channels differently makes the gamma gradients differ per channel.
    channel_weights = tf.range(1.0, 6.0)
    results = []
    for layer in (reference, fused):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.square(y) * channel_weights)
        grads = tape.gradient(loss, [x, *layer.trainable_weights])
        results.append((y, grads, [w.numpy() for w in layer.non_trainable_weights]))
    (y_ref, g_ref, stats_ref), (y_fused, g_fused, stats_fused) = results
    np.testing.assert_allclose(y_fused, y_ref, rtol=1e-5, atol=1e-5)
    for a, b in zip(g_fused, g_ref):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    # Moving statistics moved (momentum 0.9) and by the same biased-variance update.
    for a, b in zip(stats_fused, stats_ref):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    assert not np.allclose(stats_fused[1], 1.0)


def test_inference_uses_moving_statistics_like_keras():
    x = _inputs()
    reference, fused = _pair(x.shape)
    np.testing.assert_allclose(fused(x, training=False), reference(x, training=False),
                               rtol=1e-5, atol=1e-5)
    before = [w.numpy().copy() for w in fused.non_trainable_weights]
    fused(x, training=False)
    for a, b in zip(before, fused.non_trainable_weights):
        np.testing.assert_array_equal(a, b.numpy())


def test_a_frozen_layer_normalizes_with_moving_statistics_even_when_training():
    x = _inputs()
    reference, fused = _pair(x.shape)
    reference.trainable = fused.trainable = False
    np.testing.assert_allclose(fused(x, training=True), reference(x, training=True),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "shape"),
    [({"axis": 1}, (3, 5, 6, 4)), ({"center": False, "scale": False}, (3, 4, 4, 5)),
     ({}, (4, 10, 6))],
    ids=["channels-first", "no-gamma-beta", "3-d"],
)
def test_other_layouts_match_keras(kwargs, shape):
    x = _inputs(shape)
    reference, fused = _pair(x.shape, **kwargs)
    np.testing.assert_allclose(fused(x, training=True), reference(x, training=True),
                               rtol=1e-5, atol=1e-5)


def test_half_precision_inputs_keep_float16_outputs():
    x = tf.cast(_inputs(), tf.float16)
    reference, fused = _pair(x.shape, dtype="mixed_float16")
    y = fused(x, training=True)
    assert y.dtype == tf.float16
    np.testing.assert_allclose(y.numpy().astype("float32"),
                               reference(x, training=True).numpy().astype("float32"), atol=2e-2)


def test_config_round_trips_and_saved_models_reload(tmp_path):
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, FusedBatchNorm(momentum=0.9, epsilon=1e-4, name="bn")(inputs))
    layer = model.get_layer("bn")
    assert FusedBatchNorm.from_config(layer.get_config()).get_config() == layer.get_config()
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert isinstance(again.get_layer("bn"), FusedBatchNorm)
    x = _inputs((2, 8, 8, 3))
    np.testing.assert_array_equal(again(x), model(x))
