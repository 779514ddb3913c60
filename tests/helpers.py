"""Small generated files for tests: nothing binary is committed."""

import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent


def write_png(path, array, mode=None):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array), mode=mode).save(path)
    return path


def make_pair_dataset(root, count=6, size=(32, 32), classes=3, seed=0, binary=False):
    """Writes images/ and masks/ with `count` random pairs; returns the root."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    for index in range(count):
        image = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
        mask = rng.integers(0, classes, size, dtype=np.uint8)
        if binary:
            mask = (mask % 2) * 255
        write_png(root / "images" / f"{index}.png", image)
        write_png(root / "masks" / f"{index}.png", mask.astype(np.uint8))
    return root


def zip_bytes(entries):
    """Builds a zip in memory from {name: bytes}."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def png_bytes(array, mode=None):
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array), mode=mode).save(buffer, format="PNG")
    return buffer.getvalue()


def zip_of_empty_entries(count):
    """A zip holding `count` empty image entries (for entry-count caps)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for index in range(count):
            archive.writestr(f"images/{index}.png", b"")
    return buffer.getvalue()
