"""Migration of segcore 0.1's checkpoints (`ckpt/state.npz`, `ckpt/state.json` and real
`best.keras`/`last.keras` files) into a generation, on the first resume of such a run.

The old files are hard-linked into `ckpt/gen-000000` and the commit link switched as a new
commit would be; a migration killed half-way goes on where it stopped on the next resume.
"""

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from segcore.errors import RunError
from segcore.fileio import fsync_dir, link_or_copy, switch_link, write_json_atomic
from segcore.training import checkpoint, checkpoint_folder


def migrate_legacy(run_dir):
    """Turns segcore 0.1's `ckpt/state.*` and real best/last files into generation 0."""
    run_dir = Path(run_dir)
    ckpt = checkpoint_folder.folder(run_dir)
    for name in checkpoint.LEGACY:
        if not (ckpt / name).is_file():
            raise RunError(f"{ckpt / name} is missing; the run cannot resume exactly.")
    try:
        state = json.loads((ckpt / "state.json").read_text(encoding="utf-8"))
        with np.load(ckpt / "state.npz", allow_pickle=False) as arrays:
            names = list(arrays.files)
    except (OSError, ValueError, RecursionError, EOFError, zipfile.BadZipFile) as error:
        raise RunError(f"{ckpt}: damaged checkpoint ({error.__class__.__name__}); "
                       "the run cannot resume exactly.") from None
    gen = ckpt / "gen-000000"
    gen.mkdir(exist_ok=True)  # a migration that died half-way goes on where it stopped
    if not (gen / "state.npz").exists():
        link_or_copy(ckpt / "state.npz", gen / "state.npz")
    for name in checkpoint_folder.TOP_LINKS:
        if (run_dir / name).is_file() and not os.path.islink(run_dir / name) \
                and not (gen / name).exists():
            link_or_copy(run_dir / name, gen / name)
    if not (gen / "last.keras").is_file():
        raise RunError(f"{run_dir / 'last.keras'} is missing; the run cannot resume exactly.")
    metrics = run_dir / "metrics.jsonl"
    record = {"format": checkpoint.FORMAT, "state": state, "has_best": (gen / "best.keras").is_file(),
              "metrics_bytes": metrics.stat().st_size if metrics.is_file() else 0,
              "weights": sum(n.startswith("w") for n in names),
              "optimizer": sum(n.startswith("o") for n in names)}
    checkpoint.parse_state(ckpt / "state.json", record)
    write_json_atomic(gen / "state.json", record)
    fsync_dir(gen)
    checkpoint_folder.link_top_level(run_dir, gen)
    switch_link(ckpt / checkpoint_folder.CURRENT, gen.name)
    fsync_dir(ckpt)
    for name in checkpoint.LEGACY:
        (ckpt / name).unlink(missing_ok=True)
    return checkpoint.read_generation(gen)
