"""U-Net + ReNet: a U-Net whose bottleneck is a ReNet layer (global context, sharp edges)."""

import keras
from keras import layers

from segcore.models.blocks import conv_block, logits_head
from segcore.models.input_norm import model_input
from segcore.models.renet_layer import ReNet
from segcore.models.unet import decoder, encoder


def build_unet_renet(input_shape, num_classes, depth=4, base_filters=16, rnn_type="gru",
                     rnn_units=32, batch_norm=True, dropout=0.0, upsampling="transpose",
                     input_norm=None):
    """Builds a U-Net with a bidirectional-RNN (ReNet) bottleneck; outputs float32 logits.

    The bottleneck conv block is followed by a ReNet layer whose output is concatenated with
    the block's and fused by a 1x1 convolution, so each bottleneck position sees the whole
    image before the U-Net decoder restores the boundaries from the skips.

    Args:
        input_shape: (H, W, C); H and W may be None, else multiples of 2**depth.
        num_classes: output channels.
        depth, base_filters, batch_norm, dropout, upsampling: as in `build_unet`.
        rnn_type: "gru" or "lstm".
        rnn_units: hidden units per direction of each sweep.
        input_norm: {"mean", "std"} per input channel for the first layer (`InputNorm`);
            None feeds the input as it is.

    Returns:
        A functional `keras.Model` named "unet_renet".
    """
    inputs, x = model_input(input_shape, input_norm)
    x, skips = encoder(x, depth, base_filters, batch_norm)
    filters = base_filters * 2**depth
    x = conv_block(x, filters, batch_norm, dropout, name="bottleneck")
    context = ReNet(rnn_units, rnn_type, name="renet")(x)
    x = layers.Concatenate(name="bottleneck_concat")([x, context])
    x = layers.Conv2D(filters, 1, activation="relu", name="bottleneck_fuse")(x)
    x = decoder(x, skips, base_filters, batch_norm, dropout, upsampling)
    return keras.Model(inputs, logits_head(x, num_classes), name="unet_renet")
