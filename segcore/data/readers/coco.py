"""COCO JSON (instances or stuff): polygons, RLE and uncompressed crowd RLE, rasterised on read.

Two layouts:
- `annotations/*.json` beside the images: in `images/` (CVAT's COCO export) or in folders named
  after the file (`instances_train2017.json` -> `train2017/`, the official sets);
- Roboflow's `<split>/_annotations.coco.json` with the images beside it (`valid` is val).

Categories keep their names; sorted by id they become classes 1..n after "background" (the
pixels no annotation covers), so non-contiguous ids (COCO's 1..90) give contiguous classes. A
category named "background" is that class 0 itself. Stuff files (`stuff_*.json`, COCO-Stuff)
label every pixel they mean to: there the classes are the categories alone (0..n-1) and the
pixels no annotation covers are void. Crowd regions are void. Objects are
painted largest first, so a small object on a large one stays visible.
"""

import json
from pathlib import Path

import numpy as np

from segcore.data.classes import IGNORE_LABEL, ClassMap
from segcore.data.formats import max_pixels
from segcore.data.readers.reading import Reading
from segcore.errors import DataError
from segcore.numeric_range import is_finite_number, is_whole_number

NAME = "coco"
ROBOFLOW_FILE = "_annotations.coco.json"
# Files of the official annotation folder that hold no segmentation classes.
_SKIPPED = ("captions_", "person_keypoints_", "panoptic_", "image_info_")
# Exporters round polygon points; a point this far outside the image is still taken as inside.
EDGE_SLACK = 1.0


def detect(root):
    from segcore.data.readers.folder import has_masks

    return not has_masks(root) and bool(_annotation_files(root))


def _split_of(name):
    name = name.lower()
    for split, words in (("train", ("train",)), ("val", ("val", "valid")), ("test", ("test",))):
        if any(word in name for word in words):
            return split
    return "train"


def _annotation_files(root):
    """[(split, json file, image folders to look in)] of either layout."""
    found = []
    folder = root / "annotations"
    if folder.is_dir():
        files = [p for p in sorted(folder.glob("*.json"))
                 if not p.name.startswith((".", *_SKIPPED))]
        for prefix in ("instances_", "stuff_"):
            preferred = [p for p in files if p.name.startswith(prefix)]
            if preferred:
                files = preferred
                break
        for path in files:
            suffix = path.stem.split("_", 1)[-1]  # instances_train2017 -> train2017
            places = [root / "images" / suffix, root / suffix, root / "images", root]
            found.append((_split_of(suffix), path, places))
    if (root / ROBOFLOW_FILE).is_file():
        found.append(("train", root / ROBOFLOW_FILE, [root]))
    for child in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        if (child / ROBOFLOW_FILE).is_file():
            found.append((_split_of(child.name), child / ROBOFLOW_FILE, [child]))
    return found


def _load_json(path):
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise DataError(f"{path}: cannot read the COCO file ({error}).") from None
    if not isinstance(data, dict) or not all(
            isinstance(data.get(key), list) for key in ("images", "annotations", "categories")):
        raise DataError(f'{path}: not a COCO file (needs "images", "annotations" and '
                        '"categories" lists).')
    return data


def _entry(path, kind, position, entry, keys):
    """Checks that a JSON entry is an object holding `keys`; returns it."""
    if not isinstance(entry, dict) or any(key not in entry for key in keys):
        raise DataError(f'{path}: {kind} entry {position + 1} must be an object with '
                        f'{", ".join(repr(k) for k in keys)}.')
    return entry


def _categories(files):
    """{category id: name} across all files, the unused Roboflow parent category left out."""
    names, used, parents = {}, set(), set()
    for path, data in files:
        for position, category in enumerate(data["categories"]):
            category = _entry(path, "category", position, category, ("id", "name"))
            cid, name = category["id"], str(category["name"]).strip()
            if cid in names and names[cid] != name:
                raise DataError(f"{path}: category {cid} is {name!r} here but {names[cid]!r} in "
                                "another annotation file; export all splits together.")
            names[cid] = name
            if category.get("supercategory") not in (None, "", "none", name):
                parents.add(category["supercategory"])
        used.update(a.get("category_id") for a in data["annotations"] if isinstance(a, dict))
    # Roboflow lists the project itself as category 0, parent of the real ones, on no object.
    return {cid: name for cid, name in names.items() if cid in used or name not in parents}


