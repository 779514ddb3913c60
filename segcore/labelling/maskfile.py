"""A mask being edited: read as training labels, saved back in the dataset's own encoding.

A save never loses work: the new file is written beside the mask, flushed to disk and renamed
over it (a reader sees the old or the new mask, never half of one); the old version is kept
first as `<dataset>/.history/masks/<stem>.<UTC time>.<ext>`; and a mask that changed on disk
since it was opened (another tab, another tool) is not overwritten.
"""

import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

from segcore.data.classes import IGNORE_LABEL
from segcore.data.dataset import UNLABELLED
from segcore.data.formats import MASK_EXTENSIONS
from segcore.data.masks import raw_to_labels, read_raw_mask
from segcore.errors import DataError
from segcore.fileio import fsync_dir

HISTORY = Path(".history") / "masks"
ENCODINGS = ("values", "palette", "colours")


class StaleMask(DataError):
    """The mask file changed on disk after it was opened: saving would lose those changes."""


def file_stamp(path):
    """What identifies a mask file's version: (mtime_ns, size, sha256), or None when absent."""
    path = Path(path)
    try:
        stat = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None
    return (stat.st_mtime_ns, stat.st_size, digest)


@dataclass
class MaskEncoding:
    """How a dataset stores its masks: class values ("values": gray, e.g. 0/255 or 0..N),
    the same indices with a palette ("palette"), or class colours ("colours", RGB)."""

    kind: str = "values"
    palette: list | None = None

    @classmethod
    def of_file(cls, path):
        """The encoding of an existing mask file."""
        with Image.open(path) as handle:
            mode, palette = handle.mode, handle.getpalette() if handle.mode == "P" else None
        if mode == "P":
            return cls("palette", palette)
        return cls("colours" if read_raw_mask(path).ndim == 3 else "values")

    def encode(self, labels, class_map, name):
        """Training labels (255 = void) as the raw array this encoding writes.

        Raises:
            DataError: void pixels in a dataset without a void value (or colour).
        """
        has_void = bool((labels == IGNORE_LABEL).any())
        if self.kind == "colours":
            if has_void and class_map.void_color is None:
                raise DataError(f"{name}: the mask has void pixels but the dataset's classes "
                                "have no void colour; set one in the class editor, or erase "
                                "to background.")
            table = np.zeros((256, 3), dtype=np.uint8)
            table[: class_map.num_classes] = class_map.colors
            if class_map.void_color is not None:
                table[IGNORE_LABEL] = class_map.void_color
            return table[labels]
        if has_void and class_map.ignore_value is None:
            raise DataError(f"{name}: the mask has void pixels but the dataset's classes have no "
                            "void value; set one in the class editor, or erase to background.")
        table = np.zeros(256, dtype=np.uint8)
        table[: class_map.num_classes] = class_map.values
        if class_map.ignore_value is not None:
            table[IGNORE_LABEL] = class_map.ignore_value
        return table[labels]

    def png_bytes(self, raw, suffix=".png"):
        """The file content for `raw` in this encoding (lossless: PNG, BMP or TIFF)."""
        image = Image.fromarray(raw, "RGB" if raw.ndim == 3 else "L")
        if self.kind == "palette":
            image = Image.fromarray(raw, "P")
            image.putpalette(self.palette)
        buffer = io.BytesIO()
        image.save(buffer, format={".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}.get(
            suffix.lower(), "PNG"))
        return buffer.getvalue()


def dataset_encoding(root):
    """The encoding of the dataset's masks (the first one found), "values" when none."""
    root = Path(root)
    for folder in [root / "masks"] + [root / s / "masks" for s in ("train", "val", "test")]:
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if path.suffix.lower() in MASK_EXTENSIONS and not path.name.startswith("."):
                    return MaskEncoding.of_file(path)
    return MaskEncoding()


@dataclass
class OpenMask:
    """A mask as opened for editing: where it is saved, how, and the version it started from.

    Attributes:
        root: the dataset folder.
        image: the image file (in `unlabelled/` until its first save).
        mask: the mask file to write (may not exist yet).
        labels: the training labels as read (H, W) uint8; an empty mask is all background.
        stamp: `file_stamp(mask)` when opened (None: there was no mask).
        encoding: the `MaskEncoding` a save writes.
    """

    root: Path
    image: Path
    mask: Path
    labels: np.ndarray
    stamp: tuple | None
    encoding: MaskEncoding


