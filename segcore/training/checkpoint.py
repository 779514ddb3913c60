"""The one checkpoint commit: everything a resume needs becomes visible in one atomic step.

A run folder keeps its checkpoints in generations::

    ckpt/current -> gen-000007      the commit point: one symlink, switched by a rename
    ckpt/gen-000007/state.npz       weights and optimizer variables (numpy, no pickle)
    ckpt/gen-000007/state.json      loop position, best score, metrics.jsonl length, counts
    ckpt/gen-000007/last.keras      the model after this checkpoint's step
    ckpt/gen-000007/best.keras      the best model so far (a hard link when it did not change)
    ckpt/gen-000007/best_confusion.json
    best.keras -> ckpt/current/best.keras        fixed links: never rewritten after creation
    last.keras -> ckpt/current/last.keras
    best_confusion.json -> ckpt/current/best_confusion.json

A new generation is written completely beside the current one, then `ckpt/current` is
switched with one `rename`; a SIGKILL at any instant leaves either the previous or the next
generation in force, never a mix (weights one epoch ahead of the loop position, or a
`best.keras` that is not the best). Files of a generation are never changed after the switch.
"""

import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segcore.errors import RunError
from segcore.fileio import (
    fsync_dir,
    link_or_copy,
    read_json,
    read_jsonl,
    switch_link,
    write_json_atomic,
    write_synced,
)
from segcore.numeric_range import is_finite_number, is_whole_number
from segcore.training import ema
from segcore.training.checkpoint_folder import CURRENT, STATE_DIR, clean, folder, link_top_level

FORMAT = 1
# Legacy layout (segcore 0.1): ckpt/state.npz + ckpt/state.json, real best.keras/last.keras.
LEGACY = ("state.npz", "state.json")  # segcore 0.1: ckpt/state.*, migrated on resume
# Loop-state fields a resume needs, with their types.
_STATE_TYPES = {"epoch": int, "step": int, "step_in_epoch": int, "best_mean_iou": float,
                "epochs_without_improvement": int, "plateau": dict, "train_seconds": float}


def _reached(step):
    """Called after each step of a commit; kill tests replace it to die at that instant."""


@dataclass
class Checkpoint:
    """A committed generation: its folder and what its `state.json` holds."""

    folder: Path
    state: dict
    metrics_bytes: int
    weights: int
    optimizer: int
    has_best: bool
    averaged: int = 0  # weight-average (EMA) arrays, stored after the optimizer's

    @property
    def number(self):
        return int(self.folder.name.split("-")[1])

    def best(self):
        return self.folder / "best.keras"

    def assign(self, model_variables, optimizer_variables, averaged_variables=()):
        """Copies the stored arrays into the variables, after checking their count and shapes."""
        path = self.folder / "state.npz"
        if (len(model_variables) != self.weights or len(optimizer_variables) != self.optimizer
                or len(averaged_variables) != self.averaged):
            raise RunError(f"{path}: holds {self.weights} weights, {self.optimizer} optimizer "
                           f"and {self.averaged} weight-average variables, which does not match "
                           "this run's model; it cannot resume.")
        try:
            with np.load(path, allow_pickle=False) as arrays:
                values = [arrays[f"w{i}"] for i in range(self.weights)]
                values += [arrays[f"o{i}"] for i in range(self.optimizer)]
                values += [arrays[f"e{i}"] for i in range(self.averaged)]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise RunError(f"{path}: damaged checkpoint ({error.__class__.__name__}); "
                           "the run cannot resume exactly.") from None
        for variable, value in zip([*model_variables, *optimizer_variables,
                                    *averaged_variables], values):
            if tuple(variable.shape) != value.shape or not np.all(np.isfinite(value)):
                raise RunError(f"{path}: an array of shape {value.shape} does not fit the "
                               f"variable {variable.path} {tuple(variable.shape)} or is not "
                               "finite; the run cannot resume.")
            variable.assign(value)


