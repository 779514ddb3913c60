"""What a run writes for its readers besides checkpoints: status.json, metrics.jsonl,
TensorBoard scalars and the log's lines. Only the chief writes files; every other worker of a
cluster gets a report without a folder, which writes nothing.
"""

import hashlib

import numpy as np

from segcore.fileio import append_jsonl
from segcore.metrics import json_safe
from segcore.runs import write_status

SCALARS = ("train_loss", "val_loss", "val_mean_iou", "val_pixel_accuracy", "lr")


class RunReport:
    """The files a run's readers poll (the app's pages, `segcore runs`, TensorBoard)."""

    def __init__(self, run_dir):
        """Args:
            run_dir: the run folder, or None on a worker that is not the chief.
        """
        self.run_dir = run_dir
        self._writer = None

    def status(self, **fields):
        """Updates status.json with `fields`."""
        if self.run_dir is not None:
            write_status(self.run_dir, **fields)

    def record(self, record):
        """Appends one record (a step's or an epoch's) to metrics.jsonl."""
        if self.run_dir is not None:
            append_jsonl(self.run_dir / "metrics.jsonl", json_safe(record))

    def epoch(self, record, mean_iou, stream):
        """An epoch's record: metrics.jsonl, TensorBoard's scalars, and one line to `stream`
        with `mean_iou` (the record's, 0 where it is undefined)."""
        self.record(record)
        if self.run_dir is not None:
            import tensorflow as tf

            if self._writer is None:
                self._writer = tf.summary.create_file_writer(str(self.run_dir / "tensorboard"))
            with self._writer.as_default(step=record["epoch"]):
                for key in SCALARS:
                    tf.summary.scalar(key, record[key])
            self._writer.flush()
        stream.write(f"epoch {record['epoch']}: train loss {record['train_loss']:.4f}  "
                     f"val loss {record['val_loss']:.4f}  "
                     f"val mIoU {mean_iou:.4f}  ({record['seconds']:.1f}s)\n")


def weights_fingerprint(model):
    """A short hash of every weight: equal on all workers of a synchronous run."""
    digest = hashlib.sha256()
    for variable in model.weights:
        digest.update(np.ascontiguousarray(variable.numpy()).tobytes())
    return digest.hexdigest()[:16]