def open_mask(root, image, mask, class_map, shape):
    """Opens a sample's mask for editing.

    Args:
        root: the dataset folder.
        image: the image file.
        mask: its mask file, or None for an image of `unlabelled/`.
        class_map: the dataset's ClassMap.
        shape: (height, width) of the image.

    Returns:
        An `OpenMask`; an unlabelled image gets an all-background mask, saved (on its first
        save) into the `masks/` beside the dataset's images (`train/masks/` with split folders).

    Raises:
        DataError: a mask that does not fit the class map or the image.
    """
    root, image = Path(root), Path(image)
    if mask is None:
        base = root / "train" if (root / "train" / "images").is_dir() else root
        mask = base / "masks" / f"{image.stem}.png"
        encoding = dataset_encoding(root)
        labels = np.zeros(shape, dtype=np.uint8)
        return OpenMask(root, image, mask, labels, file_stamp(mask), encoding)
    mask = Path(mask)
    stamp = file_stamp(mask)
    labels = raw_to_labels(read_raw_mask(mask), class_map, str(mask))
    if labels.shape != tuple(shape):
        raise DataError(f"{mask}: the mask is {labels.shape[1]}x{labels.shape[0]} but its image "
                        f"is {shape[1]}x{shape[0]}; it cannot be edited over the image.")
    return OpenMask(root, image, mask, labels, stamp, MaskEncoding.of_file(mask))


def _write_atomic(path, data):
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise DataError(f"{path}: cannot save the mask ({error.strerror or error}).") from None
    fsync_dir(path.parent)  # the rename itself survives a power cut


def keep_in_history(root, mask):
    """Keeps the current version of `mask` as `.history/masks/<stem>.<UTC time><ext>`.

    A hard link when the disk allows (the save renames a new file over the mask, so the link
    keeps the old content), else a copy.

    Returns:
        The history file's Path, or None when there was no mask.
    """
    mask = Path(mask)
    if not mask.exists():
        return None
    folder = Path(root) / HISTORY
    folder.mkdir(parents=True, exist_ok=True)
    when = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    kept = folder / f"{mask.stem}.{when}{mask.suffix}"
    try:
        os.link(mask, kept)
    except OSError:
        _write_atomic(kept, mask.read_bytes())
    return kept


def history_of(root, stem):
    """The kept versions of a mask, oldest first."""
    folder = Path(root) / HISTORY
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.startswith(f"{stem}."))


def save_mask(opened, labels, class_map):
    """Saves edited labels over the opened mask, keeping the previous version in history.

    An image of `unlabelled/` moves into the dataset's `images/` with its new mask, so the
    next training run uses it.

    Args:
        opened: the `OpenMask` the labels were edited from.
        labels: uint8 training labels (H, W), 255 = void.
        class_map: the dataset's ClassMap.

    Returns:
        A new `OpenMask` for the saved version (edits continue from it).

    Raises:
        StaleMask: the mask changed on disk (or appeared) since it was opened.
        DataError: values outside the class map, void without a void value, a failed write.
    """
    mask = opened.mask
    if file_stamp(mask) != opened.stamp:
        raise StaleMask(f"{mask} changed on disk after it was opened here (another tab or "
                        "tool saved it); nothing was saved. Reopen the image to edit the newer "
                        "version.")
    labels = np.asarray(labels, dtype=np.uint8)
    stray = sorted(set(np.unique(labels).tolist()) - set(range(class_map.num_classes))
                   - {IGNORE_LABEL})
    if stray:
        raise DataError(f"{mask}: labels {stray} are not classes of the dataset; nothing was "
                        "saved.")
    data = opened.encoding.png_bytes(opened.encoding.encode(labels, class_map, str(mask)),
                                     mask.suffix)
    image = opened.image
    keep_in_history(opened.root, mask)
    mask.parent.mkdir(parents=True, exist_ok=True)
    if image.parent.name == UNLABELLED:
        target = mask.parent.parent / "images" / image.name
        if target.exists():
            raise DataError(f"{target} exists already; rename {image} before labelling it.")
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(mask, data)
        os.replace(image, target)  # one rename: the pair is complete from here on
        image = target
    else:
        _write_atomic(mask, data)
    return OpenMask(opened.root, image, mask, labels.copy(), file_stamp(mask), opened.encoding)
