"""What a reader returns, and the mask sources that are not plain label files."""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from segcore.data.classes import ClassMap


@dataclass
class Reading:
    """A dataset as its format describes it.

    Attributes:
        format: the reader's name ("folder", "coco", "cvat", "voc", "cityscapes").
        splits: split name ("train", "val", "test") -> list of `Sample`s; a missing "val" is
            split off "train" by `load_dataset`.
        class_map: the format's classes, or None when they come from classes.json or the masks.
    """

    format: str
    splits: dict = field(default_factory=dict)
    class_map: ClassMap | None = None


class MappedMask:
    """A label file whose raw values go through a lookup table (Cityscapes labelIds -> trainIds).

    `segcore.data.masks.read_raw_mask` reads any object with `read_raw()`, so training, the
    doctor, evaluation and the pages read it like a plain mask file.
    """

    def __init__(self, path, table, expected):
        self.path = Path(path)
        self.table = table
        self.expected = expected

    def read_raw(self):
        from segcore.data.masks import read_raw_mask
        from segcore.errors import DataError

        raw = read_raw_mask(self.path)
        if raw.ndim == 3:
            raise DataError(f"{self.path}: a colour image where {self.expected} (one value per "
                            "pixel) was expected.")
        return self.table[raw]

    def __str__(self):
        return str(self.path)


def lookup(pairs, size=256, default=255):
    """A uint8 table of `size` entries mapping each (raw, label) pair, others to `default`."""
    table = np.full(size, default, dtype=np.uint8)
    for raw, label in pairs:
        table[raw] = label
    return table
