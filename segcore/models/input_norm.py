"""Per-channel standardization of a multi-channel input, as the model's first layer."""

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="segcore")
class InputNorm(layers.Layer):
    """Standardizes each input channel with the training split's statistics: (x - mean) / std.

    The statistics are constants of the layer (its config, not weights), so a checkpoint, a
    `.keras` file, a SavedModel or a TFLite export applies them with no other file: every
    consumer feeds the image as read (`segcore.data.channels.read_input`) and gets the same
    numbers training saw.

    Example: mean [1.0], std [2.0] map a pixel 3.0 to 1.0.

    Args:
        mean: one float per channel.
        std: one float per channel, each above 0.
        **kwargs: base layer arguments (name, dtype).
    """

    def __init__(self, mean, std, **kwargs):
        super().__init__(**kwargs)
        self.mean = [float(m) for m in mean]
        self.std = [float(s) for s in std]
        if len(self.mean) != len(self.std) or not self.mean or min(self.std) <= 0:
            raise ValueError("mean and std need one value per channel, every std above 0")

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is not None and int(channels) != len(self.mean):
            raise ValueError(f"InputNorm has statistics of {len(self.mean)} channels, but the "
                             f"input has {channels}")

    def call(self, inputs):
        mean = ops.convert_to_tensor(self.mean, inputs.dtype)
        scale = ops.convert_to_tensor([1.0 / s for s in self.std], inputs.dtype)
        return (inputs - mean) * scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(mean=list(self.mean), std=list(self.std))
        return config


def model_input(input_shape, input_norm=None):
    """The model's `keras.Input` and the tensor its first layer reads.

    Args:
        input_shape: (H, W, C).
        input_norm: {"mean": [...], "std": [...]} to standardize the channels with
            (`InputSpec.normalization()`), or None to feed the input as it is.

    Returns:
        (inputs, x): x is `inputs` itself, or `InputNorm` applied to it.
    """
    inputs = keras.Input(shape=input_shape, name="image")
    if input_norm is None:
        return inputs, inputs
    return inputs, InputNorm(input_norm["mean"], input_norm["std"], name="input_norm",
                             dtype="float32")(inputs)
