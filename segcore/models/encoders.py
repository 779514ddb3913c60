"""Pretrained encoders from `keras.applications`, as one table: name -> builder, features, weights.

Each encoder gives the segmentation families (U-Net, DeepLabV3+) its feature maps at strides
2, 4, 8, 16 and 32 (ConvNeXt has no stride-2 map: its stem downsamples 4x). The weights are
Keras's own ImageNet files or any weights file given by path (where they are found and how
they are checked: `segcore.models.encoder_weights`).

This module imports Keras only in the functions that build models, so the registry, the CLI
and the app can read the table cheaply.
"""

import warnings
from dataclasses import dataclass, field

from segcore.errors import ConfigError

NONE = "none"
IMAGENET = "imagenet"
STRIDES = (2, 4, 8, 16, 32)


@dataclass(frozen=True)
class Encoder:
    """One `keras.applications` encoder.

    Attributes:
        name: the `--encoder` value.
        builder: the `keras.applications` function.
        features: {stride: feature}; a feature is a layer name (its output), "<name" (the
            input of that layer, for layers whose own names Keras numbers per session), or
            "" (the application's output).
        preprocessing: the `EncoderInput` mode the ImageNet weights were trained with.
        weights_file: Keras's cache file name of the ImageNet weights without the top.
        hash_key: (module, key) of the file's hash in Keras's `WEIGHTS_HASHES`, when it has one.
        kwargs: extra builder arguments.
    """

    name: str
    builder: str
    features: dict
    preprocessing: str
    weights_file: str
    hash_key: tuple = ()
    kwargs: dict = field(default_factory=dict)

    @property
    def strides(self):
        """The strides this encoder has feature maps for, smallest first."""
        return tuple(s for s in STRIDES if s in self.features)


def _mobilenet_v3(size, pads):
    return Encoder(
        f"mobilenet_v3_{size}", f"MobileNetV3{size.title()}",
        {**{s: f"<expanded_conv_{p}depthwise_pad" for s, p in zip(STRIDES, pads)}, 32: ""},
        "tf", f"weights_mobilenet_v3_{size}_224_1.0_float_no_top_v2.h5",
        ("keras.src.applications.mobilenet_v3", f"{size}_224_1.0_float"),
        {"include_preprocessing": False},
    )


def _efficientnetv2(variant):
    return Encoder(
        f"efficientnetv2_{variant}", f"EfficientNetV2{variant.upper()}",
        {2: "<block2a_expand_conv", 4: "<block3a_expand_conv", 8: "<block4a_expand_conv",
         16: "<block6a_expand_conv", 32: ""},
        "torch", f"efficientnetv2-{variant}_notop.h5",
        ("keras.src.applications.efficientnet_v2", variant), {"include_preprocessing": False},
    )


ENCODERS = {
    encoder.name: encoder for encoder in (
        Encoder("mobilenet_v2", "MobileNetV2",
                {2: "block_1_expand_relu", 4: "block_3_expand_relu", 8: "block_6_expand_relu",
                 16: "block_13_expand_relu", 32: "block_16_project_BN"},
                "tf", "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"),
        _mobilenet_v3("small", ("", "1_", "3_", "8_")),
        _mobilenet_v3("large", ("1_", "3_", "6_", "12_")),
        _efficientnetv2("b0"),
        _efficientnetv2("b1"),
        _efficientnetv2("b2"),
        Encoder("resnet50", "ResNet50",
                {2: "conv1_relu", 4: "conv2_block3_out", 8: "conv3_block4_out",
                 16: "conv4_block6_out", 32: "conv5_block3_out"},
                "caffe", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
                ("keras.src.applications.resnet", "resnet50")),
        Encoder("convnext_tiny", "ConvNeXtTiny",
                {4: "convnext_tiny_stage_0_block_2_identity",
                 8: "convnext_tiny_stage_1_block_2_identity",
                 16: "convnext_tiny_stage_2_block_8_identity", 32: ""},
                "torch", "convnext_tiny_notop.h5", ("keras.src.applications.convnext", "convnext_tiny"),
                {"include_preprocessing": False}),
    )
}


def get_encoder(name):
    """The `Encoder` of a name, or ConfigError naming the choices."""
    try:
        return ENCODERS[name]
    except KeyError:
        raise ConfigError(f"--encoder {name!r} is unknown; choose one of "
                          f"{', '.join(ENCODERS)}.") from None


def _application(encoder, channels, config=None):
    import keras

    if config is not None:
        return keras.Model.from_config(config)
    with warnings.catch_warnings():  # "input shape undefined: weights for 224x224 are loaded"
        warnings.simplefilter("ignore")
        return getattr(keras.applications, encoder.builder)(
            input_shape=(None, None, channels), include_top=False, weights=None,
            **encoder.kwargs)


def _boundary(names, feature):
    """Index in `names` (layer names in graph order) of the first layer past `feature`."""
    if feature.startswith("<"):
        return names.index(feature[1:])
    return names.index(feature) + 1


