"""Rare-class paste: a copy-paste augmentation by class, over whole training batches.

The classes that hold less than a share of the training pixels (`rare_classes`) are copied,
image and label, from each sample of a batch onto the next one (`paste_classes`): the
copy-paste of Ghiasi et al. (2021), chosen by class as ClassMix does. `--paste-rare SHARE`.
"""

import numpy as np


def rare_classes(class_counts, share):
    """The classes that hold some, but less than `share`, of the labelled training pixels.

    Example: counts [900, 60, 40, 0] with share 0.05 -> (2,); an absent class is not pasted.
    """
    counts = np.asarray(class_counts, dtype=np.float64)
    total = counts.sum()
    if share <= 0 or total <= 0:
        return ()
    return tuple(int(c) for c in np.flatnonzero((counts > 0) & (counts < share * total)))


def paste_classes(dataset, classes):
    """Pastes the pixels of `classes` from each sample of a batch onto the next one.

    Sample i of a batch gets image and label of sample i - 1 (the last sample's go to the
    first) wherever those belong to `classes`, on top of its own: rare objects show up twice
    as often, on other backgrounds. The partner is the batch's order, itself a pure function of
    (seed, epoch), so a resumed epoch replays the same pastes; a batch of one is left as it is.

    Args:
        dataset: batches (float [B, H, W, C], int32 [B, H, W]) of one size.
        classes: class indices to paste; empty: the dataset as it is.
    """
    import tensorflow as tf

    if not classes:
        return dataset
    wanted = tf.constant(sorted(classes), tf.int32)

    def paste(images, masks):
        donor_images, donor_masks = tf.roll(images, 1, axis=0), tf.roll(masks, 1, axis=0)
        pasted = tf.reduce_any(donor_masks[..., None] == wanted, axis=-1)
        return (tf.where(pasted[..., None], donor_images, images),
                tf.where(pasted, donor_masks, masks))

    return dataset.map(paste, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


__all__ = ["paste_classes", "rare_classes"]
