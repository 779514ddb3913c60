"""One image being labelled: its mask's edit history, the view of the canvas, and the picture
the canvas shows (pure: the Label page keeps an `Editor` in its session)."""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segcore.data.classes import IGNORE_LABEL
from segcore.data.dataset import SPLITS, UNLABELLED, load_dataset, natural_key
from segcore.data.readers import FORMAT_NAMES
from segcore.errors import DataError
from segcore.labelling.maskfile import open_mask, save_mask
from segcore.labelling.raster import paint_objects
from segcore.labelling.undo import EditHistory
from segcore.pictures import palette, to_uint8

TOOLS = ("brush", "polygon", "fill", "eraser")
CANVAS_MAX = (700, 560)  # (width, height) of the canvas on the page, in screen pixels


@dataclass
class ImageEntry:
    """An image of a dataset as the Label page lists it.

    Attributes:
        image: the image file.
        mask: its mask file, or None (an image of unlabelled/).
        relative: the image's path inside the dataset (what `?image=` carries).
    """

    image: Path
    mask: Path | None
    relative: str

    @property
    def labelled(self):
        return self.mask is not None


def dataset_images(root):
    """The dataset's images, labelled ones (every split) then unlabelled ones.

    Returns:
        (dataset, [ImageEntry]).

    Raises:
        DataError: the dataset does not load, or is a labelling tool's export (COCO, CVAT, VOC,
            Cityscapes): its labels live in the tool's own files, which a painted mask must not
            replace.
    """
    dataset = load_dataset(root, val_fraction=0)
    if dataset.format != "folder":
        kind = FORMAT_NAMES.get(dataset.format, dataset.format)
        raise DataError(f"{dataset.root.name} is a {kind} export: its labels live in that "
                        "tool's files, so they are edited there, not here (Label edits datasets "
                        "of images/ and masks/).")
    root = dataset.root
    order = {name: position for position, name in enumerate(SPLITS)}
    samples = sorted((s for split in dataset.splits.values() for s in split),
                     key=lambda s: (order.get(s.image.parent.parent.name, -1),
                                    natural_key(s.image.name)))
    entries = [ImageEntry(s.image, Path(getattr(s.mask, "path", s.mask)),
                          str(Path(s.image).relative_to(root))) for s in samples]
    entries += [ImageEntry(p, None, f"{UNLABELLED}/{p.name}") for p in dataset.unlabelled]
    return dataset, entries


def fit_zoom(shape, canvas=CANVAS_MAX):
    """The zoom that shows the whole image on the canvas (at most 8x for tiny images)."""
    height, width = shape
    return min(8.0, canvas[0] / width, canvas[1] / height)


def view_size(shape, zoom, canvas=CANVAS_MAX):
    """(canvas width, canvas height) in screen pixels for the image at `zoom`."""
    height, width = shape
    return (max(1, min(canvas[0], round(width * zoom))), max(1, min(canvas[1], round(height * zoom))))


def pan_limits(shape, zoom, canvas=CANVAS_MAX):
    """The largest (x0, y0) that keeps the canvas inside the image."""
    width, height = view_size(shape, zoom, canvas)
    return (max(0, math.ceil(shape[1] - width / zoom)), max(0, math.ceil(shape[0] - height / zoom)))


def composite(image, labels, class_map, view, size, opacity=0.5):
    """The canvas background: the image's visible part with the mask's colours blended in.

    Nearest-neighbour magnification, so each mask pixel shows as a crisp block.

    Args:
        image: uint8 or float RGB (H, W, 3).
        labels: uint8 labels (H, W).
        class_map: colours of the classes (void in its colour).
        view: the `View` (x0, y0, zoom).
        size: (width, height) of the canvas.
        opacity: 0 shows the image alone, 1 the mask alone.

    Returns:
        uint8 RGB (height, width, 3).
    """
    width, height = size
    x0, y0 = int(view.x0), int(view.y0)
    # Canvas pixel (r, c) shows the image pixel under its centre, exactly as the rasteriser
    # maps strokes; picking those pixels first blends only the canvas's worth (a 4096 px image
    # at "fit" is 16 M pixels, its canvas 0.3 M).
    cols = np.minimum(x0 + ((np.arange(width) + 0.5) / view.zoom).astype(int), image.shape[1] - 1)
    rows = np.minimum(y0 + ((np.arange(height) + 0.5) / view.zoom).astype(int), image.shape[0] - 1)
    shown = to_uint8(image[rows][:, cols]).astype(np.float32)
    colours = palette(class_map)[labels[rows][:, cols]].astype(np.float32)
    return (shown * (1 - opacity) + colours * opacity + 0.5).astype(np.uint8)


@dataclass
class Editor:
    """An image being labelled, from opening to saving.

    Attributes:
        entry: the image.
        opened: the `OpenMask` (where a save goes, the version it started from).
        history: the mask states (undo/redo).
        saved: the labels as last saved or opened (to tell unsaved edits).
        version: bumped by every change, so the page draws a fresh canvas.
        opened_version: `version` when opened or last saved.
    """

    entry: ImageEntry
    opened: object
    history: EditHistory
    saved: np.ndarray
    version: int = 0
    opened_version: int = 0

    @classmethod
    def open(cls, root, entry, class_map, shape, start=None):
        """Opens an image's mask; `start` (labels) replaces it as the first state (an empty
        mask, a run's prediction), undoable back to what is on disk."""
        opened = open_mask(root, entry.image, entry.mask, class_map, shape)
        history = EditHistory(opened.labels)
        if start is not None:
            history.push(np.asarray(start, dtype=np.uint8))
        return cls(entry, opened, history, opened.labels.copy())

    @property
    def labels(self):
        return self.history.current

    @property
    def dirty(self):
        """Whether the labels differ from the mask file (a pre-fill does, before any edit)."""
        return not np.array_equal(self.labels, self.saved)

    @property
    def edited(self):
        """Whether the user changed the labels since opening or saving (worth asking about
        before they are dropped)."""
        return self.version != self.opened_version

    def paint(self, objects, tool, label, view):
        """Paints the canvas's new objects with `label` (the eraser's target for "eraser")."""
        if not objects:
            return
        self.history.push(paint_objects(self.labels, objects, label, view, fill=tool == "fill"))
        self.version += 1

    def undo(self):
        self.history.undo()
        self.version += 1

    def redo(self):
        self.history.redo()
        self.version += 1

    def save(self, class_map):
        """Saves the current labels (see `save_mask`); the editor continues from them.

        Returns:
            The mask file written.
        """
        labels = self.labels
        self.opened = save_mask(self.opened, labels, class_map)
        self.saved = labels
        self.opened_version = self.version
        self.entry = ImageEntry(self.opened.image, self.opened.mask,
                                str(self.opened.image.relative_to(self.opened.root)))
        return self.opened.mask


def eraser_label(target, class_map):
    """The label the eraser paints: background (class 0) or void.

    Raises:
        DataError: void asked of a dataset without a void value or colour.
    """
    if target == "background":
        return 0
    if class_map.ignore_value is None and class_map.void_color is None:
        raise DataError("The dataset's classes have no void value; set one in the class editor "
                        "on the Data page, or erase to background.")
    return IGNORE_LABEL
