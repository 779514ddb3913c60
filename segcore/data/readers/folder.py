"""The segcore layout: images/ + masks/ (8-bit label PNGs), optionally in train/ val/ test/."""

from segcore.data.readers.reading import Reading

NAME = "folder"


def detect(root):
    return (root / "images").is_dir() or any(
        (root / split / "images").is_dir() for split in ("train", "val", "test"))


def has_masks(root):
    """Whether `root` holds masks/ folders (then it is this layout, whatever else lies there)."""
    return any((root / split / "masks").is_dir() for split in ("", "train", "val", "test"))


def read(root):
    """Pairs images with masks by stem in each split folder (or the root).

    Raises:
        DataError: a missing folder, or an image without mask / mask without image.
    """
    from segcore.data.dataset import SPLITS, pair_folder

    splits = {name: pair_folder(root / name) for name in SPLITS if (root / name / "images").is_dir()}
    if not splits:
        splits = {"train": pair_folder(root)}
    return Reading(NAME, splits, None)
