import keras
import numpy as np
import pytest

from segcore.errors import ConfigError
from segcore.models import MODELS, build_model, model_stride, resolve_hparams
from segcore.models.flops import forward_flops

TINY = {
    "unet": {"depth": 2, "base_filters": 8},
    "reseg": {"encoder_depth": 2, "base_filters": 8, "rnn_units": 8},
    "unet-renet": {"depth": 2, "base_filters": 8, "rnn_units": 8, "rnn_type": "lstm"},
}


@pytest.mark.parametrize("name", list(MODELS))
def test_shape_any_stride_multiple_and_save_reload(name, tmp_path):
    model = build_model(name, (None, None, 3), 5, **TINY[name])
    stride = model_stride(name, **TINY[name])
    x = np.random.default_rng(0).random((2, stride * 3, stride * 5, 3)).astype("float32")
    logits = model(x)
    assert logits.shape == (2, stride * 3, stride * 5, 5) and logits.dtype == "float32"
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [type(layer).__name__ for layer in again.layers] == [
        type(layer).__name__ for layer in model.layers]
    for layer in model.layers:
        if type(layer).__module__.startswith("segcore"):
            assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()


def test_registry_ranges_are_enforced_and_defaults_filled():
    assert resolve_hparams("unet")["depth"] == MODELS["unet"].defaults()["depth"]
    with pytest.raises(ConfigError, match="depth=9 is outside"):
        resolve_hparams("unet", {"depth": 9})
    with pytest.raises(ConfigError, match="choose one of"):
        resolve_hparams("reseg", {"rnn_type": "transformer"})
    with pytest.raises(ConfigError, match="multiple of 16"):
        build_model("unet", (40, 40, 3), 2, depth=4)


def test_renet_context_spans_the_whole_image():
    model = build_model("reseg", (None, None, 3), 2, **TINY["reseg"], skips=False)
    x = np.zeros((1, 32, 32, 3), "float32")
    y = x.copy()
    y[0, 0, 0] = 1.0  # one corner pixel changes
    delta = np.abs(model.predict(y, verbose=0) - model.predict(x, verbose=0))[0]
    assert delta[-1, -1].max() > 0  # ... and the opposite corner's logits move


def test_flops_count_a_known_conv():
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 3, padding="same")(inputs))
    assert forward_flops(model) == 2 * 8 * 8 * 3 * 3 * 3 * 4
