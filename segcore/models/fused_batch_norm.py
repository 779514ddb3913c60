"""Batch normalization through TensorFlow's fused kernel, where one applies."""

import keras
from keras import layers

# The kernel's input types (scale, offset and statistics are float32 for all of them); bfloat16
# is mixed-precision training's (segcore/models/precision.py): with the Keras layer instead,
# a bfloat16 U-Net step was 1.5x slower and lost most of the gain of bfloat16.
FUSED_DTYPES = ("float32", "float16", "bfloat16")


@keras.saving.register_keras_serializable(package="segcore")
class FusedBatchNorm(layers.BatchNormalization):
    """`keras.layers.BatchNormalization` computed by one fused kernel on TensorFlow.

    Keras 3 normalizes with separate ops (moments, then scale and shift), each a pass over
    the activations, and differentiates through all of them. TensorFlow's
    `FusedBatchNormV3` does the forward pass in one kernel and the backward pass in
    another; on a 2-core CPU a U-Net trains 1.16x as many images per second at 256x256
    (`python -m bench batchnorm`, bench/RESULTS.md).
    The weights, the moving-statistics update and the results are those of the Keras layer
    (the fused kernel's Bessel-corrected batch variance is turned back into the biased one
    Keras averages), so checkpoints move freely between the two.

    Other backends, masks, renorm, synchronized statistics, a normalized axis other than the
    last of a 4-D input, and dtypes the kernel lacks fall back to the Keras layer.

    Args:
        **kwargs: the arguments of `keras.layers.BatchNormalization`.
    """

    def _fusable(self, inputs, mask):
        return (
            keras.backend.backend() == "tensorflow"
            and mask is None
            and not self.renorm
            and not self.synchronized
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
            and keras.backend.standardize_dtype(inputs.dtype) in FUSED_DTYPES
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        channels = inputs.shape[-1]
        gamma = self.gamma if self.scale else tf.ones([channels], tf.float32)
        beta = self.beta if self.center else tf.zeros([channels], tf.float32)
        gamma = tf.convert_to_tensor(gamma, tf.float32)
        beta = tf.convert_to_tensor(beta, tf.float32)
        if not (training and self.trainable):
            outputs, _, _ = tf.compat.v1.nn.fused_batch_norm(
                inputs, gamma, beta, mean=tf.convert_to_tensor(self.moving_mean, tf.float32),
                variance=tf.convert_to_tensor(self.moving_variance, tf.float32),
                epsilon=self.epsilon, is_training=False,
            )
            return outputs
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, gamma, beta, epsilon=self.epsilon, is_training=True
        )
        # The kernel returns the unbiased batch variance; Keras averages the biased one.
        count = tf.cast(tf.reduce_prod(tf.shape(inputs)[:-1]), tf.float32)
        variance = variance * tf.maximum(count - 1.0, 0.0) / tf.maximum(count, 1.0)
        momentum = self.momentum
        self.moving_mean.assign(self.moving_mean * momentum + mean * (1.0 - momentum))
        self.moving_variance.assign(
            self.moving_variance * momentum + variance * (1.0 - momentum)
        )
        return outputs
