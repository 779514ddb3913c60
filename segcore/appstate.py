"""Page logic that needs no Streamlit: config differences, tables, class editing, exports.

Kept here so it is tested as plain functions (Streamlit's AppTest does not fire fragments).
Uploads live in `segcore.data.uploads`, run progress and ETA in `segcore.progress`.
"""

import hashlib
import io
import os
import zipfile
from pathlib import Path

from segcore.errors import ConfigError, DataError
from segcore.runs import read_metrics


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


# Data page ---------------------------------------------------------------------------------


def folder_signature(path):
    """A cheap hash of every file's relative name, size and mtime under `path`.

    The Data page caches the doctor's report under it, so the report is recomputed only when a
    file (or classes.json) changes, not on every widget rerun.
    """
    digest = hashlib.sha256()
    root = Path(path)
    for folder, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(files):
            stat = (Path(folder) / name).stat()
            relative = os.path.relpath(os.path.join(folder, name), root)
            digest.update(f"{relative}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def relative_problems(problems, root):
    """Doctor lines with the dataset folder's absolute path cut down to its name."""
    root = str(Path(root))
    name = Path(root).name
    return [p.replace(root + os.sep, f"{name}/").replace(root, name) for p in problems]


def dataset_warnings(summary, rare_share=0.01, min_images=10):
    """Soft findings the doctor does not reject: imbalance, absent classes, few images, sizes.

    Args:
        summary: `DoctorReport.summary` of a healthy dataset.
        rare_share: a class under this share of labelled pixels is called rare.
        min_images: fewer images than this in total is called small.

    Returns:
        A list of one-sentence warnings (empty when nothing stands out).
    """
    warnings = []
    total = sum(summary.get("images_per_split", {}).values())
    if total < min_images:
        warnings.append(f"Only {total} images: expect a noisy validation score; "
                        "augmentations help.")
    for entry in summary.get("classes", []):
        share = entry["pixel_share"]
        if share == 0:
            warnings.append(f"Class {entry['name']!r} (mask value {entry['value']}) never occurs "
                            "in the masks; its IoU will be undefined.")
        elif share < rare_share:
            warnings.append(f"Class {entry['name']!r} covers only {100 * share:.2f}% of labelled "
                            "pixels: consider class weighting (inverse or median) or a Dice loss.")
    sizes = summary.get("sizes", {})
    if len(sizes) > 1:
        warnings.append(f"Images come in {len(sizes)} sizes ({', '.join(list(sizes)[:4])}); "
                        "training resizes them all to the chosen image size.")
    if summary.get("void_share", 0) > 0.25:
        warnings.append(f"{100 * summary['void_share']:.0f}% of pixels are void (ignored).")
    return warnings


def class_share_table(summary):
    """Rows for the class table: name, mask value, pixel share and suggested weights."""
    from segcore.losses import compute_class_weights

    shares = [c["pixel_share"] for c in summary["classes"]]
    weights = {}
    for method in ("inverse", "median"):
        try:
            weights[method] = compute_class_weights(shares, method)
        except ConfigError:
            weights[method] = [0.0] * len(shares)  # no labelled pixel at all
    return [
        {"class": c["name"], "value": c["value"], "share %": round(100 * share, 3),
         "inverse": round(float(weights["inverse"][i]), 3),
         "median": round(float(weights["median"][i]), 3)}
        for i, (c, share) in enumerate(zip(summary["classes"], shares))
    ]


def parse_hex_color(text, row):
    """'#RRGGBB' (or 'RRGGBB') -> (r, g, b); ConfigError naming the row otherwise."""
    value = str(text or "").strip().lstrip("#")
    if len(value) != 6 or any(c not in "0123456789abcdefABCDEF" for c in value):
        raise ConfigError(f"Row {row}: colour {text!r} is not a hex colour like #ff8800.")
    return tuple(int(value[i:i + 2], 16) for i in (0, 2, 4))


def class_map_from_table(names, colors, values, void_value, void_color=None):
    """Builds a ClassMap from the class editor's columns, with one clear error per mistake.

    Args:
        names, colors, values: the editor's columns (colours as '#rrggbb').
        void_value: raw mask value of void pixels, or None / a negative number for none.
        void_color: kept from the dataset's class map.

    Raises:
        ConfigError: an empty name, a bad colour or mask value, or a duplicate.
    """
    from segcore.data.classes import ClassMap

    names = [str(n).strip() if n is not None else "" for n in names]
    for row, name in enumerate(names, 1):
        if not name:
            raise ConfigError(f"Row {row}: every class needs a name.")
    if len(set(names)) != len(names):
        raise ConfigError("Class names must be distinct.")
    parsed = [parse_hex_color(c, row) for row, c in enumerate(colors, 1)]
    raw = []
    for row, value in enumerate(values, 1):
        try:
            raw.append(int(value))
        except (TypeError, ValueError):
            raise ConfigError(f"Row {row}: mask value {value!r} is not a whole number.") from None
    void = None if void_value is None or int(void_value) < 0 else int(void_value)
    try:
        return ClassMap(names, parsed, raw, void, void_color)
    except DataError as error:
        raise ConfigError(str(error)) from None


# Results page ------------------------------------------------------------------------------


def runs_table(run_infos):
    """Rows comparing runs: id, model, state, epochs done, best val mean IoU, minutes."""
    rows = []
    for run in run_infos:
        epochs, _ = read_metrics(run.path)
        config = run.config.get("config", {})
        best = run.status.get("best_mean_iou")
        rows.append({
            "run": run.run_id, "model": config.get("model"), "state": run.state,
            "epochs": f"{len(epochs)}/{config.get('epochs')}",
            "best val mean IoU": None if best is None or best < 0 else round(best, 4),
            "minutes": round(sum(e.get("seconds", 0) for e in epochs) / 60, 2),
        })
    return rows


def best_epoch(records):
    """The epoch record with the highest validation mean IoU (None when there is none)."""
    import math

    scored = [r for r in records
              if r.get("val_mean_iou") is not None and not math.isnan(r["val_mean_iou"])]
    return max(scored, key=lambda r: r["val_mean_iou"]) if scored else None


def metrics_csv(curves):
    """CSV text of epoch records of several runs ({run id: records}), one row per run epoch."""
    import pandas as pd

    rows = []
    for run_id, records in curves.items():
        for record in records:
            flat = {"run": run_id}
            for key, value in record.items():
                if isinstance(value, list):
                    flat.update({f"{key}_{i}": v for i, v in enumerate(value)})
                else:
                    flat[key] = value
            rows.append(flat)
    return pd.DataFrame(rows).to_csv(index=False)


# Predict page ------------------------------------------------------------------------------


def shrink(array, side=1024, nearest=False):
    """A copy at most `side` pixels on its longer side, for display only (masks: nearest)."""
    import cv2

    scale = side / max(array.shape[:2])
    if scale >= 1:
        return array
    size = (max(1, round(array.shape[1] * scale)), max(1, round(array.shape[0] * scale)))
    return cv2.resize(array, size, interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)


def mask_scores(prediction, truth, num_classes):
    """Mean IoU and pixel accuracy of one prediction against its mask (void ignored)."""
    from segcore.data.classes import IGNORE_LABEL
    from segcore.metrics import confusion_matrix, scores

    if prediction.shape != truth.shape:
        raise DataError(f"The mask is {truth.shape[1]}x{truth.shape[0]} but its image is "
                        f"{prediction.shape[1]}x{prediction.shape[0]}.")
    result = scores(confusion_matrix(truth, prediction, num_classes, ignore_index=IGNORE_LABEL))
    return result["mean_iou"], result["pixel_accuracy"]


def pair_masks(image_names, mask_names):
    """{image name: mask name} by stem, the mask optionally suffixed `_mask`."""
    by_stem = {}
    for name in mask_names:
        stem = Path(name).stem
        by_stem[stem[: -len("_mask")] if stem.lower().endswith("_mask") else stem] = name
    return {name: by_stem[Path(name).stem] for name in image_names if Path(name).stem in by_stem}


MASK_FORMATS = {
    "labels": "training labels 0..C-1, 255 = void",
    "values": "the dataset's own mask values (void as its void value, else 0)",
    "colours": "RGB in the class colours",
}


def mask_for_download(labels, class_map, fmt="labels"):
    """A predicted label map encoded the way the user asked (see MASK_FORMATS)."""
    import numpy as np

    from segcore.data.classes import IGNORE_LABEL
    from segcore.inference import colorize

    if fmt == "labels":
        return labels
    if fmt == "colours":
        return colorize(labels, class_map)
    if fmt != "values":
        raise ConfigError(f"Unknown mask format {fmt!r}; use one of {', '.join(MASK_FORMATS)}.")
    table = np.zeros(256, dtype=np.uint8)
    table[: class_map.num_classes] = class_map.values
    table[IGNORE_LABEL] = class_map.ignore_value or 0
    return table[labels]