def parse_state(path, record):
    """Validates a `state.json` record; raises RunError naming the file and the field."""
    if not isinstance(record, dict) or not isinstance(record.get("state"), dict):
        raise RunError(f"{path}: not a checkpoint record; the run cannot resume.")
    if type(record.get("format")) is not int or record["format"] != FORMAT:
        raise RunError(f"{path}: field 'format' is not {FORMAT}, the only checkpoint format "
                       "this segcore reads; the run cannot resume.")
    state = record["state"]
    for key, kind in _STATE_TYPES.items():
        value = state.get(key)
        if kind is dict:
            ok = isinstance(value, dict)
        elif kind is int:
            ok = is_whole_number(value)
        else:
            ok = is_finite_number(value) and (value >= 0 or key == "best_mean_iou")
        if not ok:
            raise RunError(f"{path}: field {key!r} is missing or invalid; the run cannot resume.")
    best_epoch = state.get("best_epoch")  # absent before it was kept
    if best_epoch is not None and not is_whole_number(best_epoch):
        raise RunError(f"{path}: field 'best_epoch' is invalid; the run cannot resume.")
    share = state.get("prior_correction", 0.0)  # present with --prior-fit train only
    if not (is_finite_number(share) and 0.0 <= share <= 1.0):
        raise RunError(f"{path}: field 'prior_correction' is invalid; the run cannot resume.")
    plateau = state["plateau"]
    if not all(map(is_finite_number, plateau.values())) or (
            set(plateau) - {"best", "stall", "scale", "patience", "factor", "min_scale"}):
        raise RunError(f"{path}: field 'plateau' is invalid; the run cannot resume.")
    counts = [record.get(k) for k in ("metrics_bytes", "weights", "optimizer")]
    if not all(map(is_whole_number, counts)):
        raise RunError(f"{path}: its array counts are missing or invalid; the run cannot resume.")
    averaged = record.get("averaged", 0)  # absent before weight averaging existed
    if not is_whole_number(averaged):
        raise RunError(f"{path}: field 'averaged' is invalid; the run cannot resume.")
    return counts


def read_generation(gen):
    path = gen / "state.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path} is missing; the run cannot resume.") from None
    except (OSError, ValueError, RecursionError) as error:
        raise RunError(f"{path}: unreadable ({error.__class__.__name__}); "
                       "the run cannot resume.") from None
    metrics_bytes, weights, optimizer = parse_state(path, record)
    has_best = bool(record.get("has_best"))
    for name in ("state.npz", "last.keras") + (("best.keras",) if has_best else ()):
        if not (gen / name).is_file():
            raise RunError(f"{gen / name} is missing; the run cannot resume.")
    return Checkpoint(gen, record["state"], metrics_bytes, weights, optimizer, has_best,
                      record.get("averaged", 0))


def committed(run_dir, migrate=False):
    """The run's committed checkpoint, or None when it has never committed one.

    Args:
        migrate: turn a segcore 0.1 checkpoint into a generation (only the process holding
            the run's lock may; otherwise such a run reads as having none).

    Raises:
        RunError: a checkpoint exists but is damaged or incomplete (naming the file).
    """
    ckpt = folder(run_dir)
    link = ckpt / CURRENT
    if os.path.islink(link):
        target = os.readlink(link)
        gen = ckpt / target
        if "/" in target or not target.startswith("gen-") or not gen.is_dir():
            raise RunError(f"{link} points to {target!r}, not to a checkpoint in {ckpt}; "
                           "the run cannot resume.")
        return read_generation(gen)
    if link.exists():
        raise RunError(f"{link} is not a checkpoint link; the run cannot resume.")
    if migrate and any((ckpt / name).exists() for name in LEGACY):
        from segcore.training.checkpoint_legacy import migrate_legacy

        return migrate_legacy(run_dir)
    return None


def resumable(run_dir, migrate=False):
    """The checkpoint a resume restores, or None when the run has not trained yet.

    Raises:
        RunError: the run has trained but its checkpoint is missing or damaged: resuming
            would restart it and overwrite its best model, so it is refused, naming the file.
    """
    found = committed(run_dir, migrate=migrate)
    if found is None:
        evidence = trained_before(run_dir)
        if evidence:
            raise RunError(
                f"{Path(run_dir) / STATE_DIR / CURRENT} is missing although the run has "
                f"trained ({'; '.join(evidence)}); resuming would restart it from epoch 0 and "
                "overwrite its best model, so it is refused. Start a new run instead.")
    return found


