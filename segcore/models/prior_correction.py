"""Taking back part of class weighting's push toward rare classes, at prediction only.

A cross-entropy weighted by w_c is minimised by a softmax proportional to w_c p(c | x): the
trained model over-predicts each rare class, the more the heavier its weight. Median-frequency weights
(w up to ~15 on CamVid) teach rare classes well but leave them predicted 3-4x as often as
they occur (Pedestrian, SignSymbol: precision 0.2), which costs IoU. Subtracting
alpha * log(w_c) from the logits at prediction divides that share of the weight back out
(the "logit adjustment" of Menon et al., 2021): alpha = 1 restores the unweighted posterior
(best pixel accuracy), alpha = 0 keeps the weighted one (best mean class recall); mean IoU,
which pays for both misses and false alarms, lies between them.
"""

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="segcore")
class PriorCorrection(layers.Layer):
    """Subtracts a constant per-class bias from the logits when not training.

    Training sees the logits as they are (the weighted loss needs them so); validation,
    checkpoints, `evaluate`, `predict` and every export call the model with `training=False`
    and get the corrected logits. The bias is a constant of the layer's config (no weights),
    so a `.keras` file or an export carries it with no other file.

    Example: bias [0.0, 1.0] maps logits [2.0, 2.5] to [2.0, 1.5] at prediction.

    Args:
        bias: one float per class.
        **kwargs: base layer arguments (name, dtype).
    """

    def __init__(self, bias, **kwargs):
        super().__init__(**kwargs)
        self.bias = [float(b) for b in bias]

    def build(self, input_shape):
        classes = input_shape[-1]
        if classes is not None and int(classes) != len(self.bias):
            raise ValueError(f"PriorCorrection has {len(self.bias)} biases, but the logits "
                             f"have {classes} classes")

    def call(self, inputs, training=None):
        if training:
            return inputs
        return inputs - ops.convert_to_tensor(self.bias, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(bias=list(self.bias))
        return config


def with_prior_correction(model, bias):
    """The same layers with a `PriorCorrection` after the logits (the model itself if no bias)."""
    if bias is None:
        return model
    logits = PriorCorrection(bias, name="prior_correction", dtype="float32")(model.outputs[0])
    return keras.Model(model.inputs, logits, name=model.name)
