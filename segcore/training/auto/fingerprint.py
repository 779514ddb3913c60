"""A dataset's fingerprint: what `--auto` reads from the data before choosing settings.

Image sizes come from the files' headers (no decoding); class shares and thin structures from
a seeded sample of the training masks, so a large dataset is measured in seconds.
"""

from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from segcore.data.classes import IGNORE_LABEL
from segcore.data.dataset import load_dataset
from segcore.data.formats import image_shape
from segcore.data.masks import read_mask
from segcore.models.precision import native_bfloat16

# A class is thin when most of its pixels lie within this many pixels of its boundary.
THIN_RADIUS = 2
THIN_SURVIVAL = 0.5


@dataclass(frozen=True)
class Fingerprint:
    """What the data is like, as far as choosing training settings goes.

    Attributes:
        train_images, val_images: images per split (val 0 when a split is still to be made).
        median_size, min_size, max_size: (height, width) of the training images; min and
            max by area.
        channels: 1 for gray images, 3 for colour pictures, else the bands of multi-channel
            images (the most of the first images sampled).
        num_classes: classes of the class map (void excluded).
        class_names: their names.
        class_shares: each class's share of the labelled pixels in the sampled masks.
        thin_classes: indices of classes whose pixels mostly lie within `THIN_RADIUS` pixels
            of the class's boundary (poles, membranes, wires).
        object_sizes: each class's typical object as a share of its image: the size of the
            connected region a pixel of the class lies in, the median over the class's pixels
            (a pole 0.003, a car 0.06, a road 0.3; 0 for a class the sample lacks).
        sampled_masks: how many masks the shares and thinness come from.
        cached_encoders: encoders whose ImageNet weights are in Keras's cache here.
        native_bfloat16: this machine's CPU computes bfloat16 natively (a fact of the
            machine, like the cache: `segcore.models.precision.native_bfloat16`).
    """

    train_images: int
    val_images: int
    median_size: tuple
    min_size: tuple
    max_size: tuple
    channels: int
    num_classes: int
    class_names: tuple = ()
    class_shares: tuple = ()
    thin_classes: tuple = ()
    object_sizes: tuple = ()
    sampled_masks: int = 0
    cached_encoders: tuple = field(default=())
    native_bfloat16: bool = False

    @property
    def pretrained_available(self):
        """ImageNet encoders take RGB input: their weights apply to 3-channel data only."""
        return self.channels == 3 and bool(self.cached_encoders)

    def to_json(self):
        data = asdict(self)
        for key in ("median_size", "min_size", "max_size"):
            data[key] = list(data[key])
        for key in ("class_names", "class_shares", "thin_classes", "object_sizes",
                    "cached_encoders"):
            data[key] = list(data[key])
        return data


def thin_share(mask, label, radius=THIN_RADIUS):
    """Counts a class's pixels that an erosion by `radius` pixels removes (its thin part).

    Pixels at the image's edge are not counted as boundary (the class may go on outside).

    Example:
        a 1-pixel-wide line: every pixel is removed, (n, n); a 20x20 square inside the
        image: the erosion by 2 leaves 16x16, (144, 400), a share of 0.36.

    Args:
        mask: uint8 training labels (H, W).
        label: the class index.
        radius: pixels from the boundary.

    Returns:
        (removed pixels, pixels of the class).
    """
    region = (mask == label).astype(np.uint8)
    total = int(region.sum())
    if not total:
        return 0, 0
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    # cv2's default border for erode is "no boundary": the image's edge erodes nothing.
    kept = int(cv2.erode(region, kernel).sum())
    return total - kept, total


def region_sizes(mask, label):
    """The sizes, as shares of the image, of the connected regions (8-neighbours) of a class.

    Example: two 10x10 squares of the class in a 100x100 mask: [0.01, 0.01].
    """
    region = (mask == label).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(region, connectivity=8)
    return stats[1:count, cv2.CC_STAT_AREA] / float(mask.size)