def _class_map(categories, source, stuff):
    """(ClassMap, {category id: training label}): background first (not for stuff), then the
    categories by id."""
    ids = sorted(categories, key=lambda c: (isinstance(c, str), c))
    background = [c for c in ids if categories[c].lower() == "background"][:1]
    order = background + [c for c in ids if c not in background]
    names = [] if background or stuff else ["background"]
    labels = {}
    for cid in order:
        if categories[cid] in names:
            raise DataError(f"{source}: category {cid} is named {categories[cid]!r} like "
                            "another category; class names must be distinct.")
        labels[cid] = len(names)
        names.append(categories[cid])
    try:
        class_map = ClassMap(names, values=list(range(len(names))), ignore_value=IGNORE_LABEL)
    except DataError as error:
        raise DataError(f"{source}: {error}") from None
    return class_map, labels


def _check_segmentation(path, ann, image):
    """Refuses a segmentation that is missing, malformed or outside its image."""
    where = f"{path}: annotation {ann.get('id')} (image {image['file_name']!r})"
    height, width = image["height"], image["width"]
    segmentation = ann.get("segmentation")
    if isinstance(segmentation, dict):
        size, counts = segmentation.get("size"), segmentation.get("counts")
        if list(size or []) != [height, width]:
            raise DataError(f"{where}: the RLE size {size} is not the image's [height, width] "
                            f"[{height}, {width}].")
        if isinstance(counts, list):
            if not all(isinstance(c, int) and c >= 0 for c in counts) or sum(counts) != height * width:
                raise DataError(f"{where}: the uncompressed RLE counts must be whole numbers "
                                f"adding up to {height}x{width} = {height * width} pixels.")
        elif not isinstance(counts, str):
            raise DataError(f"{where}: the RLE counts must be a list or a string.")
        return
    if not isinstance(segmentation, list) or not segmentation:
        raise DataError(f"{where}: no segmentation (polygons or RLE); a box-only export cannot "
                        "train segmentation, export with masks or polygons.")
    for polygon in segmentation:
        if (not isinstance(polygon, list) or len(polygon) < 6 or len(polygon) % 2
                or not all(map(is_finite_number, polygon))):
            raise DataError(f"{where}: a polygon must be a list of at least 3 x, y points, "
                            "each a finite number.")
        xs, ys = np.asarray(polygon[0::2], float), np.asarray(polygon[1::2], float)
        outside = (xs < -EDGE_SLACK) | (xs > width + EDGE_SLACK) | (ys < -EDGE_SLACK) | (
            ys > height + EDGE_SLACK)
        if outside.any():
            k = int(np.argmax(outside))
            raise DataError(f"{where}: polygon point ({xs[k]:g}, {ys[k]:g}) lies outside the "
                            f"{width}x{height} image.")


def _find_image(path, image, places):
    name = str(image["file_name"]).replace("\\", "/")
    if name.startswith("/") or ".." in Path(name).parts:
        raise DataError(f"{path}: image {image['id']} names {name!r}, outside the dataset.")
    for place in places:
        for candidate in (place / name, place / Path(name).name):
            if candidate.is_file():
                return candidate
    shown = ", ".join(f"{p.name}/" for p in places[:-1])
    raise DataError(f"{path}: image {image['id']} ({name!r}) is not on disk (looked in "
                    f"{shown} and beside the dataset).")


class CocoMask:
    """The label mask of one COCO image, rasterised from its annotations when read."""

    def __init__(self, path, image, annotations, labels, unlabelled=0):
        self.path = Path(path)
        self.image = image
        self.annotations = annotations
        self.labels = labels
        self.unlabelled = unlabelled

    def read_raw(self):
        """Returns uint8 labels (H, W): classes painted largest first on `unlabelled` (background
        0, or void for stuff files), crowd regions void."""
        from pycocotools import mask as coco_mask

        height, width = self.image["height"], self.image["width"]
        labels = np.full((height, width), self.unlabelled, dtype=np.uint8)
        crowd = np.zeros((height, width), dtype=bool)
        painted = []
        for ann in self.annotations:
            segmentation = ann["segmentation"]
            try:
                if isinstance(segmentation, dict) and isinstance(segmentation["counts"], str):
                    rle = segmentation  # compressed RLE: decoded as it is (as the COCO API does)
                else:  # polygons, or the uncompressed RLE of crowds
                    rle = coco_mask.frPyObjects(segmentation, height, width)
                    rle = coco_mask.merge(rle) if isinstance(rle, list) else rle
                pixels = coco_mask.decode(rle)
            except (TypeError, ValueError, OverflowError) as error:
                raise DataError(f"{self}: annotation {ann.get('id')} cannot be decoded "
                                f"({error}).") from None
            pixels = pixels.astype(bool)
            if ann.get("iscrowd"):
                crowd |= pixels
            else:
                painted.append((int(pixels.sum()), self.labels[ann["category_id"]], pixels))
        for _, label, pixels in sorted(painted, key=lambda item: -item[0]):
            labels[pixels] = label
        labels[crowd] = IGNORE_LABEL
        return labels

    def __str__(self):
        return f"{self.path} (image {self.image['id']} {self.image['file_name']!r})"


