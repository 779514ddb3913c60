"""Validation after each epoch: resized images in batches, or whole images in tiles.

Runs on resized images held in memory validate in batches through the distributed evaluation
step (`BatchValidator`). Patch training validates on whole validation images (at the training
`--scale`) predicted in overlapping, blended tiles of the patch size by
`segcore.tiling.predict_tiled` (`TiledValidator`), so the validation mean IoU that picks
`best.keras` is the one `evaluate` and `predict` will get. One image is read at a time, so a
streamed validation set never has to fit in memory.
"""

import time

import numpy as np

from segcore.data.classes import IGNORE_LABEL
from segcore.data.pipeline import eval_dataset
from segcore.data.streaming import expand
from segcore.inference import Traced
from segcore.metrics import confusion_matrix, confusion_matrix_tf, scores
from segcore.tiling import predict_tiled


def pad_to_batches(images, masks, batch_size):
    """Pads with all-void examples to whole batches, so every replica gets a full share.

    A replica handed an empty last batch fails in oneDNN's convolution; void examples change
    neither the confusion matrix nor the loss.
    """
    extra = -len(images) % batch_size
    if not extra:
        return images, masks
    images = np.concatenate([images, np.zeros((extra, *images.shape[1:]), images.dtype)])
    masks = np.concatenate([masks, np.full((extra, *masks.shape[1:]), IGNORE_LABEL, masks.dtype)])
    return images, masks


class BatchValidator:
    """Scores a model on validation arrays in batches, across the strategy's replicas.

    Args:
        strategy: the run's `tf.distribute` strategy.
        model: the Keras model (logits).
        loss_fn: the run's loss, (int labels [B, H, W], logits [B, H, W, C]) -> [B].
        class_names: the class names (their count is the number of classes).
        batch_size: the global batch size.

    Attributes:
        first_step: seconds of the first step (tracing its function), after the first call.
    """

    def __init__(self, strategy, model, loss_fn, class_names, batch_size):
        import tensorflow as tf

        self.strategy, self.model, self.loss_fn = strategy, model, loss_fn
        self.class_names, self.batch_size = list(class_names), batch_size
        self.first_step = None
        self._step = tf.function(self._distributed_step, reduce_retracing=True)

    def _distributed_step(self, images, masks):
        import tensorflow as tf

        num_classes = len(self.class_names)

        def step(images, masks):
            logits = self.model(images, training=False)
            loss_sum = tf.reduce_sum(self.loss_fn(masks, logits))
            # Padding examples are all void: they add no loss and are not counted.
            labelled = tf.reduce_any(tf.not_equal(masks, IGNORE_LABEL), axis=[1, 2])
            count = tf.reduce_sum(tf.cast(labelled, tf.float32))
            predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)
            cm = confusion_matrix_tf(masks, predictions, num_classes, IGNORE_LABEL)
            return loss_sum, count, cm

        loss_sum, count, cm = self.strategy.run(step, args=(images, masks))
        reduce = lambda v: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)  # noqa: E731
        return reduce(loss_sum), reduce(count), reduce(cm)

    def __call__(self, images, masks):
        """Returns (mean loss per image, scores dict, int64 confusion matrix)."""
        num_classes = len(self.class_names)
        total = np.zeros((num_classes, num_classes), dtype=np.int64)
        loss_sum = count = 0.0
        images, masks = pad_to_batches(images, masks, self.batch_size)
        data = eval_dataset(images, masks, self.batch_size)
        for images, masks in self.strategy.experimental_distribute_dataset(data):
            started = time.perf_counter()
            batch_loss, batch_count, cm = self._step(images, masks)
            if self.first_step is None:
                self.first_step = time.perf_counter() - started
            loss_sum += float(batch_loss)
            count += float(batch_count)
            total += cm.numpy().astype(np.int64)
        return loss_sum / max(count, 1.0), scores(total, self.class_names), total


class TiledValidator:
    """Scores a model on a validation source, whole image by whole image.

    Args:
        model: the Keras model (logits).
        loss_fn: the run's loss, (int labels [B, H, W], logits [B, H, W, C]) -> [B].
        tile: (h, w) tile size (the patch, or the training size).
        stride: the model's stride.
        class_names: the class names (their count is the number of classes).
    """

    def __init__(self, model, loss_fn, tile, stride, class_names):
        import tensorflow as tf

        self.tile, self.stride, self.class_names = tuple(tile), stride, list(class_names)
        # Traced: eager Keras calls cost more than the tiles themselves.
        self._model = Traced(model)
        self._loss = tf.function(lambda y, x: loss_fn(y, x), reduce_retracing=True)

    def __call__(self, source):
        """Returns (mean tile loss, scores dict, int64 confusion matrix) over `source`."""
        num_classes = len(self.class_names)
        total = np.zeros((num_classes, num_classes), dtype=np.int64)
        losses = []
        for index in range(len(source)):
            image, mask = source.get(index)
            image, mask = expand(image), np.asarray(mask)
            labels = predict_tiled(self._model, image, self.tile, self.stride, num_classes,
                                   on_tile=self._tile_loss(mask, losses))
            total += confusion_matrix(mask, labels, num_classes, ignore_index=IGNORE_LABEL)
        loss = float(np.mean(losses)) if losses else float("nan")
        return loss, scores(total, self.class_names), total

    def _tile_loss(self, mask, losses):
        """The loss of each tile the predictor reads, on the mask padded with void like it."""
        def on_tile(top, left, logits):
            height, width = logits.shape[:2]
            truth = np.full((height, width), IGNORE_LABEL, dtype=np.int32)
            part = mask[top:top + height, left:left + width]
            truth[:part.shape[0], :part.shape[1]] = part
            if (truth != IGNORE_LABEL).any():  # a tile of padding alone says nothing
                losses.append(float(self._loss(truth[None], np.asarray(logits)[None])[0]))
        return on_tile


class RunValidator:
    """A run's validation after each epoch: whole images in tiles for patch and streamed
    data (`TiledValidator`), batches of the resized images in memory otherwise
    (`BatchValidator`).

    The validator is built at its first call, and again after `reset`: a change in what the
    model predicts outside its weights (a prior-correction share) needs new traces.

    Args:
        data: the run's `data_source.RunData`.
        strategy, model, loss_fn, class_names, batch_size: as `BatchValidator` takes them.
        stride: the model's stride (tiles are padded to it).

    Attributes:
        first_step: seconds of the first batch step of the first validation (tracing its
            function), once it has run; 0.0 for tiled validation, whose traces are its tiles'.
    """

    def __init__(self, data, strategy, model, loss_fn, class_names, batch_size, stride):
        self.data, self.strategy, self.model, self.loss_fn = data, strategy, model, loss_fn
        self.class_names, self.batch_size, self.stride = list(class_names), batch_size, stride
        self.first_step = None
        self._validator = None

    def reset(self):
        self._validator = None

    def __call__(self):
        """Returns (val loss, scores dict, int64 confusion matrix)."""
        if self.data.tiled:
            if self._validator is None:
                self._validator = TiledValidator(self.model, self.loss_fn, self.data.tile,
                                                 self.stride, self.class_names)
            self.first_step = 0.0 if self.first_step is None else self.first_step
            return self._validator(self.data.val_source)
        if self._validator is None:
            self._validator = BatchValidator(self.strategy, self.model, self.loss_fn,
                                             self.class_names, self.batch_size)
        result = self._validator(self.data.val_images, self.data.val_masks)
        if self.first_step is None:
            self.first_step = self._validator.first_step
        return result