def typical_size(sizes):
    """The region size that the median pixel lies in (regions weighted by their pixels).

    Example: regions [0.01, 0.01, 0.5] -> 0.5 (most pixels lie in the large one); 0 for none.
    """
    sizes = np.sort(np.asarray(sizes, dtype=np.float64))
    if not sizes.size:
        return 0.0
    weight = np.cumsum(sizes)
    return float(sizes[np.searchsorted(weight, weight[-1] / 2)])


def _channels(path):
    """The image's own channels: 1 for gray, 3 for a colour picture (alpha dropped, as it is
    read), else its band count (segcore.data.channels reads such images band by band)."""
    from segcore.data.channels import image_info

    info = image_info(path)
    if info.channels <= 2:
        return 1  # gray, or gray with alpha
    return 3 if info.rgb_readable and info.channels <= 4 else info.channels


def _cached_encoders():
    from segcore.models.encoder_weights import is_cached
    from segcore.models.encoders import ENCODERS

    return tuple(name for name in ENCODERS if is_cached(name))


def fingerprint(dataset, max_masks=48, seed=0):
    """Measures a loaded `Dataset` (its training split).

    Args:
        dataset: a `segcore.data.dataset.Dataset`.
        max_masks: masks read for class shares and thinness (a seeded sample beyond that).
        seed: the sample's seed.

    Returns:
        A `Fingerprint`.
    """
    samples = dataset.samples("train")
    sizes = np.array([image_shape(s.image) for s in samples], dtype=np.int64)
    areas = sizes[:, 0] * sizes[:, 1]
    order = np.argsort(areas, kind="stable")
    median = tuple(int(v) for v in np.median(sizes, axis=0))
    picked = np.random.default_rng(seed).permutation(len(samples))[:max_masks]
    class_map = dataset.class_map
    classes = class_map.num_classes
    counts = np.zeros(classes, np.int64)
    removed = np.zeros(classes, np.int64)
    regions = [[] for _ in range(classes)]
    for index in sorted(picked):
        mask = read_mask(samples[index].mask, class_map)
        counts += np.bincount(mask[mask != IGNORE_LABEL].ravel(), minlength=256)[:classes]
        for label in np.flatnonzero(np.bincount(mask.ravel(), minlength=256)[:classes]):
            removed[label] += thin_share(mask, label)[0]
            regions[label].append(region_sizes(mask, label))
    labelled = max(int(counts.sum()), 1)
    thin = tuple(int(c) for c in range(classes)
                 if counts[c] and removed[c] / counts[c] > THIN_SURVIVAL)
    channels = [_channels(samples[i].image) for i in sorted(picked)[:4]]
    return Fingerprint(
        train_images=len(samples), val_images=len(dataset.samples("val")),
        median_size=median, min_size=tuple(int(v) for v in sizes[order[0]]),
        max_size=tuple(int(v) for v in sizes[order[-1]]),
        channels=max(channels), num_classes=classes, class_names=tuple(class_map.names),
        class_shares=tuple(float(c) / labelled for c in counts), thin_classes=thin,
        object_sizes=tuple(typical_size(np.concatenate(r)) if r else 0.0 for r in regions),
        sampled_masks=len(picked), cached_encoders=_cached_encoders(),
        native_bfloat16=native_bfloat16())


def fingerprint_folder(path, classes=None, ignore_index=None, split="auto", val_fraction=0.2,
                       seed=0, max_masks=48):
    """Loads a dataset folder (as training will) and measures it; see `fingerprint`.

    Args:
        path: the dataset folder; `classes`, `ignore_index`, `split`, `val_fraction` and
            `seed` as `load_dataset` takes them (the run's own, so the split is training's).
        max_masks: masks read for class shares and thinness.

    Returns:
        A `Fingerprint`.

    Raises:
        DataError: the folder is no dataset (naming it and the problem).
    """
    dataset = load_dataset(path, classes=classes, ignore_index=ignore_index, split=split,
                           val_fraction=val_fraction, seed=seed)
    return fingerprint(dataset, max_masks=max_masks, seed=seed)
