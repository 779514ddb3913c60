"""Cityscapes: leftImg8bit/<split>/<city>/*_leftImg8bit.png with gtFine/*_gtFine_labelIds.png.

The 34 label ids map to the 19 classes of the official benchmark (the "train ids"); every other
id (ego vehicle, rectification border, parking, ...) is void.
"""

from segcore.data.classes import ClassMap
from segcore.data.readers.reading import MappedMask, Reading, lookup
from segcore.errors import DataError

NAME = "cityscapes"
# (label id, train-id class name, colour) of the 19 evaluated classes, in train-id order.
CLASSES = (
    (7, "road", (128, 64, 128)), (8, "sidewalk", (244, 35, 232)), (11, "building", (70, 70, 70)),
    (12, "wall", (102, 102, 156)), (13, "fence", (190, 153, 153)), (17, "pole", (153, 153, 153)),
    (19, "traffic light", (250, 170, 30)), (20, "traffic sign", (220, 220, 0)),
    (21, "vegetation", (107, 142, 35)), (22, "terrain", (152, 251, 152)),
    (23, "sky", (70, 130, 180)), (24, "person", (220, 20, 60)), (25, "rider", (255, 0, 0)),
    (26, "car", (0, 0, 142)), (27, "truck", (0, 0, 70)), (28, "bus", (0, 60, 100)),
    (31, "train", (0, 80, 100)), (32, "motorcycle", (0, 0, 230)), (33, "bicycle", (119, 11, 32)),
)
IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"
TRAIN_IDS = lookup((label_id, train_id) for train_id, (label_id, _, _) in enumerate(CLASSES))


def detect(root):
    return (root / "leftImg8bit").is_dir() and (root / "gtFine").is_dir()


def read(root):
    """Reads the splits of leftImg8bit/ that have labels in gtFine/.

    Raises:
        DataError: an image without its labelIds file or a labelIds file without its image.
    """
    from segcore.data.dataset import Sample, natural_key

    splits = {}
    for split_dir in sorted((root / "leftImg8bit").iterdir()):
        labels_dir = root / "gtFine" / split_dir.name
        split = {"valid": "val"}.get(split_dir.name, split_dir.name)
        if not split_dir.is_dir() or not labels_dir.is_dir():
            continue
        images = {p.relative_to(split_dir).as_posix()[: -len(IMAGE_SUFFIX)]: p
                  for p in split_dir.rglob(f"*{IMAGE_SUFFIX}")}
        labels = {p.relative_to(labels_dir).as_posix()[: -len(LABEL_SUFFIX)]: p
                  for p in labels_dir.rglob(f"*{LABEL_SUFFIX}")}
        for key in sorted(set(labels) - set(images), key=natural_key):
            raise DataError(f"{labels[key]}: no image {key}{IMAGE_SUFFIX} in {split_dir}.")
        samples = []
        for key in sorted(images, key=natural_key):
            if key not in labels:
                raise DataError(f"{images[key]}: no {LABEL_SUFFIX[1:]} for this image in "
                                f"{labels_dir}.")
            mask = MappedMask(labels[key], TRAIN_IDS, "a gtFine labelIds PNG")
            samples.append(Sample(key.rsplit("/", 1)[-1], images[key], mask))
        if samples:
            splits[split] = samples
    if not splits:
        raise DataError(f"{root}: no images with gtFine labels under leftImg8bit/ and gtFine/.")
    class_map = ClassMap([n for _, n, _ in CLASSES], [c for _, _, c in CLASSES],
                         list(range(len(CLASSES))), ignore_value=255)
    return Reading(NAME, splits, class_map)
