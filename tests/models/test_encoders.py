"""Pretrained encoders: every family x encoder, weights files loaded bit for bit, errors."""

from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

from helpers import assert_reloads_in_a_fresh_process
from segcore.errors import ConfigError
from segcore.models import build_model, load_model, model_stride, resolve_hparams
from segcore.models.encoder_input import EncoderInput
from segcore.models.encoder_weights import keras_cache, weights_path
from segcore.models.encoders import ENCODERS, build_encoder
from segcore.models.flops import forward_flops

REPO = Path(__file__).parents[2]
# Encoders of 10+ million parameters: their .keras files take seconds to write and read.
HEAVY = {"efficientnetv2_b1", "efficientnetv2_b2", "resnet50", "convnext_tiny"}
FAMILIES = {"unet": {"depth": 5, "base_filters": 8}, "deeplabv3plus": {"aspp_filters": 16}}
PAIRS = [pytest.param(family, encoder, marks=[pytest.mark.slow] if encoder in HEAVY else [],
                      id=f"{family}-{encoder}")
         for family in FAMILIES for encoder in ENCODERS]


def _save_application_weights(encoder, path, seed=1):
    """Writes a randomly initialised application's weights in Keras's legacy .h5 layout."""
    from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group

    keras.utils.set_random_seed(seed)
    spec = ENCODERS[encoder]
    app = getattr(keras.applications, spec.builder)(
        input_shape=(None, None, 3), include_top=False, weights=None, **spec.kwargs)
    # Random BN statistics, so a file whose moving statistics were not loaded is noticed.
    for variable in app.non_trainable_weights:
        variable.assign(np.random.default_rng(seed).uniform(0.5, 1.5, variable.shape))
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        save_weights_to_hdf5_group(handle, app)
    return app


def _file_arrays(path):
    """{(layer, weight name): array} of a legacy .h5 weights file."""
    arrays = {}
    with h5py.File(path, "r") as handle:
        for layer in handle.attrs["layer_names"]:
            layer = layer.decode() if isinstance(layer, bytes) else layer
            group = handle[layer]
            for name in group.attrs["weight_names"]:
                name = name.decode() if isinstance(name, bytes) else name
                arrays[(layer, name.split("/")[-1].split(":")[0])] = np.asarray(group[name])
    return arrays


def _encoder_arrays(model):
    """{(layer, weight name): array} of the encoder inside a segcore model."""
    encoder = model.get_layer("encoder")
    arrays = {}
    for layer in encoder._flatten_layers(include_self=False):
        if layer.weights and not layer._flatten_layers(include_self=False, recursive=False):
            for variable in layer.weights:
                arrays[(layer.name, variable.name)] = np.asarray(variable)
    return arrays


@pytest.mark.parametrize(("family", "encoder"), PAIRS)
def test_every_family_and_encoder(family, encoder, tmp_path):
    hparams = {**FAMILIES[family], "encoder": encoder}
    stride = model_stride(family, **hparams)
    for channels in (1, 3):
        model = build_model(family, (None, None, channels), 3, **hparams)
        x = np.random.default_rng(0).random((1, stride * 3, stride * 5, channels), "float32")
        logits = model(x, training=False)
        assert logits.shape == (1, stride * 3, stride * 5, 3) and logits.dtype == "float32"
    assert forward_flops(model, (64, 64, 3)) > 0
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone(x), logits, rtol=1e-4, atol=1e-4)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_imagenet_weights_load_bit_for_bit_from_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    path = tmp_path / "keras" / "models" / ENCODERS["mobilenet_v2"].weights_file
    assert path.name == "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
    _save_application_weights("mobilenet_v2", path)
    assert weights_path("mobilenet_v2", "imagenet") == path
    model = build_model("deeplabv3plus", (None, None, 3), 2, encoder="mobilenet_v2",
                        encoder_weights="imagenet")
    stored, loaded = _file_arrays(path), _encoder_arrays(model)
    # The encoder stops at block_16_project_BN: the 1x1 head conv to 1280 channels is not used.
    assert {layer for layer, _ in set(stored) - set(loaded)} == {"Conv_1", "Conv_1_bn"}
    for key, value in loaded.items():
        np.testing.assert_array_equal(value, stored[key], err_msg=str(key))


@pytest.mark.parametrize("channels", [1, 4])
def test_other_channel_counts_adapt_the_first_convolution(channels, tmp_path):
    path = tmp_path / "w.h5"
    app = _save_application_weights("resnet50", path)
    encoder, _ = build_encoder("resnet50", channels, str(path), strides=(32,))
    kernel = app.get_layer("conv1_conv").kernel.numpy()
    adapted = encoder.get_layer("conv1_conv").kernel.numpy()
    expected = (kernel.sum(axis=2, keepdims=True) if channels == 1
                else np.concatenate([kernel, kernel[:, :, :1]], axis=2) * 3 / 4)
    np.testing.assert_allclose(adapted, expected, rtol=1e-6)
    np.testing.assert_array_equal(encoder.get_layer("conv5_block3_3_conv").kernel.numpy(),
                                  app.get_layer("conv5_block3_3_conv").kernel.numpy())
    if channels == 1:  # a gray image through the adapted conv = its RGB copy through the original
        gray = np.random.default_rng(0).random((1, 32, 32, 1), "float32")
        rgb = np.repeat(gray, 3, axis=-1)
        first = keras.Model(app.input, app.get_layer("conv1_conv").output)
        mine = keras.Model(encoder.input, encoder.get_layer("conv1_conv").output)
        np.testing.assert_allclose(mine(gray * 255), first(rgb * 255), rtol=1e-4, atol=1e-2)


