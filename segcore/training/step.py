"""What a run trains and the step that trains it: the model and its optimizer, built under the
strategy's scope, and one distributed step through `strategy.run` (Keras 3's `model.fit`
fails under MultiWorkerMirroredStrategy on this stack; a custom step works)."""

from segcore.training import ema, finetune, prior_fit


def build_trainables(config, strategy, input_spec, class_map, class_weights, prior_bias,
                     fitting, resume):
    """Builds the model, its optimizer, the weight average and the prior share's fit.

    Args:
        fitting: `--prior-fit train` is on (the prior share is fitted each epoch).
        resume: a committed checkpoint will be restored, so a pretrained encoder's weights
            file is not read (it may be gone since the run started).

    Returns:
        (model, optimizer, average or None, share fit or None, encoder or None).
    """
    from segcore.models import build_model
    from segcore.models.precision import policy
    from segcore.training.schedules import make_optimizer

    with strategy.scope():
        hparams = dict(config.hparams)
        if resume and "encoder_weights" in hparams:
            hparams["encoder_weights"] = "none"  # the checkpoint holds every weight
        with policy(config.precision):
            model = build_model(
                config.model, (None, None, input_spec.channels), class_map.num_classes,
                input_norm=input_spec.normalization(), prior_bias=prior_bias, **hparams)
        optimizer = make_optimizer(config)
        # Over every variable, the encoder's too, before any freezing: the optimizer's
        # variables never change count, whichever phase a checkpoint was written in.
        optimizer.build(model.trainable_variables)
        # Issue 17: averaged weights for validation and checkpoints (None when off).
        average = ema.WeightAverage(model, config.ema) if config.ema else None
        share_fit = (prior_fit.ShareFit(model, class_weights, class_map.num_classes)
                     if fitting else None)
        encoder = finetune.encoder_of(model)
        if encoder is not None:
            finetune.scale_encoder_rate(optimizer, encoder.trainable_variables,
                                        hparams.get("encoder_lr_scale", 1.0))
    return model, optimizer, average, share_fit, encoder


class TrainStep:
    """One training step of a run, called as `step(images, masks)`.

    The forward and backward pass is compiled by XLA under `--jit xla`; the optimizer's
    update stays outside it, where the strategy reduces the gradients across replicas and
    workers. Returns the loss summed over replicas, and with a prior share fit also the
    step's counts under each share (from the step's own logits: no extra model call).
    """

    def __init__(self, model, optimizer, loss_fn, strategy, batch_size, jit="off",
                 average=None, share_fit=None):
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.strategy, self.batch_size, self.jit = strategy, batch_size, jit
        self.average, self.share_fit = average, share_fit
        self.trace()

    def trace(self):
        """(Re)builds the step's functions: Keras reads `trainable` when a step is traced."""
        import tensorflow as tf

        self.gradients = (tf.function(self._loss_and_gradients, jit_compile=True)
                          if self.jit == "xla" else self._loss_and_gradients)
        self._step = tf.function(self._distributed_step, reduce_retracing=True)

    def __call__(self, images, masks):
        return self._step(images, masks)

    def _loss_and_gradients(self, images, masks):
        """One replica's loss (averaged over the global batch), logits and gradients."""
        import tensorflow as tf

        with tf.GradientTape() as tape:
            logits = self.model(images, training=True)
            per_example = self.loss_fn(masks, logits)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.batch_size)
        return loss, logits, tape.gradient(loss, self.model.trainable_variables)

    def _distributed_step(self, images, masks):
        import tensorflow as tf

        def step(images, masks):
            loss, logits, gradients = self.gradients(images, masks)
            self.optimizer.apply_gradients(zip(gradients, self.model.trainable_variables))
            if self.share_fit is None:
                return loss
            return loss, self.share_fit.step_counts(masks, logits)

        outputs = self.strategy.run(step, args=(images, masks))
        if self.average is not None:
            self.average.update()
        return tf.nest.map_structure(
            lambda value: self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None),
            outputs)
