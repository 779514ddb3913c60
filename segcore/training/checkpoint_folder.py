"""The run folder around its checkpoint generations (`checkpoint`): the fixed top-level links
into `ckpt/current`, and what a resume tidies (what an interrupted commit left, and metrics
records past the committed checkpoint)."""

import os
import shutil
import time
from pathlib import Path

from segcore.errors import RunError
from segcore.fileio import fsync_dir, switch_link

STATE_DIR = "ckpt"
CURRENT = "current"
TOP_LINKS = ("best.keras", "last.keras", "best_confusion.json")


def folder(run_dir):
    """The run's checkpoint folder, `ckpt/`."""
    return Path(run_dir) / STATE_DIR


def check_top_level(run_dir, gen=None):
    """Raises RunError when `best.keras`, `last.keras` or `best_confusion.json` is something
    other than its link into `ckpt/current` (a folder, or a file a person put there): the
    commit would replace it, so training refuses to start rather than lose it. A file that
    is the generation's own (a migrated 0.1 checkpoint, hard-linked into `gen`) is fine."""
    run_dir = Path(run_dir)
    gen = Path(gen) if gen else run_dir / STATE_DIR / CURRENT
    for name in TOP_LINKS:
        path = run_dir / name
        target = f"{STATE_DIR}/{CURRENT}/{name}"
        if not os.path.lexists(path) or (os.path.islink(path) and os.readlink(path) == target):
            continue
        same = (gen / name).is_file() and path.is_file() and os.path.samefile(path, gen / name)
        if not same:
            raise RunError(f"{path} is not the checkpoint link segcore keeps there; move it out "
                           "of the run folder, then resume.")


def link_top_level(run_dir, gen):
    """Makes `best.keras`, `last.keras` and `best_confusion.json` links into `ckpt/current`
    (about to point at `gen`)."""
    run_dir = Path(run_dir)
    check_top_level(run_dir, gen)
    for name in TOP_LINKS:
        path = run_dir / name
        target = f"{STATE_DIR}/{CURRENT}/{name}"
        if not (os.path.islink(path) and os.readlink(path) == target):
            switch_link(path, target)
    fsync_dir(run_dir)


def clean(run_dir):
    """Removes what died with an interrupted commit or write: other generations, temp files.

    Only the process holding the run's lock calls this (no one else writes the folder).
    """
    run_dir = Path(run_dir)
    ckpt = folder(run_dir)
    current = os.readlink(ckpt / CURRENT) if os.path.islink(ckpt / CURRENT) else None
    if ckpt.is_dir():
        for path in ckpt.iterdir():
            if path.name.startswith("gen-") and path.name != current and path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.name.endswith(".tmp") or ".tmp." in path.name:
                path.unlink(missing_ok=True)
    # Other processes write status.json atomically here too: only old temp files are dead.
    stale = time.time() - 60
    for path in run_dir.iterdir():
        if (path.is_file() and (".tmp." in path.name or path.name.endswith(".tmp"))
                and path.stat().st_mtime < stale):
            path.unlink(missing_ok=True)


def truncate_metrics(run_dir, checkpoint):
    """Drops `metrics.jsonl` records written after the committed checkpoint (they describe
    steps that will be trained again) and a torn last line."""
    path = Path(run_dir) / "metrics.jsonl"
    if checkpoint is None:
        if path.is_file():
            path.write_bytes(b"")
        return
    if path.is_file() and path.stat().st_size > checkpoint.metrics_bytes:
        with open(path, "r+b") as handle:
            handle.truncate(checkpoint.metrics_bytes)
            handle.flush()
            os.fsync(handle.fileno())
