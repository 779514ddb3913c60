"""A run's lifecycle around the training loop: locks, config.json, resume, and the end.

`train` is what the CLI, the app's background process and every cluster worker call; the
loop itself (`segcore.training.loop.Trainer`) trains, this module decides what it starts from.
"""

import platform
from pathlib import Path

import numpy as np

from segcore import runlock
from segcore.data.classes import ClassMap
from segcore.errors import ClusterError, RunError
from segcore.fileio import write_json_atomic
from segcore.runs import read_config
from segcore.training import checkpoint, checkpoint_folder
from segcore.training.config import RunConfig
from segcore.training.strategy import is_chief


def _versions():
    import keras
    import tensorflow as tf

    return {"python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "numpy": np.__version__}



def write_run_config(run_dir, trainer):
    """Stores the resolved config, class map, dataset fingerprint and versions in config.json."""
    if trainer.run_dir is None:
        return
    existing = read_config(run_dir)
    existing.update({
        "config": trainer.config.to_json(),
        "class_map": trainer.class_map.to_json(),
        "num_classes": trainer.class_map.num_classes,
        "input_scale": trainer.input_scale,
        "input": trainer.input_spec.to_json(),
        "dataset_fingerprint": trainer.dataset.fingerprint(),
        "dataset_sizes": {k: len(v) for k, v in trainer.dataset.splits.items()},
        "dataset_format": trainer.dataset.format,
        "class_weights": None if trainer.class_weights is None else trainer.class_weights.tolist(),
        "versions": _versions(),
    })
    write_json_atomic(Path(run_dir) / "config.json", existing)


def train(config, run_dir, resume=False, strategy=None, stream=None, lock=None):
    """Trains `config` into `run_dir`; with `resume`, continues from its committed checkpoint.

    Args:
        lock: a `TrainerLock` already holding the workspace and the run (the CLI takes it
            before creating the run folder); else the chief takes both here.

    Returns:
        "finished" or "stopped".

    Raises:
        RunError: another process trains in this workspace or this run, or a resume finds a
            trained run without a consistent checkpoint.
    """

    from segcore.training import loop  # loop imports this module: resolved at call time

    config = RunConfig.from_json(config.to_json()).validate()
    own_lock = None
    if run_dir is not None and lock is None and is_chief():
        own_lock = lock = runlock.TrainerLock(Path(run_dir).parent).hold_workspace()
        try:
            lock.hold_run(run_dir)
        except RunError:
            own_lock.release()
            raise
    try:
        # A committed checkpoint holds every weight: its encoder file is not read again.
        restoring = bool(resume and run_dir is not None and checkpoint.summary(run_dir))
        trainer = loop.Trainer(config, run_dir, strategy, resume=restoring)
        writer = trainer.run_dir is not None  # the chief; other workers only read the checkpoint
        resumed = resume and trainer.load_state(run_dir)  # (a 0.1 checkpoint is migrated)
        if writer:
            checkpoint_folder.check_top_level(run_dir)
            checkpoint_folder.truncate_metrics(run_dir, trainer.checkpoint if resumed else None)
            if not resumed:
                write_run_config(run_dir, trainer)
            checkpoint_folder.clean(run_dir)  # only now: a refused resume leaves every file as it was
        return _fit(trainer, stream)
    finally:
        if own_lock is not None:
            own_lock.release()


def _fit(trainer, stream):
    import tensorflow as tf

    try:
        return trainer.fit(stream)
    except (tf.errors.UnknownError, tf.errors.InvalidArgumentError):
        failure = trainer.data.failure()
        if failure is not None:  # a streamed image that cannot be decoded: name the file
            raise failure from None
        raise
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
            tf.errors.CancelledError, tf.errors.AbortedError) as error:
        if trainer.strategy.extended._in_multi_worker_mode():
            raise ClusterError(
                "A worker of the cluster stopped answering, so training stopped "
                f"({error.__class__.__name__}); resume with --resume once every host is up."
            ) from None
        raise


def class_map_of(run_dir):
    return ClassMap.from_json(read_config(run_dir)["class_map"])
