"""Run progress for the live view: fraction done, planned epochs, ETA and early warnings.

Read from a run folder's `status.json` and `metrics.jsonl` (see `segcore.runs`), so the Train
page, the CLI and the tests get the same numbers without Streamlit.
"""

import statistics
import time

from segcore.errors import SegcoreError
from segcore.runs import ACTIVE, FINAL, read_config, read_metrics, read_status

FEW_STEPS = 10  # fewer optimizer steps than this per epoch rarely learns anything


def few_steps_warning(steps_per_epoch, train_images=None, batch_size=None):
    """A one-sentence warning when an epoch holds too few optimizer steps, else None.

    Args:
        steps_per_epoch: training batches per epoch (training images // batch size).
        train_images: training images, to name them in the warning (optional).
        batch_size: the run's batch size (optional).

    Returns:
        The warning text, or None when there are at least `FEW_STEPS` steps (or none known).

    Example:
        10 training images at batch size 4 make 2 steps per epoch: a warning.
    """
    if not steps_per_epoch or steps_per_epoch >= FEW_STEPS:
        return None
    cause = ""
    if train_images and batch_size:
        cause = f" ({train_images} training images at batch size {batch_size})"
    elif batch_size:
        cause = f" (batch size {batch_size})"
    plural = "s" if steps_per_epoch != 1 else ""
    # At batch size 1 there is no lower one to offer: only more images, or more epochs.
    remedy = ("Add images, or train more epochs: each epoch is short" if batch_size == 1 else
              f"Lower the batch size (or add images) to get at least {FEW_STEPS} steps per "
              "epoch")
    return (f"Only {steps_per_epoch} training step{plural} per epoch{cause}: the model gets few "
            f"updates and may learn nothing. {remedy}.")


def planned_steps_warning(summary, batch_size, val_fraction=0.2):
    """The few-steps warning for settings before a run starts, from the doctor's summary.

    Training images are the train/ folder's, or all images less the validation share the
    trainer holds out (`split_samples`' rounding) when there is no val/ folder.

    Args:
        summary: `DoctorReport.summary` of the dataset (`images_per_split`).
        batch_size, val_fraction: the run's settings.

    Returns:
        A one-sentence warning, or None.
    """
    counts = (summary or {}).get("images_per_split") or {}
    images = counts.get("train", counts.get("all", 0))
    if not images:
        return None
    if "val" not in counts and val_fraction:
        images -= min(images - 1, max(1, round(images * val_fraction)))
    if images < batch_size:
        return (f"{images} training images are fewer than the batch size {batch_size}: "
                "lower the batch size (or add images).")
    return few_steps_warning(images // batch_size, images, batch_size)


def run_progress(run_dir):
    """Summarizes a run for the live view.

    Returns:
        dict: state, message, epoch, epochs (the planned total: under a time budget the
        epochs that fit, kept by the trainer), fraction (0..1), eta_seconds (or None),
        warning (few steps per epoch, or None; also appended to `message`), epochs/steps
        records, and `active` (poll again) flag.
    """
    status = read_status(run_dir)
    epochs, steps = read_metrics(run_dir)
    total = int(status.get("epochs") or 1)
    steps_per_epoch = int(status.get("steps_per_epoch") or 0)
    done_steps = steps[-1]["step"] if steps else 0
    fraction = done_steps / (steps_per_epoch * total) if steps_per_epoch else len(epochs) / total
    # The last steps may be done while validation still runs: full only when finished.
    fraction = 1.0 if status.get("state") == "finished" else min(fraction, 0.99)
    eta = None
    if status.get("state") == "running":
        eta = _eta(epochs, steps, total, fraction, steps_per_epoch)
    warning = few_steps_warning(steps_per_epoch, batch_size=_batch_size(run_dir))
    message = status.get("message", "")
    return {
        "state": status.get("state", "unknown"),
        # The Train page shows `message`: the warning rides along so it is seen there.
        "message": " ".join(m for m in (message, warning) if m),
        "warning": warning,
        "epoch": len(epochs),
        "epochs": total,
        "fraction": min(1.0, max(0.0, fraction)),
        "eta_seconds": eta,
        "best_mean_iou": status.get("best_mean_iou"),
        "epoch_records": epochs,
        "step_records": steps,
        "active": status.get("state") in ACTIVE,
    }


def _batch_size(run_dir):
    try:
        return read_config(run_dir)["config"].get("batch_size")
    except (SegcoreError, KeyError, TypeError, AttributeError):
        return None  # a damaged config.json is named elsewhere; the warning goes without it


def _eta(epochs, steps, total, fraction, steps_per_epoch=0):
    """Seconds left, or None until there is a fair measure.

    The first epoch of a process traces the step functions, so it can take many times longer
    than the next (an ETA of 3 minutes for a run that ended 30 s later). So: the median epoch
    after the first once one exists (validation included, robust to one slow epoch); before
    that, the step rate of the epoch in progress, measured from its first logged step (which
    is past the tracing); None otherwise.
    """
    later = [e["seconds"] for e in epochs[1:] if isinstance(e.get("seconds"), (int, float))]
    if later:
        return max(0.0, statistics.median(later) * total * (1.0 - fraction))
    current = [s for s in steps if "time" in s and s.get("epoch", len(epochs)) == len(epochs)]
    if len(current) >= 2 and 0 < fraction < 1:
        elapsed = current[-1]["time"] - current[0]["time"]
        done = (current[-1]["step"] - current[0]["step"]) or 1
        steps_total = steps_per_epoch * total if steps_per_epoch else current[-1]["step"] / fraction
        return max(0.0, elapsed / done * (steps_total - current[-1]["step"]))
    return None


def format_eta(seconds):
    """'estimating…', '42s' or '3m 09s'."""
    if seconds is None:
        return "estimating…"
    seconds = int(seconds)
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def poll_interval(active):
    """Polling period of the live view: every second while a run is active (reading two small
    files), off otherwise."""
    return 1.0 if active else None


def can_resume(state):
    """Stopped and failed (killed, crashed) runs continue from their last checkpoint."""
    return state in FINAL and state != "finished"


def print_epoch_progress(epoch, epochs, step, steps, loss, started, stream):
    """A one-line progress bar per epoch on `stream` (stderr); redrawn only on a terminal."""
    width = 24
    done = int(width * step / max(1, steps))
    elapsed = time.perf_counter() - started
    eta = elapsed / max(1, step) * (steps - step)
    line = (f"\repoch {epoch + 1}/{epochs} [{'#' * done}{'.' * (width - done)}] "
            f"{step}/{steps} loss {loss:.4f} eta {eta:4.0f}s")
    if stream.isatty() or step == steps:
        stream.write(line + ("\n" if step == steps else ""))
        stream.flush()
