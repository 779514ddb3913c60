"""The tf.data pipeline: decode once into memory, then crop, augment (`augment.py`) and batch
per epoch.

Every random choice is a stateless function of (seed, epoch, sample index), so an epoch can be
replayed exactly, which is what makes stop/resume reproducible.
"""

import cv2
import numpy as np

from segcore.data.augment import AugmentConfig, augment_sample
from segcore.data.classes import IGNORE_LABEL
from segcore.data.masks import raw_to_labels, read_pair
from segcore.data.paste import paste_classes
from segcore.data.shrink import SHARE_SCALE, label_shares, shrink_labels
from segcore.errors import DataError


def shrink_image(image, size):
    """Resizes an image to size=(H, W): by area when shrinking, bilinear when enlarging."""
    height, width = size
    if image.shape[:2] == (height, width):
        return image
    interpolation = cv2.INTER_AREA if image.shape[0] >= height else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interpolation)


def resize_pair(image, mask, size, labels="nearest"):
    """Resizes image (`shrink_image`) and mask (`shrink.shrink_labels` by `labels`) to
    size=(H, W)."""
    if image.shape[:2] != tuple(size):
        image, mask = shrink_image(image, size), shrink_labels(mask, size, labels)
    return image, mask


def load_arrays(samples, class_map, size=None, spec=None, labels="nearest"):
    """Decodes every sample once into memory.

    Args:
        samples: `Sample`s with masks.
        class_map: the dataset's class map.
        size: (H, W) to resize to; None keeps the native size (all samples must share it).
        spec: the dataset's `channels.InputSpec` (default: decided from these samples).
        labels: how masks shrink (`--label-resize`, `shrink.LABEL_RESIZE`).

    Returns:
        (images float32 [N, H, W, C], masks uint8 [N, H, W], or [N, H, W, classes + 1]
        `shrink.label_shares` with "shares").
    """
    from segcore.data.channels import samples_input

    spec = spec or samples_input(samples)
    images, masks = [], []
    for sample in samples:
        image, raw = read_pair(sample.image, sample.mask, spec)  # the data doctor's reader too
        mask = raw_to_labels(raw, class_map, str(sample.mask))
        if labels == "shares":
            target = size or mask.shape[:2]
            image = shrink_image(image, target)
            mask = label_shares(mask, class_map.num_classes, target)
        elif size is not None:
            image, mask = resize_pair(image, mask, size, labels)
        images.append(image if image.ndim == 3 else image[..., None])  # cv2 drops a lone channel
        masks.append(mask)
    if size is None and len({m.shape for m in masks}) > 1:
        raise DataError("Images differ in size: give a training size (--img-size HxW).")
    return np.stack(images).astype(np.float32), np.stack(masks).astype(np.uint8)


def class_pixel_counts(masks, num_classes):
    """Counts the pixels of each class (void excluded) as int64 [num_classes]; masks of
    `shrink.label_shares` count each pixel's shares."""
    if np.ndim(masks) == 4:
        totals = np.asarray(masks).sum(axis=(0, 1, 2), dtype=np.int64)
        return np.rint(totals[:num_classes] / SHARE_SCALE).astype(np.int64)
    counts = np.zeros(256, dtype=np.int64)
    for mask in masks:
        counts += np.bincount(np.asarray(mask).ravel(), minlength=256)
    return counts[:num_classes]


def epoch_order(count, seed, epoch):
    """The shuffled sample order of one epoch: a pure function of (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(count)


def epoch_samples(count, batch_size, seed, first, last):
    """(epoch, index) of every sample trained on in epochs `first` to `last` - 1, in order.

    Each epoch is `epoch_order`'s shuffle with its last partial batch left out, so batching
    the whole stream gives each epoch's batches and no batch straddles two epochs. The orders
    are drawn as the stream reaches them: `last` may lie far ahead (a run's epoch ceiling).

    Returns:
        A `tf.data.Dataset` of (int64 epoch, int64 sample index) scalars.

    Raises:
        ValueError: fewer samples than one batch (the stream would never yield one).
    """
    import tensorflow as tf

    kept = count - count % batch_size
    if kept <= 0:
        raise ValueError(f"{count} training samples do not fill one batch of {batch_size}")

    def order(epoch):
        return epoch_order(count, seed, int(epoch))[:kept].astype(np.int64)

    def one_epoch(epoch):
        indices = tf.ensure_shape(tf.numpy_function(order, [epoch], tf.int64, stateful=False),
                                  [kept])
        return tf.data.Dataset.from_tensor_slices((tf.fill([kept], epoch), indices))

    return tf.data.Dataset.range(first, last).flat_map(one_epoch)


def train_dataset(images, masks, batch_size, augment=None, seed=0, epoch=0, crop=None,
                  value_range=(0.0, 1.0), epochs=1, paste=(), size=None):
    """Shuffled, augmented training batches of `epochs` epochs from `epoch` on.

    One dataset for a whole run keeps one copy of the training set in TensorFlow and lets
    the next epoch's first batches be prepared while the last one is validated (a dataset per
    epoch copied the set again each time: 2-5 s an epoch on CamVid at 360x480). Epoch `e`'s
    batches are the same whether it is read alone or after others.

    Args:
        images: float32 [N, H, W, C] in memory.
        masks: uint8 [N, H, W] training labels, or [N, H, W, classes + 1] label shares.
        batch_size: the global batch size; each epoch's last partial batch is dropped.
        augment: an `AugmentConfig` (None: no augmentation).
        seed: run seed. epoch: the first epoch; together they fix order and augmentation.
        crop: (h, w) random-crop size, or None for the full image.
        value_range: where brightness/contrast jitter clips pixels (None: no clipping).
        epochs: how many epochs the dataset holds.
        paste: classes to paste from sample to sample (`paste.paste_classes`).
        size: (h, w) of whole-image batches when the images are kept larger for the
            scale-crop to zoom into (`augment.zoom_source`); None: the images' own size.

    Returns:
        A `tf.data.Dataset` of (float32 [B, h, w, C], int32 [B, h, w]), or with shares
        float32 [B, h, w, classes + 1] in [0, 1].
    """
    import tensorflow as tf

    augment = augment or AugmentConfig(hflip=False)
    out_size = tuple(crop or size or images.shape[1:3])
    needs_map = augment.enabled or out_size != tuple(images.shape[1:3])
    samples = epoch_samples(len(images), batch_size, seed, epoch, epoch + epochs)

    def take(sample_epoch, index):
        image = tf.gather(images_t, index)
        mask = tf.gather(masks_t, index)
        if needs_map:
            image, mask = augment_sample(image, mask, seed, sample_epoch, index, augment,
                                         out_size, value_range, whole=crop is None)
        if shares:
            return image, tf.cast(mask, tf.float32) / SHARE_SCALE
        return image, tf.cast(mask, tf.int32)

    shares = masks.ndim == 4
    if shares and paste:
        raise ValueError("class paste needs labels, not label shares")
    images_t = tf.constant(images)
    masks_t = tf.constant(masks)
    dataset = samples.map(take, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = paste_classes(dataset.batch(batch_size, drop_remainder=True), paste)
    return dataset.prefetch(tf.data.AUTOTUNE)


def eval_dataset(images, masks, batch_size):
    """Validation batches in order, the remainder kept."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((images, masks.astype(np.int32)))
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


__all__ = [
    "AugmentConfig", "IGNORE_LABEL", "augment_sample", "class_pixel_counts", "epoch_order",
    "epoch_samples", "eval_dataset", "load_arrays", "resize_pair", "shrink_image",
    "train_dataset",
]
