"""U-Net (Ronneberger et al., 2015): encoder-decoder with skip connections."""

import keras
from keras import layers

from segcore.models.blocks import conv_block, logits_head, upsample


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


def decoder(x, skips, base_filters, batch_norm, dropout, upsampling):
    """Mirrors `encoder`: upsample 2x, concatenate the skip, conv block; per level, deepest first.

    Dropout applies to every decoder block but the last (full-resolution) one.
    """
    for level in reversed(range(len(skips))):
        filters = base_filters * 2**level
        x = upsample(x, filters, upsampling, name=f"dec{level}")
        x = layers.Concatenate(name=f"dec{level}_concat")([x, skips[level]])
        x = conv_block(x, filters, batch_norm, dropout if level else 0.0, name=f"dec{level}")
    return x


def build_unet(input_shape, num_classes, depth=4, base_filters=16, batch_norm=True,
               dropout=0.0, upsampling="transpose"):
    """Builds a U-Net that outputs per-pixel float32 logits (B, H, W, num_classes).

    Args:
        input_shape: (H, W, C); H and W may be None, else multiples of 2**depth.
        num_classes: output channels.
        depth: number of 2x poolings (the stride is 2**depth).
        base_filters: filters of the first level, doubled at each level down.
        batch_norm: batch normalization after each convolution.
        dropout: dropout rate in the bottleneck and the decoder (not the encoder).
        upsampling: "transpose" (learned 2x2 transposed conv) or "resize" (bilinear + 3x3 conv).

    Returns:
        A functional `keras.Model` named "unet".
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x, skips = encoder(inputs, depth, base_filters, batch_norm)
    x = conv_block(x, base_filters * 2**depth, batch_norm, dropout, name="bottleneck")
    x = decoder(x, skips, base_filters, batch_norm, dropout, upsampling)
    return keras.Model(inputs, logits_head(x, num_classes), name="unet")
