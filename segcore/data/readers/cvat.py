"""CVAT "Segmentation mask 1.1": labelmap.txt, SegmentationClass/, ImageSets/Segmentation/.

The export is a VOC layout whose classes come from `labelmap.txt` (`name:r,g,b:parts:actions`
per line). Masks are RGB images painted with those colours (index masks read by position).
Images lie in JPEGImages/ when the export includes them.
"""

from segcore.data.classes import ClassMap
from segcore.data.readers.reading import Reading
from segcore.data.readers.voc import VOID_COLOR, VOID_VALUE, voc_splits
from segcore.errors import DataError

NAME = "cvat"


def detect(root):
    return (root / "labelmap.txt").is_file() and (root / "SegmentationClass").is_dir()


def read_labelmap(path):
    """The class map of a CVAT/Datumaro labelmap.txt.

    Raises:
        DataError: naming the file and line of a malformed entry.
    """
    names, colors = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition(":")
        parts = rest.split(":")[0].split(",") if rest else []
        try:
            color = tuple(int(c) for c in parts)
            if len(color) != 3 or not all(0 <= c <= 255 for c in color):
                raise ValueError
        except ValueError:
            raise DataError(f"{path}: line {number} ({line!r}) needs the form "
                            "name:r,g,b:: with three whole numbers in 0..255.") from None
        names.append(name.strip())
        colors.append(color)
    if not names:
        raise DataError(f"{path}: no labels listed.")
    try:
        void = VOID_COLOR if VOID_COLOR not in colors else None
        ignore = VOID_VALUE if len(names) <= VOID_VALUE else None
        return ClassMap(names, colors, list(range(len(names))), ignore_value=ignore,
                        void_color=void)
    except DataError as error:
        raise DataError(f"{path}: {error}") from None


def read(root):
    """Reads a CVAT segmentation-mask export."""
    class_map = read_labelmap(root / "labelmap.txt")
    return Reading(NAME, voc_splits(root), class_map)
