"""Mixed precision: bfloat16 arithmetic for training, float32 weights, float32 predictions."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from segcore.models import build_model, load_model, precision
from segcore.models.fused_batch_norm import FusedBatchNorm
from segcore.models.precision import as_float32, computes_float32, native_bfloat16, policy

NORM = {"mean": [0.5, 0.5], "std": [0.01, 0.2]}


@pytest.mark.parametrize("flags, native", [
    ("fpu avx2 avx512f avx512_bf16 avx512_vnni", True),   # AMD Zen 4, Intel Cooper Lake
    ("fpu avx2 avx512f amx_bf16 amx_tile", True),          # Intel Sapphire Rapids
    ("fpu avx2 avx512f avx512_vnni", False),               # AVX-512 without bfloat16
    ("fpu avx2 fma", False),
])
def test_native_bfloat16_reads_the_cpu_flags(tmp_path, flags, native):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: X\nflags\t\t: {flags}\n\n")
    assert native_bfloat16(cpuinfo) is native


def test_native_bfloat16_is_false_when_it_cannot_tell(tmp_path):
    assert native_bfloat16(tmp_path / "missing") is False
    (tmp_path / "empty").write_text("processor: 0\n")
    assert native_bfloat16(tmp_path / "empty") is False


def test_bfloat16_on_a_cpu_that_emulates_it_is_warned_about(monkeypatch):
    monkeypatch.setattr(precision, "native_bfloat16", lambda: False)
    assert "emulated" in precision.emulation_warning("bfloat16")
    assert precision.emulation_warning("float32") is None
    monkeypatch.setattr(precision, "native_bfloat16", lambda: True)
    assert precision.emulation_warning("bfloat16") is None


def test_policy_applies_inside_only_and_is_put_back_after_an_error():
    assert keras.config.dtype_policy().name == "float32"
    with policy("bfloat16"):
        assert keras.layers.Dense(2).compute_dtype == "bfloat16"
    with pytest.raises(RuntimeError), policy("bfloat16"):
        raise RuntimeError("boom")
    assert keras.config.dtype_policy().name == "float32"
    assert keras.layers.Dense(2).compute_dtype == "float32"


def test_fused_batch_norm_takes_bfloat16_through_the_kernel_with_float32_statistics():
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(2.0, 3.0, (4, 8, 8, 3)).astype("float32"))
    reference = FusedBatchNorm(momentum=0.9)
    with policy("bfloat16"):
        fused = FusedBatchNorm(momentum=0.9)
    assert fused._fusable(tf.cast(x, tf.bfloat16), None)
    y_ref = reference(x, training=True)
    y = fused(x, training=True)
    assert y.dtype == tf.bfloat16
    np.testing.assert_allclose(tf.cast(y, tf.float32), y_ref, atol=0.05)
    for a, b in zip(fused.non_trainable_weights, reference.non_trainable_weights):
        assert a.dtype == "float32"
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0.02, atol=0.02)


@pytest.mark.parametrize("family, hparams", [
    ("unet", {"depth": 2, "base_filters": 8}),
    ("reseg", {"encoder_depth": 2, "base_filters": 8, "rnn_units": 8}),
    ("unet", {"depth": 2, "base_filters": 8, "encoder": "mobilenet_v2"}),
])
def test_a_bfloat16_model_trains_and_loads_back_computing_float32(tmp_path, family, hparams):
    with policy("bfloat16"):
        model = build_model(family, (None, None, 2), 3, input_norm=NORM, **hparams)
    assert not computes_float32(model)
    assert model.get_layer("input_norm").compute_dtype == "float32"  # 16-bit bands keep detail
    assert model.output.dtype == "float32"
    assert all(w.dtype == "float32" for w in model.weights)
    x = tf.random.stateless_uniform((2, 32, 32, 2), seed=(1, 2))
    y = tf.random.stateless_uniform((2, 32, 32), seed=(3, 4), maxval=3, dtype=tf.int32)
    optimizer = keras.optimizers.Adam(1e-2)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    gradients = tape.gradient(loss, model.trainable_variables)
    assert all(g is not None and g.dtype == tf.float32 for g in gradients)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    path = tmp_path / "model.keras"
    model.save(path)

    loaded = load_model(path)
    assert computes_float32(loaded)
    for a, b in zip(loaded.weights, model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # Exactly the float32 build of the same weights: evaluation and exports see float32.
    reference = build_model(family, (None, None, 2), 3, input_norm=NORM, **hparams)
    reference.set_weights(model.get_weights())
    np.testing.assert_array_equal(loaded(x, training=False), reference(x, training=False))
    # ...and close to what the bfloat16 model itself predicts.
    agree = np.mean(np.argmax(loaded(x), -1) == np.argmax(model(x, training=False), -1))
    assert agree > 0.9


def test_as_float32_returns_a_float32_model_itself():
    model = build_model("unet", (None, None, 3), 2, depth=2, base_filters=8)
    assert as_float32(model) is model
