"""Pascal VOC segmentation: JPEGImages/, palette SegmentationClass/, ImageSets/Segmentation/.

Masks are palette PNGs whose indices are the classes (0 background .. 20 tvmonitor) and 255
void; RGB masks painted with the VOC palette read the same. Splits come from the lists in
ImageSets/Segmentation (train.txt, val.txt, test.txt; else trainval.txt or any list as train).
"""

from pathlib import Path

from segcore.data.classes import ClassMap
from segcore.data.formats import IMAGE_EXTENSIONS, MASK_EXTENSIONS
from segcore.data.readers.reading import Reading
from segcore.errors import DataError

NAME = "voc"
VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
    "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)
VOID_VALUE = 255
VOID_COLOR = (224, 224, 192)  # the VOC palette's colour of index 255 as VOC draws borders


def voc_color(index):
    """The VOC palette colour of an index (the bit-interleaving rule of the VOC devkit)."""
    r = g = b = 0
    for shift in range(8):
        r |= ((index >> 0) & 1) << (7 - shift)
        g |= ((index >> 1) & 1) << (7 - shift)
        b |= ((index >> 2) & 1) << (7 - shift)
        index >>= 3
    return r, g, b


def detect(root):
    return (root / "JPEGImages").is_dir() and (root / "SegmentationClass").is_dir() and not (
        root / "labelmap.txt").is_file()


def read(root):
    """Reads a VOC folder with the 21 VOC classes (255 = void)."""
    class_map = ClassMap(list(VOC_CLASSES), [voc_color(i) for i in range(len(VOC_CLASSES))],
                         list(range(len(VOC_CLASSES))), ignore_value=VOID_VALUE,
                         void_color=VOID_COLOR)
    return Reading(NAME, voc_splits(root), class_map)


def _by_stem(folder, extensions):
    found = {}
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in extensions:
                stem = path.relative_to(folder).with_suffix("").as_posix()
                if stem in found:
                    raise DataError(f"{folder}: {found[stem].name} and {path.name} share the "
                                    f"stem {stem!r}; keep one file per stem.")
                found[stem] = path
    return found


def split_lists(root):
    """{split: list file} from ImageSets/Segmentation, the lists named train/val/test first."""
    folder = root / "ImageSets" / "Segmentation"
    lists = {p.stem.lower(): p for p in sorted(folder.glob("*.txt"))} if folder.is_dir() else {}
    named = {split: lists[split] for split in ("train", "val", "test") if split in lists}
    if named:
        return named
    if "trainval" in lists:
        return {"train": lists["trainval"]}
    return {"train": list(lists.values())} if lists else {}


def voc_splits(root, images_dir="JPEGImages", masks_dir="SegmentationClass"):
    """Samples per split: from the split lists, or every mask's stem when there are none.

    Raises:
        DataError: a list naming an image or mask that is not there (naming list and line), or
            no images at all.
    """
    from segcore.data.dataset import Sample, natural_key

    root = Path(root)
    images = _by_stem(root / images_dir, IMAGE_EXTENSIONS)
    masks = _by_stem(root / masks_dir, MASK_EXTENSIONS)
    if not images:
        raise DataError(f"{root / images_dir}: no images (export the dataset with its images).")
    lists = split_lists(root)
    if not lists:
        lonely = sorted(set(masks) - set(images), key=natural_key)
        if lonely:
            raise DataError(f"{masks[lonely[0]]}: no image in {images_dir}/ for this mask.")
        stems = sorted(masks, key=natural_key)
        if not stems:
            raise DataError(f"{root / masks_dir}: no masks found.")
        return {"train": [Sample(s, images[s], masks[s]) for s in stems]}
    splits = {}
    for split, files in lists.items():
        samples = []
        for list_file in files if isinstance(files, list) else [files]:
            for number, line in enumerate(list_file.read_text(encoding="utf-8").splitlines(), 1):
                stem = line.strip().split()[0] if line.strip() else ""
                if not stem:
                    continue
                if stem not in images:
                    raise DataError(f"{list_file}: line {number} names {stem!r}, but there is no "
                                    f"such image in {images_dir}/.")
                if stem not in masks:
                    raise DataError(f"{list_file}: line {number} names {stem!r}, but there is no "
                                    f"such mask in {masks_dir}/.")
                samples.append(Sample(stem, images[stem], masks[stem]))
        splits[split] = samples
    return splits
