"""The ReNet layer (Visin et al., 2015): bidirectional RNN sweeps over columns, then rows."""

import keras
from keras import layers, ops

RNN_TYPES = {"gru": (layers.GRU, 3), "lstm": (layers.LSTM, 4)}  # cell class, gates


def rnn_flops(rnn_type, steps, inputs, units):
    """Forward FLOPs (2 per multiply-add) of one direction of an RNN over `steps` steps.

    Each step multiplies the input and the previous state by every gate's kernels:
    2 * steps * gates * units * (inputs + units); biases and element-wise gate maths are
    left out, as they are for convolutions.
    """
    gates = RNN_TYPES[rnn_type][1]
    return 2 * steps * gates * units * (inputs + units)


@keras.saving.register_keras_serializable(package="segcore")
class ReNet(layers.Layer):
    """One ReNet layer: a bidirectional RNN down every column, then one across every row.

    The vertical sweep folds the columns into the batch axis, (B, H, W, C) -> (B*W, H, C), so
    one RNN call covers the whole feature map (Keras 3's `TimeDistributed` would loop over the
    columns in Python); the horizontal sweep folds the rows, (B, H, W, 2U) -> (B*H, W, 2U).
    After both sweeps every output position depends on every input position, so the layer
    gives global context at any input size (H and W are read with `ops.shape` at call time).

    Args:
        units: hidden units per direction; the output has `2 * units` channels.
        rnn_type: "gru" or "lstm".
        **kwargs: standard layer arguments (name, dtype, ...).

    Example:
        >>> ReNet(8)(keras.ops.zeros((2, 4, 6, 3))).shape
        (2, 4, 6, 16)
    """

    def __init__(self, units=32, rnn_type="gru", **kwargs):
        super().__init__(**kwargs)
        if rnn_type not in RNN_TYPES:
            raise ValueError(f"rnn_type must be one of {', '.join(RNN_TYPES)}, not {rnn_type!r}")
        self.units = int(units)
        self.rnn_type = rnn_type
        cell = RNN_TYPES[rnn_type][0]
        self.vertical = layers.Bidirectional(
            cell(self.units, return_sequences=True, dtype=self.dtype_policy), name="vertical"
        )
        self.horizontal = layers.Bidirectional(
            cell(self.units, return_sequences=True, dtype=self.dtype_policy), name="horizontal"
        )

    def build(self, input_shape):
        self.vertical.build((None, None, input_shape[-1]))
        self.horizontal.build((None, None, 2 * self.units))
        super().build(input_shape)

    def call(self, inputs, training=None):
        shape = ops.shape(inputs)
        batch, height, width = shape[0], shape[1], shape[2]
        columns = ops.reshape(ops.transpose(inputs, (0, 2, 1, 3)), (batch * width, height, -1))
        columns = self.vertical(columns, training=training)
        x = ops.transpose(ops.reshape(columns, (batch, width, height, 2 * self.units)), (0, 2, 1, 3))
        rows = self.horizontal(ops.reshape(x, (batch * height, width, 2 * self.units)),
                               training=training)
        return ops.reshape(rows, (batch, height, width, 2 * self.units))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 2 * self.units)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "rnn_type": self.rnn_type})
        return config

    def recurrent_flops(self, height, width, channels):
        """Forward FLOPs of both sweeps on one H x W x C map (both directions of each)."""
        vertical = 2 * rnn_flops(self.rnn_type, height * width, channels, self.units)
        horizontal = 2 * rnn_flops(self.rnn_type, height * width, 2 * self.units, self.units)
        return vertical + horizontal