def test_missing_cache_file_names_the_file_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty"))
    with pytest.raises(ConfigError) as error:
        build_model("unet", (None, None, 3), 2, encoder="mobilenet_v2", encoder_weights="imagenet")
    message = str(error.value)
    assert str(tmp_path / "empty" / "models" / ENCODERS["mobilenet_v2"].weights_file) in message
    assert str(keras_cache()) in message and "\n" not in message
    with pytest.raises(ConfigError, match="no such file"):
        weights_path("mobilenet_v2", str(tmp_path / "nope.h5"))


def test_damaged_or_mismatched_files_are_refused_naming_them(tmp_path, monkeypatch):
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"\x89HDF\r\n\x1a\nnot really")
    with pytest.raises(ConfigError, match=str(corrupt)):
        build_encoder("mobilenet_v2", 3, str(corrupt))
    other = _save_application_weights("mobilenet_v3_small", tmp_path / "v3.h5")
    del other
    with pytest.raises(ConfigError, match="not weights of the mobilenet_v2 encoder"):
        build_encoder("mobilenet_v2", 3, str(tmp_path / "v3.h5"))
    # A hashed Keras file that is not Keras's: refused under the cache name, fine by path.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    cached = keras_cache() / ENCODERS["mobilenet_v3_small"].weights_file
    cached.parent.mkdir(parents=True)
    (tmp_path / "v3.h5").rename(cached)
    with pytest.raises(ConfigError, match="does not match the hash Keras publishes"):
        build_encoder("mobilenet_v3_small", 3, "imagenet")
    build_encoder("mobilenet_v3_small", 3, str(cached))


def test_encoder_hparams_need_an_encoder_and_weights_take_paths(tmp_path):
    with pytest.raises(ConfigError, match="--freeze-epochs need a pretrained encoder"):
        resolve_hparams("unet", {"freeze_epochs": 2})
    assert resolve_hparams("unet", {"encoder": "resnet50", "encoder_weights": "/x.h5"})[
        "encoder_weights"] == "/x.h5"
    with pytest.raises(ConfigError, match="choose one of"):
        resolve_hparams("deeplabv3plus", {"encoder": "none"})
    assert resolve_hparams("deeplabv3plus", {"output_stride": "8"})["output_stride"] == 8


def test_output_stride_dilates_instead_of_downsampling():
    for stride in (16, 8):
        encoder, strides = build_encoder("mobilenet_v2", 3, output_stride=stride)
        shapes = [tuple(o.shape[1:3]) for o in encoder(np.zeros((1, 64, 64, 3), "float32"))]
        assert strides == (2, 4, 8, 16, 32)[:3] + (min(16, stride), stride)
        assert shapes == [(64 // s, 64 // s) for s in strides]


def test_preprocessing_matches_keras_for_each_mode():
    x = np.random.default_rng(0).random((1, 4, 4, 3), "float32")
    mobilenet = keras.applications.mobilenet_v2.preprocess_input(x * 255)
    np.testing.assert_allclose(EncoderInput("tf")(x), mobilenet, rtol=1e-5, atol=1e-5)
    resnet = keras.applications.resnet50.preprocess_input(x * 255)
    np.testing.assert_allclose(EncoderInput("caffe")(x), resnet, rtol=1e-5, atol=1e-4)
    torch = (x - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    np.testing.assert_allclose(EncoderInput("torch")(x), torch, rtol=1e-5, atol=1e-5)
    assert EncoderInput("caffe")(x[..., :1]).shape == (1, 4, 4, 1)


def test_a_fresh_process_loads_a_saved_deeplab(tmp_path):
    model = build_model("deeplabv3plus", (None, None, 3), 2, encoder="mobilenet_v3_small",
                        aspp_filters=16)
    x = np.random.default_rng(0).random((1, 32, 48, 3)).astype("float32")
    assert_reloads_in_a_fresh_process(model, x, tmp_path)
    assert load_model(tmp_path / "m.keras").count_params() == model.count_params()


def test_weights_note_says_whether_the_file_is_cached(tmp_path, monkeypatch):
    from segcore.models.encoder_weights import weights_note

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert weights_note({"encoder": "none"}) is None
    assert "random" in weights_note({"encoder": "resnet50", "encoder_weights": "none"})
    missing = weights_note({"encoder": "resnet50", "encoder_weights": "imagenet"})
    assert "is missing" in missing and str(tmp_path / "models") in missing
    cached = tmp_path / "models" / ENCODERS["resnet50"].weights_file
    cached.parent.mkdir()
    cached.write_bytes(b"")
    assert "cached" in weights_note({"encoder": "resnet50", "encoder_weights": "imagenet"})
