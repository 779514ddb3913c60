"""Fine-tuning a pretrained encoder: a frozen phase first, then a lower encoder learning rate.

The optimizer is built once over every trainable variable, the encoder's included, before any
freezing, so `optimizer.variables` keep their count and order through both phases and a
checkpoint written in either resumes in the other. The phase is a pure function of the epoch,
so a resume derives it from the committed epoch.
"""

ENCODER_LAYER = "encoder"


def encoder_of(model):
    """The model's pretrained encoder (a nested `keras.Model` named "encoder"), or None."""
    try:
        return model.get_layer(ENCODER_LAYER)
    except ValueError:
        return None


def frozen(epoch, freeze_epochs):
    """Whether the encoder is frozen during `epoch` (0-based): the first `freeze_epochs` are."""
    return epoch < freeze_epochs


def set_frozen(encoder, value):
    """Freezes or unfreezes the encoder; returns True when that changed anything.

    A frozen encoder's variables receive no updates and its batch normalization runs in
    inference mode (Keras: `training and self.trainable`), keeping the pretrained statistics.
    Keras reads `trainable` when a step is traced, so the caller retraces after a change.
    """
    if encoder is None or encoder.trainable == (not value):
        return False
    encoder.trainable = not value
    return True


def scale_encoder_rate(optimizer, variables, scale):
    """Makes `optimizer` update `variables` with `scale` times its learning rate.

    Keras 3 optimizers have one rate; every variable's update goes through `update_step`
    with it, so the wrapper scales the rate for the encoder's variables only (found by the
    key the optimizer itself files its slots under). Decoupled weight decay (AdamW, SGD)
    keeps the full rate. A scale of 1 changes nothing.

    Example: lr 1e-3 and scale 0.1 update the encoder with 1e-4, the decoder with 1e-3.
    """
    if scale == 1.0 or not variables:
        return
    keys = {optimizer._var_key(variable) for variable in variables}
    update_step = optimizer.update_step

    def scaled_update_step(gradient, variable, learning_rate):
        if optimizer._var_key(variable) in keys:
            learning_rate = learning_rate * scale
        return update_step(gradient, variable, learning_rate)

    optimizer.update_step = scaled_update_step
