"""Folding 2x2 blocks of pixels into channels and back (space-to-depth, depth-to-space).

A network's full-resolution level has the most pixels and the fewest channels, which CPU
convolution kernels run worst: on a 2-core AVX2 CPU, ReSeg's two full-resolution levels
(four 3x3 convolutions on 16-32 channels) held about a quarter of a training step, their
weight gradients at 40% of the forward convolution's speed (bench/RESULTS.md). Folding the
input's 2x2 blocks into channels lets the first convolution start at half resolution, and
unfolding 4 logits per class at the end gives back one logit per input pixel, as
sub-pixel convolution does for super-resolution (Shi et al., 2016).
"""

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="segcore")
class SpaceToDepth(layers.Layer):
    """(B, H, W, C) -> (B, H/b, W/b, C*b*b): each b x b block of pixels becomes one position.

    Example: a (1, 4, 6, 3) image becomes (1, 2, 3, 12) with `block=2`.

    Args:
        block: the block side; H and W must be multiples of it.
        **kwargs: base layer arguments.
    """

    def __init__(self, block=2, **kwargs):
        super().__init__(**kwargs)
        self.block = int(block)

    def call(self, inputs):
        return ops.space_to_depth(inputs, self.block)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        return (batch, _divide(height, self.block), _divide(width, self.block),
                None if channels is None else channels * self.block**2)

    def get_config(self):
        config = super().get_config()
        config["block"] = self.block
        return config


@keras.saving.register_keras_serializable(package="segcore")
class DepthToSpace(layers.Layer):
    """(B, H, W, C*b*b) -> (B, H*b, W*b, C): the inverse of `SpaceToDepth`.

    Args:
        block: the block side.
        **kwargs: base layer arguments.
    """

    def __init__(self, block=2, **kwargs):
        super().__init__(**kwargs)
        self.block = int(block)

    def call(self, inputs):
        return ops.depth_to_space(inputs, self.block)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        return (batch, _multiply(height, self.block), _multiply(width, self.block),
                None if channels is None else channels // self.block**2)

    def get_config(self):
        config = super().get_config()
        config["block"] = self.block
        return config


def _divide(side, block):
    return None if side is None else side // block


def _multiply(side, block):
    return None if side is None else side * block
