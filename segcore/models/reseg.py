"""ReSeg (Visin et al., 2016): a CNN encoder, ReNet layers for global context, a decoder."""

import keras
from keras import layers

from segcore.models.blocks import conv_block, logits_head, upsample
from segcore.models.input_norm import model_input
from segcore.models.renet_layer import ReNet
from segcore.models.unet import encoder


def build_reseg(input_shape, num_classes, encoder_depth=3, base_filters=16, renet_layers=1,
                rnn_type="gru", rnn_units=32, skips=True, batch_norm=True, dropout=0.0,
                input_norm=None):
    """Builds a ReSeg-style RNN segmentation model that outputs float32 logits.

    The CNN encoder reduces the image by 2**encoder_depth; the ReNet layers then sweep the
    feature map (columns, then rows, both directions), so every position sees the whole
    image; a transposed-convolution decoder brings it back to full resolution.

    Args:
        input_shape: (H, W, C); H and W may be None, else multiples of 2**encoder_depth.
        num_classes: output channels.
        encoder_depth: 2x poolings in the CNN encoder before the recurrent layers.
        base_filters: filters of the first encoder level, doubled at each level.
        renet_layers: ReNet layers stacked on the encoder's features.
        rnn_type: "gru" or "lstm".
        rnn_units: hidden units per direction of each sweep.
        skips: concatenate the encoder features in the decoder (U-Net-like), else the decoder
            upsamples the recurrent features alone (as in the paper).
        batch_norm: batch normalization in the convolutional blocks.
        dropout: dropout after the recurrent layers.
        input_norm: {"mean", "std"} per input channel for the first layer (`InputNorm`);
            None feeds the input as it is.

    Returns:
        A functional `keras.Model` named "reseg".
    """
    inputs, x = model_input(input_shape, input_norm)
    x, encoder_skips = encoder(x, encoder_depth, base_filters, batch_norm)
    for index in range(renet_layers):
        x = ReNet(rnn_units, rnn_type, name=f"renet{index}")(x)
    if dropout > 0:
        x = layers.Dropout(dropout, name="renet_dropout")(x)
    for level in reversed(range(encoder_depth)):
        filters = base_filters * 2**level
        x = upsample(x, filters, "transpose", name=f"dec{level}")
        if skips:
            x = layers.Concatenate(name=f"dec{level}_concat")([x, encoder_skips[level]])
        x = conv_block(x, filters, batch_norm, 0.0, name=f"dec{level}")
    return keras.Model(inputs, logits_head(x, num_classes), name="reseg")
