"""Shared harness for every registered model, plus the registry, the ReNet layer and FLOPs."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import assert_reloads_in_a_fresh_process
from segcore.errors import ConfigError
from segcore.models import MODELS, build_model, model_stride, resolve_hparams
from segcore.models.blocks import BN_MOMENTUM
from segcore.models.flops import forward_flops
from segcore.models.renet_layer import ReNet, rnn_flops

# Tiny widths keep the harness fast; each family also gets a non-default variant.
TINY = {
    "unet": {"depth": 2, "base_filters": 8},
    "reseg": {"encoder_depth": 2, "base_filters": 8, "rnn_units": 8},
    "unet-renet": {"depth": 2, "base_filters": 8, "rnn_units": 8, "rnn_type": "lstm"},
    "deeplabv3plus": {"encoder": "mobilenet_v3_small", "aspp_filters": 16},
}
VARIANTS = [
    ("unet", {"upsampling": "resize", "batch_norm": False, "dropout": 0.2}),
    ("reseg", {"skips": False, "renet_layers": 2, "rnn_type": "lstm", "dropout": 0.1}),
    ("unet-renet", {"upsampling": "resize", "rnn_type": "gru"}),
    ("unet", {"encoder": "mobilenet_v3_small", "depth": 5}),
    ("deeplabv3plus", {"output_stride": 8, "dropout": 0.1}),
]
CASES = [(name, {}) for name in MODELS] + VARIANTS
CASE_IDS = [f"{name}-{'-'.join(map(str, extra.values())) or 'default'}" for name, extra in CASES]


def _tiny(name, extra):
    return {**TINY[name], **extra}


@pytest.mark.parametrize(("name", "extra"), CASES, ids=CASE_IDS)
def test_harness_shape_odd_sizes_config_and_save_reload(name, extra, tmp_path):
    hparams = _tiny(name, extra)
    model = build_model(name, (None, None, 3), 5, **hparams)
    stride = model_stride(name, **hparams)
    rng = np.random.default_rng(0)
    # Odd multiples of the stride, height != width: catches transposed H/W in the ReNet folds.
    x = rng.random((2, stride * 3, stride * 5, 3)).astype("float32")
    logits = model(x, training=False)
    assert logits.shape == (2, stride * 3, stride * 5, 5) and logits.dtype == "float32"
    other = rng.random((1, stride * 7, stride, 3)).astype("float32")
    assert model(other).shape == (1, stride * 7, stride, 5)

    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone(x), logits, rtol=1e-5, atol=1e-5)

    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [layer.name for layer in again.layers] == [layer.name for layer in model.layers]
    for layer in model.layers:
        if type(layer).__module__.startswith("segcore"):
            assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()


@pytest.mark.parametrize("name", list(MODELS))
def test_fixed_size_build_and_batch_norm_momentum(name):
    model = build_model(name, (32, 32, 1), 2, **TINY[name])
    assert model.output_shape == (None, 32, 32, 2)
    # Pretrained encoders' own layers too (Keras builds them with 0.99 or 0.999).
    norms = [layer for layer in model._flatten_layers()
             if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(layer.momentum == BN_MOMENTUM == 0.9 for layer in norms)


@pytest.mark.parametrize("name", list(MODELS))
def test_logits_stay_float32_under_mixed_precision(name):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_model(name, (None, None, 3), 3, **TINY[name])
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model(np.zeros((1, 16, 16, 3), "float32")).dtype == "float32"


def test_registry_params_are_data_for_sliders_and_flags():
    assert set(MODELS) == {"unet", "reseg", "unet-renet", "deeplabv3plus"}
    for spec in MODELS.values():
        assert spec.family in {"cnn", "rnn", "hybrid"} and spec.description
        names = [p.name for p in spec.params]
        assert len(names) == len(set(names))
        for param in spec.params:
            assert re.fullmatch(r"[a-z][a-z0-9_]*", param.name) and param.help
            assert param.kind in {"int", "float", "log", "choice", "bool"}
            assert param.validate(param.default, spec.name) == param.default
            if param.kind in {"int", "float", "log"}:
                assert param.low <= param.default <= param.high
            if param.kind == "choice":
                assert param.default in param.choices
    # A name shared by families is one definition, so the CLI has one flag for it; only the
    # default and the choices may differ (DeepLabV3+ needs an encoder, U-Net's default is none).
    shared = {}
    for spec in MODELS.values():
        for param in spec.params:
            first = shared.setdefault(param.name, param)
            assert (first.kind, first.help, first.low, first.high) == (
                param.kind, param.help, param.low, param.high)
            assert set(param.choices) <= set(first.choices) or set(first.choices) <= set(
                param.choices)


def test_registry_ranges_are_enforced_and_defaults_filled():
    assert resolve_hparams("unet") == MODELS["unet"].defaults()
    assert MODELS["unet"].defaults()["depth"] == 4 and MODELS["unet"].defaults()["base_filters"] == 16
    with pytest.raises(ConfigError, match="--depth 9 is outside"):
        resolve_hparams("unet", {"depth": 9})
    with pytest.raises(ConfigError, match="choose one of"):
        resolve_hparams("reseg", {"rnn_type": "transformer"})
    with pytest.raises(ConfigError, match="multiple of 16"):
        build_model("unet", (40, 40, 3), 2, depth=4)
    with pytest.raises(ConfigError, match="unknown hyperparameters depth"):
        resolve_hparams("reseg", {"depth": 3})
    with pytest.raises(ConfigError, match="Unknown model 'segnet'"):
        resolve_hparams("segnet")
    with pytest.raises(ConfigError, match="expected an integer"):
        resolve_hparams("unet", {"depth": 2.5})


def test_cli_strings_are_converted():
    resolved = resolve_hparams("reseg", {"renet_layers": "2", "skips": "false", "dropout": "0.25"})
    assert resolved["renet_layers"] == 2 and resolved["skips"] is False
    assert resolved["dropout"] == 0.25
    with pytest.raises(ConfigError):
        resolve_hparams("reseg", {"skips": "maybe"})


def test_model_stride():
    assert model_stride("unet") == 16 and model_stride("unet", depth=2) == 4
    assert model_stride("deeplabv3plus") == 16 and model_stride("deeplabv3plus", output_stride="8") == 8
    assert model_stride("reseg", encoder_depth=3) == 8
    assert model_stride("unet-renet", depth=5) == 32


def _columns_then_rows(layer, x):
    """ReNet computed the slow, obvious way: one RNN call per column, then per row."""
    columns = [layer.vertical(x[:, :, w, :]) for w in range(x.shape[2])]
    mid = tf.stack(columns, axis=2)
    rows = [layer.horizontal(mid[:, h, :, :]) for h in range(x.shape[1])]
    return tf.stack(rows, axis=1)


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
def test_renet_folding_equals_per_column_then_per_row_sweeps(rnn_type):
    layer = ReNet(4, rnn_type)
    x = tf.random.stateless_normal((2, 3, 5, 2), seed=(1, 2))
    out = layer(x)
    assert out.shape == (2, 3, 5, 8)
    np.testing.assert_allclose(out, _columns_then_rows(layer, x), rtol=1e-5, atol=1e-6)


def test_renet_handles_dynamic_sizes_in_a_tf_function_and_sees_the_whole_map():
    layer = ReNet(4)
    run = tf.function(layer, input_signature=[tf.TensorSpec((None, None, None, 3))])
    for shape in [(1, 4, 6, 3), (3, 7, 2, 3)]:
        assert tuple(run(tf.zeros(shape)).shape) == (*shape[:3], 8)
    x = tf.Variable(tf.random.stateless_normal((1, 5, 6, 3), seed=(3, 4)))
    with tf.GradientTape() as tape:
        corner = tf.reduce_sum(layer(x)[0, -1, -1])
    gradient = np.abs(tape.gradient(corner, x).numpy()).sum(-1)[0]
    assert (gradient > 0).all()  # the bottom-right output depends on every input position


def test_renet_rejects_unknown_cells_and_round_trips_its_config():
    with pytest.raises(ValueError, match="rnn_type"):
        ReNet(4, "transformer")
    layer = ReNet(6, "lstm", name="r")
    config = layer.get_config()
    assert config["units"] == 6 and config["rnn_type"] == "lstm" and config["name"] == "r"
    assert ReNet.from_config(config).get_config() == config


def test_reseg_context_spans_the_whole_image():
    model = build_model("reseg", (None, None, 3), 2, **TINY["reseg"], skips=False)
    x = np.zeros((1, 32, 32, 3), "float32")
    y = x.copy()
    y[0, 0, 0] = 1.0  # one corner pixel changes
    delta = np.abs(model.predict(y, verbose=0) - model.predict(x, verbose=0))[0]
    assert delta[-1, -1].max() > 0  # ... and the opposite corner's logits move


def test_flops_count_known_layers():
    inputs = keras.Input((8, 8, 3))
    conv = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    up = keras.layers.Conv2DTranspose(2, 2, strides=2)(conv)
    model = keras.Model(inputs, ReNet(5, "gru")(up))
    conv_flops = 2 * 8 * 8 * 3 * 3 * 3 * 4
    up_flops = 2 * 8 * 8 * 2 * 2 * 4 * 2
    # Two sweeps, two directions each, 16*16 steps per direction in total; GRU has 3 gates.
    renet = 2 * 2 * 16 * 16 * 3 * 5 * (2 + 5) + 2 * 2 * 16 * 16 * 3 * 5 * (10 + 5)
    assert forward_flops(model) == conv_flops + up_flops + renet
    assert rnn_flops("lstm", 10, 3, 2) == 2 * 10 * 4 * 2 * (3 + 2)


def test_flops_of_a_dynamic_model_at_a_given_size():
    model = build_model("unet", (None, None, 3), 2, depth=2, base_filters=8)
    small, large = forward_flops(model, (32, 32, 3)), forward_flops(model, (64, 64, 3))
    assert small > 0 and large == 4 * small  # a CNN's FLOPs scale with the pixel count
    assert model.input_shape == (None, None, None, 3)  # the model itself is untouched


def test_a_fresh_process_loads_a_saved_renet_model(tmp_path):
    model = build_model("unet-renet", (None, None, 3), 2, **TINY["unet-renet"])
    x = np.random.default_rng(0).random((1, 8, 12, 3)).astype("float32")
    # A new interpreter has imported neither ReNet nor FusedBatchNorm: load_model registers both.
    assert_reloads_in_a_fresh_process(model, x, tmp_path)