def _samples(path, data, places, labels, unlabelled):
    """The samples of one annotation file, every entry checked."""
    from segcore.data.dataset import Sample

    images, files_seen = {}, {}
    for position, image in enumerate(data["images"]):
        image = _entry(path, "image", position, image, ("id", "file_name", "height", "width"))
        if not all(is_whole_number(image[k], minimum=1) for k in ("height", "width")):
            raise DataError(f"{path}: image {image['id']} ({image['file_name']!r}) needs a "
                            "positive whole height and width.")
        if image["height"] * image["width"] > max_pixels():  # its mask is allocated at that size
            raise DataError(f"{path}: image {image['id']} ({image['file_name']!r}) is "
                            f"{image['width']}x{image['height']} pixels, over the "
                            f"{max_pixels():,}-pixel cap (raise SEGCORE_MAX_PIXELS if it is "
                            "genuine).")
        if image["file_name"] in files_seen:
            raise DataError(f"{path}: images {files_seen[image['file_name']]} and "
                            f"{image['id']} are both {image['file_name']!r}.")
        files_seen[image["file_name"]] = image["id"]
        images[image["id"]] = (image, [])
    for position, ann in enumerate(data["annotations"]):
        ann = _entry(path, "annotation", position, ann, ("image_id", "category_id"))
        if ann["image_id"] not in images:
            raise DataError(f"{path}: annotation {ann.get('id')} is for image id "
                            f"{ann['image_id']}, which is not in \"images\".")
        image, anns = images[ann["image_id"]]
        if ann["category_id"] not in labels:
            raise DataError(f"{path}: annotation {ann.get('id')} (image "
                            f"{image['file_name']!r}) has category {ann['category_id']}, "
                            "which is not in \"categories\".")
        _check_segmentation(path, ann, image)
        anns.append(ann)
    samples = []
    for image, anns in images.values():
        file = _find_image(path, image, places)
        samples.append(Sample(Path(str(image["file_name"])).stem, file,
                              CocoMask(path, image, anns, labels, unlabelled)))
    return samples


def _malformed_is_data_error(path, function, *args):
    """Runs `function`, turning the type errors of a malformed entry into one DataError."""
    try:
        return function(*args)
    except (TypeError, KeyError, AttributeError, ValueError) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"{path}: a malformed entry ({type(error).__name__}: {error}); "
                        "is this a COCO file as exported?") from None


def read(root):
    """Reads every annotation file of the dataset into samples per split and one class map.

    Raises:
        DataError: naming the file and entry of an unknown category, an annotation of an image
            that is not listed, an image that is not on disk, or a polygon outside its image.
    """
    root = Path(root)
    entries = _annotation_files(root)
    if not entries:
        raise DataError(f"{root}: no COCO annotation file (annotations/*.json or "
                        f"<split>/{ROBOFLOW_FILE}).")
    seen = {}
    for split, path, _ in entries:
        if split in seen:
            raise DataError(f"{path} and {seen[split]} both annotate the {split} split; keep one "
                            "annotation file per split.")
        seen[split] = path
    files = [(path, _load_json(path)) for _, path, _ in entries]
    categories = _malformed_is_data_error(entries[0][1], _categories, files)
    if not categories:
        raise DataError(f"{entries[0][1]}: no categories.")
    stuff = all(path.name.startswith("stuff_") for _, path, _ in entries)
    class_map, labels = _class_map(categories, entries[0][1], stuff)
    unlabelled = IGNORE_LABEL if stuff else 0
    splits = {}
    for (split, path, places), (_, data) in zip(entries, files):
        samples = _malformed_is_data_error(path, _samples, path, data, places, labels,
                                           unlabelled)
        if samples:
            splits[split] = samples
    return Reading(NAME, splits, class_map)
