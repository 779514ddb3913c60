"""The input scaling an ImageNet encoder was trained with, as a layer inside the model."""

import keras
from keras import layers, ops

# ImageNet statistics of RGB channels: caffe's on 0..255 (BGR order), torch's on 0..1.
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)
MODES = ("tf", "caffe", "torch")


def _per_channel(values, channels):
    """RGB statistics for `channels` inputs: their mean for one channel, else cycled."""
    if channels == 1:
        return [sum(values) / 3.0]
    return [values[i % 3] for i in range(channels)]


@keras.saving.register_keras_serializable(package="segcore")
class EncoderInput(layers.Layer):
    """Turns segcore's input (float RGB in [0, 1]) into what a pretrained encoder expects.

    Being part of the model, the scaling travels with every checkpoint and export, so
    evaluation, prediction, SavedModel and TFLite all take segcore's usual input.

    Modes (x in [0, 1]):
        "tf":    2x - 1                                  (MobileNetV2, MobileNetV3)
        "caffe": 255x in BGR order minus the ImageNet mean (ResNet50)
        "torch": (x - mean) / std with ImageNet's RGB statistics (EfficientNetV2-B, ConvNeXt)

    Example: "tf" maps 0.25 to -0.5; "caffe" maps an RGB pixel (1, 0, 0) to
    (-103.939, -116.779, 131.32) in BGR order.

    Grayscale input uses the mean of the RGB statistics; other channel counts cycle them, and
    the BGR swap applies to 3 channels only.

    Args:
        mode: one of `MODES`.
        **kwargs: base layer arguments (name, dtype).
    """

    def __init__(self, mode="tf", **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.mode = mode

    def build(self, input_shape):
        channels = int(input_shape[-1])
        if self.mode == "caffe":
            mean = _per_channel(_CAFFE_BGR_MEAN[::-1], channels)  # RGB order, as the input is
            self._scale, self._offset = [255.0] * channels, [-m for m in mean]
        elif self.mode == "torch":
            mean, std = _per_channel(_TORCH_MEAN, channels), _per_channel(_TORCH_STD, channels)
            self._scale = [1.0 / s for s in std]
            self._offset = [-m / s for m, s in zip(mean, std)]
        else:
            self._scale, self._offset = [2.0] * channels, [-1.0] * channels
        self._reverse = self.mode == "caffe" and channels == 3

    def call(self, inputs):
        x = inputs * ops.convert_to_tensor(self._scale, inputs.dtype) + ops.convert_to_tensor(
            self._offset, inputs.dtype)
        return ops.flip(x, axis=-1) if self._reverse else x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["mode"] = self.mode
        return config
