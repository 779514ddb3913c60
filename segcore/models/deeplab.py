"""DeepLabV3+ (Chen et al., 2018) over any encoder of `segcore.models.encoders`."""

import keras
from keras import layers

from segcore.models.blocks import BN_MOMENTUM, logits_head
from segcore.models.encoders import encoder_features
from segcore.models.fused_batch_norm import FusedBatchNorm
from segcore.models.input_norm import model_input
from segcore.models.resize_like import ResizeLike

# Atrous rates of the ASPP per output stride (the paper's: doubled when the stride halves).
ASPP_RATES = {16: (6, 12, 18), 8: (12, 24, 36)}
LOW_LEVEL_FILTERS = 48


def conv_bn_relu(x, filters, kernel_size, rate=1, name="conv"):
    """Convolution (no bias), batch normalization (momentum `BN_MOMENTUM`), ReLU."""
    x = layers.Conv2D(filters, kernel_size, padding="same", dilation_rate=rate, use_bias=False,
                      name=f"{name}_conv")(x)
    x = FusedBatchNorm(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def aspp(x, filters, rates, dropout, name="aspp"):
    """Atrous spatial pyramid pooling: a 1x1 conv, one 3x3 conv per rate and image pooling.

    The image-pooling branch averages the whole map, so every pixel sees global context;
    it is broadcast back to the map's size (known only at run time) by `ResizeLike`.
    """
    branches = [conv_bn_relu(x, filters, 1, name=f"{name}_1x1")]
    branches += [conv_bn_relu(x, filters, 3, rate, name=f"{name}_rate{rate}") for rate in rates]
    pooled = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_image_pool")(x)
    pooled = conv_bn_relu(pooled, filters, 1, name=f"{name}_image")
    branches.append(ResizeLike(name=f"{name}_image_resize")(pooled, x))
    x = layers.Concatenate(name=f"{name}_concat")(branches)
    x = conv_bn_relu(x, filters, 1, name=f"{name}_project")
    if dropout > 0:
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return x


def build_deeplabv3plus(input_shape, num_classes, encoder="mobilenet_v2", encoder_weights="none",
                        output_stride=16, aspp_filters=128, dropout=0.0, input_norm=None):
    """Builds DeepLabV3+ returning per-pixel float32 logits (B, H, W, num_classes).

    Encoder (strides past `output_stride` turned into dilation) -> ASPP on its deepest map ->
    upsampled to stride 4, joined with the encoder's stride-4 map (reduced to 48 channels) ->
    two 3x3 convolutions -> logits at stride 4, resized bilinearly to the input size.

    Args:
        input_shape: (H, W, C); H and W may be None, else multiples of `output_stride`.
        num_classes: output channels.
        encoder: a key of `segcore.models.encoders.ENCODERS`.
        encoder_weights: "imagenet", "none" or a weights file of that encoder.
        output_stride: 16 or 8.
        aspp_filters: filters of the ASPP branches and the decoder (256 in the paper).
        dropout: dropout rate after the ASPP.
        input_norm: {"mean", "std"} per input channel for the first layer (`InputNorm`);
            None feeds the input as it is.

    Returns:
        A functional `keras.Model` named "deeplabv3plus".
    """
    output_stride = int(output_stride)
    inputs, x = model_input(input_shape, input_norm)
    features = encoder_features(x, encoder, encoder_weights, output_stride, (4, 32),
                                standardized=input_norm is not None)
    x = aspp(features[output_stride], aspp_filters, ASPP_RATES[output_stride], dropout)
    x = layers.UpSampling2D(output_stride // 4, interpolation="bilinear", name="aspp_up")(x)
    low = conv_bn_relu(features[4], LOW_LEVEL_FILTERS, 1, name="low_level")
    x = layers.Concatenate(name="decoder_concat")([x, low])
    x = conv_bn_relu(x, aspp_filters, 3, name="decoder1")
    x = conv_bn_relu(x, aspp_filters, 3, name="decoder2")
    x = logits_head(x, num_classes)
    # float32 like the logits: under mixed precision the resize would otherwise be float16.
    x = layers.UpSampling2D(4, interpolation="bilinear", dtype="float32", name="logits_up")(x)
    return keras.Model(inputs, x, name="deeplabv3plus")