def summary(run_dir):
    """The committed loop position and best score (dict), or None; never raises."""
    try:
        checkpoint = committed(run_dir)
    except RunError:
        return None
    if checkpoint is None:
        return None
    state = checkpoint.state
    return {"epoch": state["epoch"], "step": state["step"],
            "best_mean_iou": state["best_mean_iou"], "best_epoch": state.get("best_epoch")}


def trained_before(run_dir):
    """What shows that a run has committed a checkpoint, though none can be read now.

    A record of epoch 1 alone is no such sign: it is written just before the first commit.
    """
    run_dir = Path(run_dir)
    # The top-level links are made just before the first switch: dangling, they prove nothing.
    evidence = [name for name in ("best.keras", "last.keras") if (run_dir / name).is_file()]
    records = read_jsonl(run_dir / "metrics.jsonl")
    if any(_int(r.get("epoch")) >= (2 if r.get("kind") == "epoch" else 1)
           for r in records if isinstance(r, dict)):
        evidence.append("metrics.jsonl records past epoch 1")
    status = read_json(run_dir / "status.json")
    if isinstance(status, dict) and _int(status.get("epoch")) >= 1:
        evidence.append(f"status.json at epoch {status['epoch']}")
    return evidence


def _int(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


def commit(run_dir, previous, state, model, optimizer, improved, confusion=None, average=None):
    """Writes a new generation and makes it current in one atomic switch.

    Args:
        run_dir: the run folder.
        previous: the current `Checkpoint`, or None for the run's first commit.
        state: the loop state (epoch, step, best score...) after this checkpoint's step.
        model: the Keras model (its `.keras` file is `last.keras`; also `best.keras` when
            `improved`).
        optimizer: its optimizer (variables stored for an exact resume).
        improved: whether this model is the new best one.
        confusion: the validation confusion matrix (list of lists) of a new best model.
        average: the run's `ema.WeightAverage`, or None: its variables are stored for an
            exact resume and its averaged weights are what the `.keras` files hold.

    Returns:
        The new `Checkpoint`.
    """
    run_dir = Path(run_dir)
    ckpt = folder(run_dir)
    ckpt.mkdir(exist_ok=True)
    number = (previous.number if previous else 0) + 1
    gen = ckpt / f"gen-{number:06d}"
    if gen.exists():  # left by a commit that died before its switch
        shutil.rmtree(gen)
    gen.mkdir()
    arrays = {f"w{i}": v.numpy() for i, v in enumerate(model.weights)}
    arrays.update({f"o{i}": v.numpy() for i, v in enumerate(optimizer.variables)})
    averaged = average.variables if average is not None else []
    arrays.update({f"e{i}": v.numpy() for i, v in enumerate(averaged)})
    write_synced(gen / "state.npz", lambda handle: np.savez(handle, **arrays))
    _reached("arrays")
    has_best = improved or bool(previous and previous.has_best)
    with ema.applied(average):
        model.save(gen / "last.keras")
        _reached("last")
        if improved:
            model.save(gen / "best.keras")
    if improved:
        if confusion is not None:
            write_json_atomic(gen / "best_confusion.json", confusion)
    elif has_best:
        link_or_copy(previous.best(), gen / "best.keras")
        if (previous.folder / "best_confusion.json").is_file():
            link_or_copy(previous.folder / "best_confusion.json", gen / "best_confusion.json")
    _reached("best")
    metrics = run_dir / "metrics.jsonl"
    record = {"format": FORMAT, "state": state, "has_best": has_best,
              "metrics_bytes": metrics.stat().st_size if metrics.is_file() else 0,
              "weights": len(model.weights), "optimizer": len(optimizer.variables),
              "averaged": len(averaged)}
    write_json_atomic(gen / "state.json", json.loads(json.dumps(record, allow_nan=False)))
    fsync_dir(gen)
    _reached("state")
    # The top-level links dangle until the first switch, so they appear with it.
    link_top_level(run_dir, gen)
    _reached("linked")
    switch_link(ckpt / CURRENT, gen.name)
    fsync_dir(ckpt)
    _reached("switched")
    clean(run_dir)
    _reached("cleaned")
    return read_generation(gen)
