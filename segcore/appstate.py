"""The Data page's logic that needs no Streamlit: doctor caching, warnings, class editing.

Kept here so it is tested as plain functions (Streamlit's AppTest does not fire fragments).
Uploads live in `segcore.data.uploads`, run progress and ETA in `segcore.progress`, the
Results page's logic in `segcore.comparison`, the Predict page's in `segcore.predict_view`.
"""

import hashlib
import os
from pathlib import Path

from segcore.errors import ConfigError, DataError


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
    from segcore.class_weights import compute_class_weights

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
