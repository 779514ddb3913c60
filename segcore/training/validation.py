"""Validation of whole images through the tiled predictor, as evaluation and deployment see them.

Patch training validates on whole validation images (at the training `--scale`) predicted in
overlapping, blended tiles of the patch size by `segcore.inference.predict_tiled`, so the
validation mean IoU that picks `best.keras` is the one `evaluate` and `predict` will get. One
image is read at a time, so a streamed validation set never has to fit in memory.
"""

import numpy as np

from segcore.data.classes import IGNORE_LABEL
from segcore.data.streaming import expand
from segcore.inference import predict_tiled
from segcore.metrics import confusion_matrix, scores


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
        # Traced once per tile shape: eager Keras calls cost more than the tiles themselves.
        self._logits = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
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

    def _model(self, tiles, training=False):
        return self._logits(np.asarray(tiles, dtype=np.float32))

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
