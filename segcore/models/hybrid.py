"""U-Net + ReNet: a U-Net whose bottleneck is a ReNet layer (global context, sharp edges)."""

import keras
from keras import layers

from segcore.models.layers import ReNet, conv_block
from segcore.models.unet import decoder, encoder, logits_head


def build_unet_renet(input_shape, num_classes, depth=4, base_filters=16, rnn_type="gru",
                     rnn_units=32, batch_norm=True, dropout=0.0, upsampling="transpose"):
    """Builds a U-Net with a bidirectional-RNN (ReNet) bottleneck.

    The bottleneck's conv block is followed by a ReNet layer whose output is fused back by a
    1x1 convolution, so each bottleneck position sees the whole image before decoding.
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x, skips = encoder(inputs, depth, base_filters, batch_norm, dropout)
    x = conv_block(x, base_filters * 2**depth, batch_norm, dropout, name="bottleneck")
    context = ReNet(rnn_units, rnn_type, name="renet")(x)
    x = layers.Concatenate(name="bottleneck_concat")([x, context])
    x = layers.Conv2D(base_filters * 2**depth, 1, activation="relu", name="bottleneck_fuse")(x)
    x = decoder(x, skips, base_filters, batch_norm, dropout, upsampling)
    return keras.Model(inputs, logits_head(x, num_classes), name="unet_renet")