def _rewrite(layer_configs, rates, momentum):
    """Rewrites layer configs in place: fused BN with our momentum, strides -> dilation.

    Args:
        layer_configs: the `layers` list of a functional (or sequential) config.
        rates: the dilation rate of each layer (1 leaves its strides and padding alone).
        momentum: the batch normalization momentum.
    """
    for entry, rate in zip(layer_configs, rates):
        config = entry["config"]
        if entry["class_name"] == "Sequential":
            _rewrite(config["layers"], [rate] * len(config["layers"]), momentum)
            continue
        if entry["class_name"] == "BatchNormalization":
            config["momentum"] = momentum
            # TensorFlow's fused kernel, as in segcore's own layers: the same weights and
            # results, fewer passes over the activations (bench/RESULTS.md).
            entry.update(module="segcore.models.fused_batch_norm", class_name="FusedBatchNorm",
                         registered_name="segcore>FusedBatchNorm")
        if rate == 1:
            continue
        if entry["class_name"] == "ZeroPadding2D":
            config["padding"] = ((0, 0), (0, 0))
        if "strides" in config and "kernel_size" in config:
            config["strides"] = (1, 1)
            if max(config["kernel_size"]) > 1:
                config["dilation_rate"] = (rate, rate)
                config["padding"] = "same"
        elif "strides" in config and "pool_size" in config:
            config["strides"] = (1, 1)
            config["padding"] = "same"


def _adapt_first_kernel(kernel, channels):
    """A first-layer kernel (kh, kw, 3, out) for `channels` inputs, as segmentation_models does.

    One channel sums the RGB filters (a gray image is R = G = B); other counts cycle the RGB
    filters and scale them by 3 / channels, keeping the response to a uniform input.
    """
    import numpy as np

    if channels == 1:
        return kernel.sum(axis=2, keepdims=True)
    cycled = np.stack([kernel[:, :, i % 3] for i in range(channels)], axis=2)
    return cycled * (3.0 / channels)


def _transfer(source, target, channels):
    """Copies every weight of `source` into `target` (built alike), adapting the first conv."""
    sources = [layer for layer in source.layers if layer.weights]
    targets = [layer for layer in target.layers if layer.weights]
    if len(sources) != len(targets):
        raise RuntimeError(f"encoder layers differ: {len(sources)} vs {len(targets)}")
    for index, (a, b) in enumerate(zip(sources, targets)):
        values = a.get_weights()
        if index == 0 and channels != 3:
            values = [_adapt_first_kernel(values[0], channels), *values[1:]]
        b.set_weights(values)


def build_encoder(name, channels, weights=NONE, output_stride=32, strides=STRIDES):
    """Builds an encoder returning its feature maps, with its weights loaded.

    Args:
        name: a key of `ENCODERS`.
        channels: input channels (1 and other counts adapt the first convolution).
        weights: "imagenet", "none" or a weights file (see `weights_path`).
        output_stride: 32 keeps the application; 16 or 8 turn the strides past that point
            into dilation (atrous convolution), as DeepLab does, so the deepest map has
            stride `output_stride` while every weight keeps its shape.
        strides: the feature maps wanted; the encoder is cut after the deepest one.

    Returns:
        (keras.Model named "encoder" mapping the preprocessed image to the list of feature
        maps, the strides of those maps after dilation). The model has the application's
        layers and weights; its batch normalization layers are `FusedBatchNorm` with
        momentum `BN_MOMENTUM` (same weights).

    Raises:
        ConfigError: the weights file is missing, damaged or not of this encoder.
    """
    import keras

    from segcore.models.blocks import BN_MOMENTUM
    from segcore.models.encoder_weights import load_weights, weights_path

    encoder = get_encoder(name)
    path = weights_path(name, weights)
    source = None
    if path is not None:
        source = _application(encoder, 3)
        load_weights(encoder, source, path, weights == IMAGENET)
    plain = _application(encoder, channels)
    config = plain.get_config()
    names = [entry["config"]["name"] for entry in config["layers"]]
    rates = [1] * len(names)
    for stride in (8, 16):
        if output_stride <= stride and stride in encoder.features:
            start = _boundary(names, encoder.features[stride])
            for index in range(start, len(rates)):
                rates[index] *= 2
    _rewrite(config["layers"], rates, BN_MOMENTUM)
    full = _application(encoder, channels, config)
    if source is not None:
        _transfer(source, full, channels)
    wanted = [s for s in encoder.strides if s in strides]
    outputs = []
    for stride in wanted:
        feature = encoder.features[stride]
        if not feature:
            outputs.append(full.output)
        elif feature.startswith("<"):
            outputs.append(full.get_layer(feature[1:]).input)
        else:
            outputs.append(full.get_layer(feature).output)
    model = keras.Model(full.input, outputs, name="encoder")
    return model, tuple(min(s, output_stride) for s in wanted)


def encoder_features(inputs, name, weights=NONE, output_stride=32, strides=STRIDES,
                     standardized=False):
    """Runs segcore's image input through an encoder's preprocessing and the encoder.

    Args:
        inputs: the model's (B, H, W, C) input, float RGB in [0, 1].
        name, weights, output_stride, strides: as for `build_encoder`.
        standardized: the input is already zero-mean, unit-variance per channel (a
            multi-channel dataset's `InputNorm`): the ImageNet scaling, made for RGB in
            [0, 1], is left out; ImageNet's own standardized input is on that scale too.

    Returns:
        {stride: feature map} (after dilation; a stride the encoder lacks is absent).
    """
    from segcore.models.encoder_input import EncoderInput

    encoder, found = build_encoder(name, int(inputs.shape[-1]), weights, output_stride, strides)
    x = inputs
    if not standardized:
        x = EncoderInput(get_encoder(name).preprocessing, name="encoder_input",
                         dtype="float32")(inputs)
    features = encoder(x)
    features = features if isinstance(features, (list, tuple)) else [features]
    return dict(zip(found, features))
