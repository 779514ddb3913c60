"""Datasets on disk: file pairs, their class map, and train/val/test splits."""

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from segcore.data.classes import IGNORE_LABEL, ClassMap
from segcore.data.formats import IMAGE_EXTENSIONS, MASK_EXTENSIONS
from segcore.data.masks import read_raw_mask
from segcore.errors import DataError

SPLITS = ("train", "val", "test")
SPLIT_MODES = ("auto", "random", "contiguous")
UNLABELLED = "unlabelled"


def natural_key(text):
    """Sort key that puts "2" before "10"."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


@dataclass
class Sample:
    """One image and its mask (None for unlabelled images).

    `mask` is a label file, or an object with `read_raw()` and a `path` (the file its labels
    come from) for formats whose labels are not one file per image (COCO, Cityscapes).
    """

    stem: str
    image: Path
    mask: object


@dataclass
class Dataset:
    """A dataset: its folder, class map, samples per split ("train", "val", maybe "test") and
    the layout it was read from (`format`: "folder", "coco", "cvat", "voc" or "cityscapes").

    `unlabelled` lists the images of `<root>/unlabelled/` (no masks yet): no split holds them,
    so training and evaluation never see them; the Label page and `rank` do.
    """

    root: Path
    name: str
    class_map: ClassMap
    splits: dict = field(default_factory=dict)
    format: str = "folder"
    unlabelled: list = field(default_factory=list)

    def samples(self, split):
        return self.splits.get(split, [])

    def fingerprint(self):
        """A short hash of file names, sizes and the class map: changes when the data does."""
        digest = hashlib.sha256()
        for split in sorted(self.splits):
            for sample in self.splits[split]:
                for path in (sample.image, getattr(sample.mask, "path", sample.mask)):
                    if path is not None:
                        stat = path.stat()
                        digest.update(f"{split}/{path.name}:{stat.st_size}\n".encode())
        digest.update(json.dumps(self.class_map.to_json(), sort_keys=True).encode())
        return digest.hexdigest()[:16]


def _files(folder, extensions):
    if not folder.is_dir():
        return []
    return [
        p for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in extensions
    ]


def _by_stem(files, folder):
    """Maps stem -> file, refusing two files with one stem (a.png and a.jpg)."""
    found = {}
    for path in files:
        if path.stem in found:
            raise DataError(
                f"{folder}: {found[path.stem].name} and {path.name} share the stem "
                f"{path.stem!r}; keep one file per stem."
            )
        found[path.stem] = path
    return found


def pair_folder(folder, require_masks=True):
    """Pairs `folder/images/*` with `folder/masks/*` by stem.

    Raises:
        DataError: a missing folder, or an image without mask / mask without image.
    """
    folder = Path(folder)
    images_dir, masks_dir = folder / "images", folder / "masks"
    if not images_dir.is_dir():
        raise DataError(f"{folder}: no images/ folder (expected images/ and masks/).")
    images = _by_stem(_files(images_dir, IMAGE_EXTENSIONS), images_dir)
    masks = _by_stem(_files(masks_dir, MASK_EXTENSIONS), masks_dir)
    if require_masks:
        lonely_images = sorted(set(images) - set(masks), key=natural_key)
        lonely_masks = sorted(set(masks) - set(images), key=natural_key)
        if lonely_images:
            names = ", ".join(images[s].name for s in lonely_images[:5])
            raise DataError(f"{images_dir}: no mask in masks/ for {names}.")
        if lonely_masks:
            names = ", ".join(masks[s].name for s in lonely_masks[:5])
            raise DataError(f"{masks_dir}: no image in images/ for {names}.")
    return [
        Sample(stem, images[stem], masks.get(stem)) for stem in sorted(images, key=natural_key)
    ]


def unlabelled_images(root, labelled_stems=()):
    """The images of `root/unlabelled/`, naturally sorted by stem.

    Args:
        root: the dataset folder.
        labelled_stems: stems that already have a mask: an unlabelled image sharing one would be
            saved over that pair once labelled, so it is refused.

    Returns:
        A list of Paths (empty without the folder).

    Raises:
        DataError: two files with one stem, or a stem that is also a labelled image's.
    """
    folder = Path(root) / UNLABELLED
    images = _by_stem(_files(folder, IMAGE_EXTENSIONS), folder)
    clash = sorted(set(images) & set(labelled_stems), key=natural_key)
    if clash:
        names = ", ".join(images[s].name for s in clash[:5])
        raise DataError(f"{folder}: {names} share the stem of a labelled image; rename them "
                        "(a labelled stem would be saved over that image's mask).")
    return [images[stem] for stem in sorted(images, key=natural_key)]


def split_samples(samples, mode, val_fraction, seed):
    """Splits samples into (train, val): contiguous blocks or a seeded random split."""
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"The validation fraction {val_fraction} must lie in [0, 1).")
    count = len(samples)
    n_val = 0 if val_fraction == 0 else min(count - 1, max(1, round(count * val_fraction)))
    if mode == "contiguous":
        return samples[: count - n_val], samples[count - n_val:]
    order = np.random.default_rng(seed).permutation(count)
    val_ids = set(order[:n_val].tolist())
    train = [s for i, s in enumerate(samples) if i not in val_ids]
    val = [s for i, s in enumerate(samples) if i in val_ids]
    return train, val


def infer_class_map(masks, ignore_index=None):
    """Builds a class map from the values found in the masks.

    Binary 0/255 masks give two classes (values 0 and 255); otherwise classes 0..max.
    """
    check_ignore_index(ignore_index)
    seen = np.zeros(256, dtype=bool)
    top_value, top_file = -1, None
    for path in masks:
        raw = read_raw_mask(path)
        if raw.ndim == 3:
            raise DataError(
                f"{path}: an RGB colour mask needs a classes.json (or --classes FILE) with the "
                "colour of each class."
            )
        present = np.unique(raw)
        if present[-1] > top_value:
            top_value, top_file = int(present[-1]), path
        seen[present] = True
    if ignore_index is not None:
        seen[ignore_index] = False
    values = np.flatnonzero(seen).tolist()
    if not values:
        raise DataError("The masks hold no class values besides void.")
    if set(values) <= {0, 255}:
        return ClassMap(["background", "foreground"], values=[0, 255], ignore_value=ignore_index)
    top = max(values)
    values = [v for v in range(top + 1) if v != ignore_index]
    if len(values) > IGNORE_LABEL:
        # Training label 255 marks void: a 256th class would silently become void.
        raise DataError(
            f"{top_file}: mask values go up to {top}, which makes {len(values)} classes, but at "
            f"most {IGNORE_LABEL} fit; if {top} marks void pixels give --ignore-index {top}, "
            "else declare the classes in a classes.json."
        )
    return ClassMap([f"class {v}" for v in values], values=values, ignore_value=ignore_index)


def check_ignore_index(ignore_index):
    """Refuses a void value that no 8-bit mask can hold (before it reaches a lookup table)."""
    if ignore_index is None:
        return
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)) or not (
        0 <= ignore_index <= 255
    ):
        raise DataError(
            f"--ignore-index {ignore_index!r} must be a whole number in 0..255 (a mask value)."
        )


def resolve_class_map(root, samples, classes=None, ignore_index=None, format_classes=None):
    """Returns the class map from an argument, `root/classes.json`, the format's own classes
    (`format_classes`, e.g. COCO's categories), or the masks themselves."""
    check_ignore_index(ignore_index)
    if isinstance(classes, ClassMap):
        class_map = classes
    elif classes is not None:
        class_map = ClassMap.load(classes)
    elif (Path(root) / "classes.json").is_file():
        class_map = ClassMap.load(Path(root) / "classes.json")
    elif format_classes is not None:
        class_map = format_classes
    else:
        return infer_class_map([s.mask for s in samples if s.mask is not None], ignore_index)
    if ignore_index is not None and ignore_index != class_map.ignore_value:
        data = class_map.to_json()
        data["ignore_value"] = ignore_index
        class_map = ClassMap.from_json(data)
    return class_map


def load_dataset(path, classes=None, ignore_index=None, split="auto", val_fraction=0.2, seed=0):
    """Loads a dataset folder.

    The layout is detected (`segcore.data.readers`): images/ + masks/, COCO JSON, CVAT
    segmentation masks, Pascal VOC or Cityscapes; class names and splits come from the format.

    Args:
        path: a dataset folder: images/ and masks/ (or train/ val/ test/ holding them), or an
            export of one of the formats above.
        classes: a ClassMap, or a path to a class file; default `path/classes.json`, else the
            class map is inferred from the masks.
        ignore_index: the raw mask value of void pixels (overrides the class file's).
        split: "auto" (split folders if present, else random), "random" or "contiguous".
        val_fraction: the share of images held out when no val/ folder exists.
        seed: seed of the random split.

    Returns:
        A `Dataset`.

    Raises:
        DataError: the folder is missing, empty, or its files do not pair up.
    """
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"{root}: dataset folder not found.")
    if split not in SPLIT_MODES:
        raise DataError(f"Unknown split mode {split!r}; use one of {', '.join(SPLIT_MODES)}.")
    from segcore.data.readers import detect

    reading = detect(root).read(root)
    splits = reading.splits
    if "train" not in splits:
        if reading.format == "folder":
            raise DataError(f"{root}: split folders found but no train/ folder.")
        raise DataError(f"{root}: the {reading.format} dataset has no train split (found: "
                        f"{', '.join(splits) or 'no split with images'}).")
    if not splits["train"]:
        raise DataError(f"{root}: the dataset is empty (no images with masks found).")
    if "val" not in splits:
        mode = "random" if split == "auto" else split
        splits["train"], splits["val"] = split_samples(splits["train"], mode, val_fraction, seed)
    all_samples = [s for samples in splits.values() for s in samples]
    class_map = resolve_class_map(root, all_samples, classes, ignore_index, reading.class_map)
    unlabelled = unlabelled_images(root, {s.stem for s in all_samples})
    return Dataset(root=root.resolve(), name=root.resolve().name, class_map=class_map,
                   splits=splits, format=reading.format,
                   unlabelled=[p.resolve() for p in unlabelled])
