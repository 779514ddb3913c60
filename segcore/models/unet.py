"""U-Net (Ronneberger et al., 2015): encoder-decoder with skip connections."""

import keras
from keras import layers

from segcore.models.blocks import conv_block, logits_head, upsample
from segcore.models.input_norm import model_input


def encoder(inputs, depth, base_filters, batch_norm):
    """Returns (pooled features, skips): `depth` conv blocks, each followed by 2x2 pooling.

    Level `l` has `base_filters * 2**l` filters; `skips[l]` is its output before pooling.
    """
    x, skips = inputs, []
    for level in range(depth):
        x = conv_block(x, base_filters * 2**level, batch_norm, 0.0, name=f"enc{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"enc{level}_pool")(x)
    return x, skips


# build_unet's `encoder` argument names a pretrained encoder; this is U-Net's own.
conv_encoder = encoder


def decoder(x, skips, base_filters, batch_norm, dropout, upsampling):
    """Mirrors `encoder`: upsample 2x, concatenate the skip, conv block; per level, deepest first.

    Dropout applies to every decoder block but the last (full-resolution) one. A level whose
    skip is None (a pretrained encoder has no map at that stride) only upsamples.
    """
    for level in reversed(range(len(skips))):
        filters = base_filters * 2**level
        x = upsample(x, filters, upsampling, name=f"dec{level}")
        if skips[level] is not None:
            x = layers.Concatenate(name=f"dec{level}_concat")([x, skips[level]])
        x = conv_block(x, filters, batch_norm, dropout if level else 0.0, name=f"dec{level}")
    return x


def pretrained_encoder(inputs, depth, name, weights, standardized=False):
    """A `keras.applications` encoder in U-Net's place: (deepest map, skips per level).

    Level `l` of the decoder joins the encoder's map at stride 2**l; level 0 (full
    resolution) and strides the encoder lacks (ConvNeXt's 2) get no skip. `standardized`:
    the input is already standardized per channel (see `encoder_features`).
    """
    from segcore.models.encoders import encoder_features

    features = encoder_features(inputs, name, weights,
                                strides=tuple(2**level for level in range(1, depth + 1)),
                                standardized=standardized)
    skips = [features.get(2**level) for level in range(depth)]
    return features[2**depth], skips


def build_unet(input_shape, num_classes, depth=4, base_filters=16, batch_norm=True,
               dropout=0.0, upsampling="transpose", encoder="none", encoder_weights="none",
               input_norm=None):
    """Builds a U-Net that outputs per-pixel float32 logits (B, H, W, num_classes).

    Args:
        input_shape: (H, W, C); H and W may be None, else multiples of 2**depth.
        num_classes: output channels.
        depth: number of 2x poolings (the stride is 2**depth).
        base_filters: filters of the first level, doubled at each level down.
        batch_norm: batch normalization after each convolution.
        dropout: dropout rate in the bottleneck and the decoder (not the encoder).
        upsampling: "transpose" (learned 2x2 transposed conv) or "resize" (bilinear + 3x3 conv).
        encoder: "none" (U-Net's own encoder), or a `keras.applications` encoder of
            `segcore.models.encoders.ENCODERS`, cut at stride 2**depth; the decoder keeps
            its widths (`base_filters * 2**level`).
        encoder_weights: "imagenet", "none" or a weights file of that encoder.
        input_norm: {"mean", "std"} per input channel, standardized by the first layer
            (`segcore.models.input_norm.InputNorm`); None feeds the input as it is.

    Returns:
        A functional `keras.Model` named "unet".
    """
    inputs, x = model_input(input_shape, input_norm)
    if encoder == "none":
        x, skips = conv_encoder(x, depth, base_filters, batch_norm)
        x = conv_block(x, base_filters * 2**depth, batch_norm, dropout, name="bottleneck")
    else:
        x, skips = pretrained_encoder(x, depth, encoder, encoder_weights, input_norm is not None)
    x = decoder(x, skips, base_filters, batch_norm, dropout, upsampling)
    return keras.Model(inputs, logits_head(x, num_classes), name="unet")
