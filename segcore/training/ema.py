"""An exponential moving average of a model's weights, for evaluation and checkpoints.

Training goes on with the raw weights; validation, `best.keras` and `last.keras` use the
average, which moves less from step to step and usually generalises better at the end of a
short run (Polyak averaging). The average covers every weight, batch-normalization statistics
included, so the averaged model's statistics match its averaged kernels.
"""

import contextlib


def decay_at(decay, updates):
    """The decay of the `updates`-th update (counted from 0): `min(decay, (1 + n) / (10 + n))`.

    The warm-up (TensorFlow's `ExponentialMovingAverage` with `num_updates`) keeps the first
    updates from holding on to the random initial weights: with decay 0.999 a run of 300 steps
    would otherwise still be 74% its initialization.

    Args:
        decay: the decay the average tends to, in (0, 1).
        updates: how many updates came before this one.

    Returns:
        The decay of this update.

    Example:
        decay 0.999: update 0 uses 0.1, update 10 uses 0.55, update 1000 uses 0.991, and from
        update 8990 on 0.999.
    """
    return min(decay, (1.0 + updates) / (10.0 + updates))


class WeightAverage:
    """Shadow copies of a model's weights, moved toward them after every training step.

    `shadow <- d * shadow + (1 - d) * weight`, with d = `decay_at(decay, updates)`.

    Create it inside the strategy's scope (the shadows are then mirrored like the weights);
    call `update()` inside the training step's `tf.function`, after the optimizer.

    Attributes:
        variables: the shadows followed by the update counter: what a checkpoint stores.
    """

    def __init__(self, model, decay):
        """Args:
            model: the Keras model whose `weights` are averaged.
            decay: in (0, 1); e.g. 0.999 averages over roughly the last 1000 steps.
        """
        import tensorflow as tf

        self.model = model
        self.decay = float(decay)
        self.shadows = [tf.Variable(w.value, trainable=False, name=f"ema_{i}")
                        for i, w in enumerate(model.weights)]
        self.updates = tf.Variable(0, dtype=tf.int64, trainable=False, name="ema_updates")

    @property
    def variables(self):
        return [*self.shadows, self.updates]

    def update(self):
        """Moves every shadow toward its weight (graph-safe; call after apply_gradients)."""
        import tensorflow as tf

        count = tf.cast(self.updates, tf.float32)
        decay = tf.minimum(self.decay, (1.0 + count) / (10.0 + count))
        for shadow, weight in zip(self.shadows, self.model.weights):
            value = tf.cast(weight.value, shadow.dtype)
            if shadow.dtype.is_floating:
                shadow.assign(decay * shadow + (1.0 - decay) * value)
            else:  # integer state (a counter layer): the latest value
                shadow.assign(value)
        self.updates.assign_add(1)

    @contextlib.contextmanager
    def applied(self):
        """Puts the averaged weights into the model for the block, then the raw ones back.

        The raw values come back bit for bit, so training after an evaluation (and a resume
        from a checkpoint written in between) goes on exactly.
        """
        raw = [w.numpy() for w in self.model.weights]
        for weight, shadow in zip(self.model.weights, self.shadows):
            weight.assign(shadow.numpy())
        try:
            yield self.model
        finally:
            for weight, value in zip(self.model.weights, raw):
                weight.assign(value)


def applied(average):
    """`average.applied()`, or a block that changes nothing when averaging is off (None)."""
    return average.applied() if average is not None else contextlib.nullcontext()
