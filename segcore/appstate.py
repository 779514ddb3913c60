"""Page logic that needs no Streamlit: run progress, ETA, config differences, uploads.

Kept here so it is tested as plain functions (Streamlit's AppTest does not fire fragments).
"""

import io
import shutil
import tempfile
import zipfile
from pathlib import Path

from segcore.errors import DataError
from segcore.runs import ACTIVE, read_metrics, read_status


def run_progress(run_dir):
    """Summarizes a run for the live view.

    Returns:
        dict: state, message, epoch, epochs, fraction (0..1), eta_seconds (or None),
        epochs/steps records, and `active` (poll again) flag.
    """
    status = read_status(run_dir)
    epochs, steps = read_metrics(run_dir)
    total = int(status.get("epochs") or 1)
    steps_per_epoch = int(status.get("steps_per_epoch") or 0)
    done_steps = steps[-1]["step"] if steps else 0
    fraction = done_steps / (steps_per_epoch * total) if steps_per_epoch else len(epochs) / total
    if status.get("state") == "finished":
        fraction = 1.0
    eta = None
    if epochs and status.get("state") == "running":
        per_epoch = sum(e["seconds"] for e in epochs) / len(epochs)
        eta = max(0.0, per_epoch * total - per_epoch * fraction * total)
    return {
        "state": status.get("state", "unknown"),
        "message": status.get("message", ""),
        "epoch": len(epochs),
        "epochs": total,
        "fraction": min(1.0, max(0.0, fraction)),
        "eta_seconds": eta,
        "best_mean_iou": status.get("best_mean_iou"),
        "epoch_records": epochs,
        "step_records": steps,
        "active": status.get("state") in ACTIVE,
    }


def format_eta(seconds):
    if seconds is None:
        return "estimating…"
    seconds = int(seconds)
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def config_differences(configs):
    """Rows of the settings that differ between runs: {setting: {run: value}}."""
    flat = {run: _flatten(config) for run, config in configs.items()}
    keys = sorted(set().union(*(f.keys() for f in flat.values()))) if flat else []
    differing = {}
    for key in keys:
        values = {run: f.get(key) for run, f in flat.items()}
        if len({repr(v) for v in values.values()}) > 1:
            differing[key] = values
    return differing


def _flatten(data, prefix=""):
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def save_uploads(files, dest):
    """Writes uploaded (name, bytes) pairs as a new dataset folder, all or nothing.

    Files in a masks/ folder, or named `x_mask.png`, are masks pairing with `x.png`; a folder
    upload keeps its train/ val/ test/ split folders. A single .zip is imported through the
    safe zip importer.

    Raises:
        DataError: an empty upload, a bad zip, or a dataset of that name already existing.
    """
    from segcore.data.archive import extract_zip
    from segcore.data.doctor import check_folder

    dest = Path(dest)
    if dest.exists():
        raise DataError(f"A dataset named {dest.name!r} exists already; pick another name.")
    if not files:
        raise DataError("Nothing was uploaded.")
    staging = Path(tempfile.mkdtemp(prefix=".upload-", dir=dest.parent))
    try:
        target = staging / "data"
        zips = [f for f in files if f[0].lower().endswith(".zip")]
        if zips:
            if len(files) > 1:
                raise DataError("Upload either one zip or image files, not both.")
            extract_zip(zips[0][1], target, label=zips[0][0])
        else:
            _write_loose(files, target)
        report = check_folder(target)
        if not report.ok:
            # Messages name files relative to the dataset, not the hidden staging folder.
            problems = [p.replace(f"{target}/", "").replace(str(target), dest.name)
                        for p in report.problems]
            raise DataError(problems[0] + (
                f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""))
        target.rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def _write_loose(files, target):
    from segcore.data.formats import image_shape, is_image_name

    for name, data in files:
        path = Path(name.replace("\\", "/"))
        if not is_image_name(path.name):
            raise DataError(f"{path.name}: not an image file (PNG, JPEG, TIFF or BMP).")
        image_shape(data, name=path.name)  # empty, not an image, over the pixel cap
        stem, suffix = path.stem, path.suffix
        is_mask = "masks" in path.parts[:-1] or stem.lower().endswith("_mask")
        if stem.lower().endswith("_mask"):
            stem = stem[: -len("_mask")]
        split = next((p for p in path.parts[:-1] if p in ("train", "val", "test")), None)
        folder = (target / split if split else target) / ("masks" if is_mask else "images")
        folder.mkdir(parents=True, exist_ok=True)
        safe = "".join(c for c in stem if c.isalnum() or c in "-_. ").strip() or "image"
        (folder / f"{safe}{suffix.lower()}").write_bytes(data)


def zip_files(named_bytes):
    """A zip (bytes) of {name: bytes}, for download buttons."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in named_bytes.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def png_bytes(array):
    import cv2

    ok, encoded = cv2.imencode(".png", array[..., ::-1] if array.ndim == 3 else array)
    return encoded.tobytes()


def poll_interval(active):
    """Polling period of the live view: every 2 s while a run is active, off otherwise."""
    return 2.0 if active else None
