"""Class maps: names, colours, and how raw mask values become training labels.

Masks on disk use any values (0/255 for binary masks, 0..N for class-index PNGs, a void value
such as CamVid's 11). Inside segcore a mask always holds training labels 0..num_classes-1 and
`IGNORE_LABEL` (255) for void pixels; `ClassMap.lookup_table()` converts one into the other.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from segcore.errors import DataError

IGNORE_LABEL = 255

# Distinct colours for classes without declared colours (tab20-like, then generated).
_DEFAULT_COLORS = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    (174, 199, 232), (255, 187, 120), (152, 223, 138), (255, 152, 150), (197, 176, 213),
]


def default_color(index):
    """Returns a stable, distinct RGB colour for class `index`."""
    if index < len(_DEFAULT_COLORS):
        return _DEFAULT_COLORS[index]
    rng = np.random.default_rng(index)
    return tuple(int(c) for c in rng.integers(40, 230, size=3))


@dataclass
class ClassMap:
    """The classes of a dataset.

    Attributes:
        names: class names, in training-label order.
        colors: one RGB tuple per class (for overlays and for RGB colour masks).
        values: the raw mask value of each class (binary masks: `[0, 255]`).
        ignore_value: the raw mask value of void pixels, or None.
        void_color: the RGB colour of void pixels in colour masks, or None.
    """

    names: list
    colors: list = field(default_factory=list)
    values: list = field(default_factory=list)
    ignore_value: int | None = None
    void_color: tuple | None = None

    def __post_init__(self):
        self.names = [str(n) for n in self.names]
        if not self.names:
            raise DataError("A class map needs at least one class.")
        if not self.colors:
            self.colors = [default_color(i) for i in range(len(self.names))]
        if not self.values:
            self.values = [v for v in range(len(self.names) + 1) if v != self.ignore_value]
            self.values = self.values[: len(self.names)]
        self.colors = [tuple(int(c) for c in color) for color in self.colors]
        self.values = [int(v) for v in self.values]
        if self.void_color is not None:
            self.void_color = tuple(int(c) for c in self.void_color)
        if not (len(self.colors) == len(self.values) == len(self.names)):
            raise DataError("A class map needs one colour and one mask value per class name.")
        if len(set(self.values)) != len(self.values) or self.ignore_value in self.values:
            raise DataError("Class mask values must be distinct and differ from the void value.")
        if any(not 0 <= v <= 255 for v in self.values):
            raise DataError("Class mask values must lie in 0..255.")

    @property
    def num_classes(self):
        return len(self.names)

    def lookup_table(self):
        """Returns a uint8 array of 256 entries: raw mask value -> training label.

        Values that are neither a class nor void map to `IGNORE_LABEL`; callers that must
        reject them (the data doctor) check `undeclared_values` first.
        """
        table = np.full(256, IGNORE_LABEL, dtype=np.uint8)
        for label, value in enumerate(self.values):
            table[value] = label
        return table

    def undeclared_values(self, raw_values):
        """Returns the sorted raw values that are neither a class value nor the void value."""
        known = set(self.values) | ({self.ignore_value} if self.ignore_value is not None else set())
        return sorted(int(v) for v in raw_values if int(v) not in known)

    def to_json(self):
        """Returns the JSON-ready dict stored in `classes.json` and in a run's `config.json`."""
        return {
            "classes": [
                {"name": n, "color": list(c), "value": v}
                for n, c, v in zip(self.names, self.colors, self.values)
            ],
            "ignore_value": self.ignore_value,
            "void_color": list(self.void_color) if self.void_color is not None else None,
        }

    @classmethod
    def from_json(cls, data, source="classes.json"):
        """Builds a class map from the dict form of `to_json`.

        Also accepts `{"names": [...], "colors": [...], "ignore_index": N}`. A class entry whose
        value equals the void value (CamVid's "Unlabelled" at 11) is taken as the void entry.
        """
        try:
            if "classes" in data:
                entries = data["classes"]
            else:
                names = data["names"]
                colors = data.get("colors") or [None] * len(names)
                entries = [{"name": n, "color": c} for n, c in zip(names, colors)]
            ignore = data.get("ignore_value", data.get("ignore_index"))
            void_color = data.get("void_color")
            names, colors, values = [], [], []
            for position, entry in enumerate(entries):
                value = int(entry.get("value", position))
                if ignore is not None and value == int(ignore):
                    void_color = void_color or entry.get("color")
                    continue
                names.append(entry["name"])
                colors.append(entry.get("color") or default_color(len(names) - 1))
                values.append(value)
            return cls(
                names=names,
                colors=colors,
                values=values,
                ignore_value=None if ignore is None else int(ignore),
                void_color=tuple(void_color) if void_color else None,
            )
        except DataError as error:
            raise DataError(f"{source}: {error}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise DataError(
                f"{source} is not a valid class file ({error.__class__.__name__}: {error}); "
                'expected {"classes": [{"name": ..., "color": [r, g, b]}], "ignore_value": N}.'
            ) from None

    @classmethod
    def load(cls, path):
        """Reads a class map from a JSON file."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"{path}: class file not found.") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise DataError(f"{path}: cannot read the class file ({error}).") from None
        if not isinstance(data, dict):
            raise DataError(f"{path}: the class file must hold a JSON object.")
        return cls.from_json(data, source=str(path))

    def save(self, path):
        """Writes `classes.json` atomically."""
        from segcore.fileio import write_json_atomic

        write_json_atomic(path, self.to_json())
