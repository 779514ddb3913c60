"""Models take the dataset's channels and standardize them in their first layer."""

import numpy as np
import pytest

from helpers import assert_reloads_in_a_fresh_process
from segcore.models import build_model
from segcore.models.input_norm import InputNorm


def test_input_norm_worked_example_and_config_round_trip():
    layer = InputNorm([1.0, 0.0], [2.0, 0.5])
    out = np.asarray(layer(np.array([[[[3.0, 1.0]]]], np.float32)))
    np.testing.assert_allclose(out, [[[[1.0, 2.0]]]])
    again = InputNorm.from_config(layer.get_config())
    assert again.mean == [1.0, 0.0] and again.std == [2.0, 0.5]
    with pytest.raises(ValueError, match="every std above 0"):
        InputNorm([0.0], [0.0])


@pytest.mark.parametrize("name, hparams", [
    ("unet", {"depth": 2, "base_filters": 8}),
    ("reseg", {"encoder_depth": 2, "base_filters": 8, "rnn_units": 8}),
    ("unet-renet", {"depth": 2, "base_filters": 8, "rnn_units": 8}),
    ("deeplabv3plus", {"encoder": "mobilenet_v3_small", "aspp_filters": 16}),
    ("unet", {"depth": 2, "base_filters": 8, "encoder": "mobilenet_v2"}),
])
@pytest.mark.parametrize("channels", [1, 5])
def test_every_family_builds_for_the_datasets_channels(name, hparams, channels):
    norm = {"mean": [0.5] * channels, "std": [0.25] * channels}
    model = build_model(name, (None, None, channels), 3, input_norm=norm, **hparams)
    assert model.input_shape[-1] == channels
    assert model.get_layer("input_norm").mean == norm["mean"]
    # Standardized input skips the encoders' ImageNet scaling (made for RGB in [0, 1]).
    assert "encoder_input" not in [layer.name for layer in model.layers]
    out = model(np.zeros((1, 32, 32, channels), np.float32), training=False)
    assert out.shape == (1, 32, 32, 3)


def test_a_model_with_input_norm_reloads_in_a_fresh_process(tmp_path):
    norm = {"mean": [0.1, 0.2, 0.3, 0.4, 0.5], "std": [1.0, 2.0, 3.0, 4.0, 5.0]}
    model = build_model("unet", (None, None, 5), 2, input_norm=norm, depth=2, base_filters=8)
    x = np.random.default_rng(0).random((1, 16, 16, 5)).astype(np.float32)
    assert_reloads_in_a_fresh_process(model, x, tmp_path)
