"""The run store: every run is a folder under `<workspace>/runs/`; the disk is the truth.

Any process (the page, the CLI, a restarted server) rebuilds a run's state from its folder.
"""

import datetime as dt
import socket
from dataclasses import dataclass
from pathlib import Path

from segcore import runlock
from segcore.errors import RunError, SegcoreError
from segcore.fileio import (
    read_json,
    read_json_object,
    read_jsonl,
    write_json_atomic,
    write_text_atomic,
)
from segcore.numeric_range import is_finite_number, is_whole_number
from segcore.run_folder import (
    NAME_FILE,
    STOP_FILE,
    can_write,
    is_run_folder,
    name_run,
    new_run_id,
    read_run_name,
    run_dir,
    run_label,
)
from segcore.training import checkpoint
from segcore.workspace import runs_dir, safe_name

ACTIVE = ("queued", "running")
FINAL = ("finished", "stopped", "failed")

# Run-folder helpers live in `segcore.run_folder`; they are part of this module's interface.
__all__ = [
    "ACTIVE", "FINAL", "NAME_FILE", "STOP_FILE", "RunInfo", "can_write", "create_run",
    "is_run_folder", "list_runs", "name_run", "new_run_id", "now", "read_config",
    "read_metrics", "read_run_name", "read_status", "run_dir", "run_label", "write_status",
]


def now():
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class RunInfo:
    """A run as listed: id, folder, status dict, and the headline figures."""

    run_id: str
    path: Path
    status: dict
    config: dict  # `read_config`'s dict; {} when config.json is damaged (see `problem`)
    problem: str | None = None  # one sentence when the folder is damaged, for listings
    name: str | None = None  # the optional name a user gave the run (see `read_run_name`)

    @property
    def state(self):
        return self.status.get("state", "unknown")

    @property
    def best_mean_iou(self):
        return self.status.get("best_mean_iou")

    @property
    def model(self):
        return self.config.get("config", {}).get("model")

    @property
    def label(self):
        return run_label(self.run_id, self.name)


def _trainer_alive(path, status):
    """True while the run's trainer lives: its lock is held (or, spawned and not yet holding
    it, the recorded process is still that very process)."""
    host = status.get("host")
    if host and host != socket.gethostname():
        return True  # trained elsewhere: trust its status file
    if runlock.run_alive(path):
        return True
    return status.get("state") == "queued" and runlock.same_process(
        status.get("pid"), status.get("pid_start"))


def write_status(path, **fields):
    """Merges `fields` into `status.json`, atomically."""
    status = read_json(Path(path) / "status.json", {})
    status = status if isinstance(status, dict) else {}
    status.update(fields, updated=now())
    write_json_atomic(Path(path) / "status.json", status)
    return status


# status.json fields and their types; a field of another type (a damaged file) is ignored.
_STATUS_TYPES = {
    "state": str, "message": str, "host": str, "created": str, "started": str,
    "updated": str, "ended": str, "weights_fingerprint": str,
    "pid": int, "pid_start": int, "epoch": int, "epochs": int, "step": int,
    "steps_per_epoch": int, "best_epoch": int,
    "best_mean_iou": float, "last_mean_iou": float,
}


def _fits(value, kind):
    if kind is str:
        return isinstance(value, str)
    if kind is int:  # counts, clock ticks: within int64 (C APIs would overflow)
        return is_whole_number(value) and value < 2**63
    return is_finite_number(value)


def _checked_status(path):
    """`status.json` with every known field of the right type, and a `problem` sentence when
    the file is missing, not an object, or holds fields of the wrong type (left out)."""
    file = Path(path) / "status.json"
    raw = read_json(file, None)
    if not isinstance(raw, dict):
        what = "missing or unreadable" if raw is None else f"{type(raw).__name__}, not an object"
        return {"state": "failed", "message": f"status.json is {what}.",
                "problem": f"{file} is {what}; the run reads as failed (resume it to rewrite "
                           "the file)."}
    status = {k: v for k, v in raw.items() if k != "problem"}
    bad = sorted(k for k, kind in _STATUS_TYPES.items()
                 if k in status and status[k] is not None and not _fits(status[k], kind))
    if _fits(status.get("pid"), int) and status["pid"] >= 2**31:  # a pid_t for os.kill
        bad = sorted({*bad, "pid"})
    if status.get("state") not in (None, *ACTIVE, *FINAL):
        bad = sorted({*bad, "state"})
    for key in bad:
        del status[key]
    if "state" not in status:
        status.update(state="failed", message="status.json has no valid state.")
    if bad:
        status["problem"] = (f"{file} holds damaged fields ({', '.join(bad)}); they are ignored "
                             "until the run writes its status again.")
    return status


def read_status(path):
    """Reads `status.json`; an active run whose process is gone reads as failed.

    Never raises for a damaged file: fields of the wrong type are left out, a file that is not
    an object reads as a failed run, and `problem` says which file is damaged.
    """
    status = _checked_status(path)
    if status.get("state") in ACTIVE and not _trainer_alive(path, status):
        status = dict(status)
        status["state"] = "failed"
        status["message"] = (
            "The training process ended without finishing (killed or crashed); "
            "resume it to continue from the last checkpoint."
        )
    # The committed checkpoint is the truth about progress and the best model: status.json is
    # written just after a commit, so a kill in between leaves it one epoch behind.
    committed = checkpoint.summary(path)
    if committed:
        status = dict(status, **{k: v for k, v in committed.items() if v is not None})
    return status


