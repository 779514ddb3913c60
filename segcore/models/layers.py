"""Building blocks shared by the model families; all registered for `.keras` serialization."""

import keras
from keras import layers, ops

# Short CPU runs take few steps: Keras' default momentum (0.99) leaves the moving statistics
# near their initial values, and evaluation then predicts one class. 0.9 tracks fast enough.
BN_MOMENTUM = 0.9


def conv_block(x, filters, batch_norm=True, dropout=0.0, name="block"):
    """Two 3x3 convolutions, each with optional batch norm and ReLU."""
    for index in (1, 2):
        x = layers.Conv2D(
            filters, 3, padding="same", use_bias=not batch_norm, name=f"{name}_conv{index}"
        )(x)
        if batch_norm:
            x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn{index}")(x)
        x = layers.Activation("relu", name=f"{name}_relu{index}")(x)
    if dropout > 0:
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return x


def upsample(x, filters, mode, name):
    """Doubles the resolution by transposed convolution or by bilinear resize + 3x3 conv."""
    if mode == "transpose":
        return layers.Conv2DTranspose(filters, 2, strides=2, padding="same", name=f"{name}_up")(x)
    x = layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_resize")(x)
    return layers.Conv2D(filters, 3, padding="same", name=f"{name}_upconv")(x)


@keras.saving.register_keras_serializable(package="segcore")
class ReNet(layers.Layer):
    """One ReNet layer: a bidirectional RNN down the columns, then one across the rows.

    Each sweep folds the other spatial axis into the batch axis, so one RNN call covers the
    whole feature map (Keras 3's `TimeDistributed` would loop in Python instead). After the
    layer, every position has seen its whole column and, through it, the whole image.

    Args:
        units: hidden units per direction; the output has `2 * units` channels.
        rnn_type: "gru" or "lstm".
    """

    def __init__(self, units=32, rnn_type="gru", **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.rnn_type = rnn_type
        cell = {"gru": layers.GRU, "lstm": layers.LSTM}[rnn_type]
        self.vertical = layers.Bidirectional(
            cell(units, return_sequences=True), name="vertical"
        )
        self.horizontal = layers.Bidirectional(
            cell(units, return_sequences=True), name="horizontal"
        )

    def build(self, input_shape):
        channels = input_shape[-1]
        self.vertical.build((None, None, channels))
        self.horizontal.build((None, None, 2 * self.units))
        super().build(input_shape)

    def call(self, inputs):
        shape = ops.shape(inputs)
        batch, height, width = shape[0], shape[1], shape[2]
        columns = ops.reshape(ops.transpose(inputs, (0, 2, 1, 3)), (batch * width, height, -1))
        columns = self.vertical(columns)
        x = ops.transpose(ops.reshape(columns, (batch, width, height, -1)), (0, 2, 1, 3))
        rows = self.horizontal(ops.reshape(x, (batch * height, width, 2 * self.units)))
        return ops.reshape(rows, (batch, height, width, 2 * self.units))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 2 * self.units)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "rnn_type": self.rnn_type})
        return config

    def recurrent_flops(self, height, width, channels):
        """Multiply-adds x2 of both sweeps on an H x W x C map (used by the FLOP counter)."""
        gates = 3 if self.rnn_type == "gru" else 4
        per_step = lambda inputs: 2 * gates * self.units * (inputs + self.units + 1)  # noqa: E731
        vertical = 2 * width * height * per_step(channels)
        horizontal = 2 * height * width * per_step(2 * self.units)
        return vertical + horizontal
