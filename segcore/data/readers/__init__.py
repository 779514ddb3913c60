"""Dataset readers: one module per layout on disk, and the detection that picks one.

Each reader module has `NAME`, `detect(root) -> bool` and `read(root) -> Reading`. Detection
tries them in `READERS` order; the first that recognises the folder reads it, and a folder no
labelling-tool layout claims is read as images/ + masks/.
"""

from pathlib import Path

from segcore.data.readers import cityscapes, coco, cvat, folder, voc
from segcore.data.readers.reading import Reading

# Most specific first: a CVAT export is a VOC layout with a labelmap.txt, and a COCO export
# from CVAT has an images/ folder without masks/.
READERS = (cityscapes, coco, cvat, voc, folder)
FORMATS = tuple(reader.NAME for reader in READERS)
# How messages and pages name each layout.
FORMAT_NAMES = {"folder": "images + masks", "coco": "COCO JSON", "cvat": "CVAT masks",
                "voc": "Pascal VOC", "cityscapes": "Cityscapes"}


def detect(root):
    """Returns the reader module for the dataset folder `root` (the folder reader by default)."""
    root = Path(root)
    return next((reader for reader in READERS if reader.detect(root)), folder)


def is_known_layout(root):
    """Whether `root` looks like any dataset layout (used to find the dataset inside a zip)."""
    root = Path(root)
    return any(reader.detect(root) for reader in READERS)


__all__ = ["FORMATS", "FORMAT_NAMES", "READERS", "Reading", "detect", "is_known_layout"]