def read_metrics(path):
    """Returns (epoch records, step records) from `metrics.jsonl`, tolerating a torn last line.

    After a crash and resume an epoch or step can appear twice: the later record wins.
    """
    epochs, steps = {}, {}
    for record in read_jsonl(Path(path) / "metrics.jsonl"):
        if not _sound_record(record):
            continue  # a damaged line: the charts go on without it
        if record.get("kind") == "epoch" and "epoch" in record:
            epochs[record["epoch"]] = record
        elif record.get("kind") == "step" and "step" in record:
            steps[record["step"]] = record
    return [epochs[k] for k in sorted(epochs)], [steps[k] for k in sorted(steps)]


# The fields that every record of a kind holds (the loss chart reads a step's epoch and loss).
_RECORD_KEYS = {"epoch": ("epoch",), "step": ("step", "epoch", "loss")}


def _sound_record(record):
    """True for a metrics record whose values are what the charts and tables expect."""
    if not isinstance(record, dict) or not isinstance(record.get("kind"), str):
        return False
    if not all(key in record for key in _RECORD_KEYS.get(record["kind"], ())):
        return False
    for key, value in record.items():
        if key in ("epoch", "step"):
            if not _fits(value, int):
                return False
        elif key == "per_class_iou":
            if not isinstance(value, list) or not all(
                    v is None or _fits(v, float) or v != v for v in value):
                return False
        elif key != "kind" and value is not None and not (
                isinstance(value, float) or is_finite_number(value)):
            return False  # every other field is a number (NaN allowed: an empty class; a
            # diverged loss is infinite), never an integer too large for a float
    return True


def read_config(path):
    """Reads and checks a run's `config.json`.

    Returns:
        The stored dict, with `config` normalized through `RunConfig` (sizes as lists, model
        hyperparameters resolved); `class_map` and `input_scale`, when present, are checked.

    Raises:
        RunError: one sentence naming config.json: missing, not JSON, not an object, or
            without a valid run configuration.
    """
    from segcore.data.classes import ClassMap
    from segcore.training.config import RunConfig

    file = Path(path) / "config.json"
    fix = "restore it from a copy of the run or delete the run folder"
    info = read_json_object(file, fix=fix)
    stored = info.get("config")
    if not isinstance(stored, dict):
        raise RunError(f"{file} has no run configuration (its 'config' is "
                       f"{'missing' if stored is None else type(stored).__name__}); {fix}.")
    try:
        config = RunConfig.from_json(stored).validate()
        _check_config_types(config)
    except (SegcoreError, TypeError, ValueError, KeyError, AttributeError) as error:
        raise RunError(f"{file} holds an invalid run configuration ({error}); {fix}.") from None
    info = dict(info, config=config.to_json())
    if "class_map" in info:
        try:
            if not isinstance(info["class_map"], dict):
                raise TypeError("not an object")
            ClassMap.from_json(info["class_map"], source="class_map")
        except (SegcoreError, TypeError, ValueError, RecursionError) as error:
            raise RunError(f"{file} holds an invalid class map ({error}); {fix}.") from None
    # Training size over native size: training sizes lie in 8..8192 and images are cut to
    # 8192 px, so a factor outside 1/1024..1024 can only be damage (and would blow up memory).
    scale = info.get("input_scale")
    scales = scale if isinstance(scale, list) and len(scale) == 2 else [scale]
    if scale is not None and not all(_fits(s, float) and 2**-10 <= s <= 2**10 for s in scales):
        raise RunError(f"{file} holds an invalid input_scale {scale!r}; {fix}.")
    return info


def _check_config_types(config):
    """Raises TypeError for a field whose type differs from its default's (a damaged file)."""
    import dataclasses

    from segcore.data.augment import AugmentConfig

    if not isinstance(config.augment, AugmentConfig):
        raise TypeError(f"augment is {config.augment!r}")
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        kind = {"classes": str, "ignore_index": int}.get(field.name, type(field.default))
        if value is not None and kind in (str, int, float) and not _fits(value, kind):
            raise TypeError(f"{field.name} is {value!r}")


def list_runs(workspace):
    """All runs, newest first; a damaged run (config.json gone, too) is listed with its
    `problem`, never raised."""
    folder = runs_dir(workspace)
    runs = []
    for path in sorted(folder.iterdir(), reverse=True):
        if path.is_dir() and not path.name.startswith("."):  # every folder here is a run
            status = read_status(path)
            try:
                config, problem = read_config(path), status.get("problem")
            except RunError as error:
                config, problem = {}, str(error)
            runs.append(RunInfo(path.name, path, status, config, problem, read_run_name(path)))
    return runs


def create_run(workspace, config, run_id=None, name=None, **status):
    """Creates a run folder with its config and a queued status; returns its path.

    Args:
        name: the run's optional name (`name_run`); checked before the folder is made.
        status: more `status.json` fields (the trainer's identity when it creates its own run).
    """
    name = safe_name(name, "run name") if name else None
    run_id = run_id or new_run_id(config.model)
    path = runs_dir(workspace) / run_id
    path.mkdir(parents=False, exist_ok=False)
    if name:
        write_text_atomic(path / NAME_FILE, name + "\n")
    write_json_atomic(path / "config.json", {"config": config.to_json(), "run_id": run_id})
    write_status(path, state="queued", created=now(), epoch=0, epochs=config.epochs, **status)
    return path
