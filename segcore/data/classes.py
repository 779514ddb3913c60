"""Class maps: names, colours, and how raw mask values become training labels.

Masks on disk use any values (0/255 for binary masks, 0..N for class-index PNGs, a void value
such as CamVid's 11). Inside segcore a mask always holds training labels 0..num_classes-1 and
`IGNORE_LABEL` (255) for void pixels; `ClassMap.lookup_table()` converts one into the other.
"""

import json
import math
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


def _mask_value(value, what):
    """Returns `value` as an int in 0..255 (integral floats such as 3.0 pass), or DataError."""
    whole = (
        isinstance(value, (int, np.integer))
        or (isinstance(value, (float, np.floating)) and math.isfinite(value) and value.is_integer())
    ) and not isinstance(value, (bool, np.bool_))
    if not whole or not 0 <= value <= 255:
        raise DataError(f"{what} {value!r} must be a whole number in 0..255.")
    return int(value)


def _rgb(value, what):
    """Returns `value` as an (r, g, b) tuple of ints in 0..255, or DataError."""
    problem = DataError(f"{what} {value!r} must be [r, g, b]: three whole numbers in 0..255.")
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__len__") or len(value) != 3:
        raise problem
    try:
        return tuple(_mask_value(c, what) for c in value)
    except DataError:
        raise problem from None


def _entry_label(position, name):
    return f"class {position + 1} ({name!r})"


@dataclass
class ClassMap:
    """The classes of a dataset.

    At most 255 classes: training labels are 0..254 and `IGNORE_LABEL` (255) marks void. Names
    must be distinct. Colours may repeat for index masks (they only draw overlays), but an RGB
    colour mask needs one colour per class and a void colour of its own:
    `raw_to_labels` refuses such a mask when two classes share a colour.

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
        if isinstance(self.names, (str, bytes, dict)) or not hasattr(self.names, "__len__"):
            raise DataError(f"The class names must be a list, not {self.names!r}.")
        self.names = list(self.names)
        if not self.names:
            raise DataError("A class map needs at least one class.")
        for position, name in enumerate(self.names):
            if not isinstance(name, str) or not name.strip():
                raise DataError(f"class {position + 1}: name {name!r} must be a non-empty text.")
        if len(self.names) > IGNORE_LABEL:
            raise DataError(
                f"{len(self.names)} classes, but at most {IGNORE_LABEL} fit (training label "
                f"{IGNORE_LABEL} marks void); merge classes or make one of them void."
            )
        if self.ignore_value is not None:
            self.ignore_value = _mask_value(self.ignore_value, "ignore_value")
        if not self.colors:
            self.colors = [default_color(i) for i in range(len(self.names))]
        if not self.values:
            self.values = [v for v in range(len(self.names) + 1) if v != self.ignore_value]
            self.values = self.values[: len(self.names)]
        if not (len(self.colors) == len(self.values) == len(self.names)):
            raise DataError("A class map needs one colour and one mask value per class name.")
        self.colors = [_rgb(c, f"{_entry_label(i, n)}: colour")
                       for i, (n, c) in enumerate(zip(self.names, self.colors))]
        self.values = [_mask_value(v, f"{_entry_label(i, n)}: value")
                       for i, (n, v) in enumerate(zip(self.names, self.values))]
        if self.void_color is not None:
            self.void_color = _rgb(self.void_color, "void_color")
        seen_names, seen_values = {}, {}
        for name, value in zip(self.names, self.values):
            if name in seen_names:
                raise DataError(f"Class names must be distinct: {name!r} appears twice.")
            if value in seen_values:
                raise DataError(
                    f"Classes {seen_values[value]!r} and {name!r} share the mask value {value}; "
                    "class mask values must be distinct and differ from the void value."
                )
            if value == self.ignore_value:
                raise DataError(
                    f"Class {name!r} has the void value {value}; class mask values must be "
                    "distinct and differ from the void value."
                )
            seen_names[name] = True
            seen_values[value] = name

    def color_clash(self):
        """Describes two classes (or a class and void) sharing a colour, or returns None.

        Only RGB colour masks care: a shared colour would make their mapping ambiguous.
        """
        owners = {}
        for name, color in zip(self.names, self.colors):
            if color == self.void_color:
                return f"{name!r} has the void colour {color}"
            if color in owners:
                return f"{owners[color]!r} and {name!r} share the colour {color}"
            owners[color] = name
        return None

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

        Raises:
            DataError: naming `source` and the bad entry (e.g. `class 3 ('Road'): colour
                [300, -5, 2] must be [r, g, b]: three whole numbers in 0..255.`).
        """
        try:
            if not isinstance(data, dict):
                raise DataError("the class file must hold a JSON object.")
            if "classes" in data:
                entries = data["classes"]
                if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
                    raise DataError(
                        '"classes" must be a list of objects such as {"name": "sky", '
                        '"color": [r, g, b]}.'
                    )
            else:
                names = data["names"]
                colors = data.get("colors") or [None] * len(names)
                if not isinstance(names, list) or not isinstance(colors, list):
                    raise DataError('"names" and "colors" must be lists.')
                entries = [{"name": n, "color": c} for n, c in zip(names, colors)]
            ignore = data.get("ignore_value", data.get("ignore_index"))
            if ignore is not None:
                ignore = _mask_value(ignore, "ignore_value")
            void_color = data.get("void_color")
            names, colors, values = [], [], []
            for position, entry in enumerate(entries):
                label = _entry_label(position, entry.get("name"))
                value = _mask_value(entry.get("value", position), f"{label}: value")
                color = entry.get("color")
                if color is not None:
                    color = _rgb(color, f"{label}: colour")
                if value == ignore:
                    void_color = void_color or color
                    continue
                names.append(entry.get("name"))
                colors.append(color or default_color(len(names) - 1))
                values.append(value)
            return cls(
                names=names,
                colors=colors,
                values=values,
                ignore_value=ignore,
                void_color=void_color or None,
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
        except RecursionError:
            raise DataError(
                f"{path}: the class file is nested too deeply to be a class file; expected "
                '{"classes": [{"name": ..., "color": [r, g, b]}]}.'
            ) from None
        except (OSError, UnicodeDecodeError, ValueError) as error:  # JSONDecodeError included
            raise DataError(f"{path}: cannot read the class file ({error}).") from None
        if not isinstance(data, dict):
            raise DataError(f"{path}: the class file must hold a JSON object.")
        return cls.from_json(data, source=str(path))

    def save(self, path):
        """Writes `classes.json` atomically."""
        from segcore.fileio import write_json_atomic

        write_json_atomic(path, self.to_json())
