"""Bilinear resize of one tensor to the spatial size of another, known only at run time."""

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="segcore")
class ResizeLike(layers.Layer):
    """Resizes `x` (B, h, w, C) to the height and width of `like` (B, H, W, *).

    DeepLab's image-pooling branch is 1x1 and must cover a feature map whose size is only
    known when an image arrives (the models accept any multiple of their stride).

    Args:
        interpolation: "bilinear" or "nearest".
        **kwargs: base layer arguments.
    """

    def __init__(self, interpolation="bilinear", **kwargs):
        super().__init__(**kwargs)
        self.interpolation = interpolation

    def call(self, x, like):
        size = ops.shape(like)[1:3]
        return ops.image.resize(x, size, interpolation=self.interpolation)

    def compute_output_shape(self, x_shape, like_shape):
        return (x_shape[0], like_shape[1], like_shape[2], x_shape[-1])

    def get_config(self):
        config = super().get_config()
        config["interpolation"] = self.interpolation
        return config
