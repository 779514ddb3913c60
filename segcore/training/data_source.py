"""A run's data: its dataset, how images are read, and where the decoded samples live.

Three ways, chosen from the config and the memory budget (`--cache-memory`):

- whole images resized to `--img-size`, decoded into memory (the fast path when it fits);
- `--patch`: images at their native size (times `--scale`), decoded into memory, a random
  patch cut per sample and epoch; validation predicts whole images in tiles of the patch;
- streaming (either of the above when the decoded training and validation images would
  exceed the budget): samples decoded on first use inside tf.data into an on-disk cache under
  `<workspace>/cache/decoded/`, read back memory-mapped; validation reads one image at a time.

All three draw order, patches and augmentation from (seed, epoch, index), so a resume replays an
epoch exactly, and the streaming path gives the in-memory path's batches.
"""

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from segcore.data.augment import named_classes, zoom_source
from segcore.data.channels import BANDS, dataset_input, image_info
from segcore.data.dataset import load_dataset
from segcore.data.paste import rare_classes
from segcore.data.pipeline import class_pixel_counts, load_arrays, train_dataset
from segcore.data.streaming import (
    DiskSource,
    MemorySource,
    Preprocess,
    estimate_bytes,
    expand,
    memory_budget,
    source_dataset,
)
from segcore.errors import DataError

log = logging.getLogger("segcore.train")


def cache_folder(run_dir):
    """`<workspace>/cache/decoded` of a run folder `<workspace>/runs/<id>` (else $SEGCORE_HOME's)."""
    if run_dir is not None:
        return Path(run_dir).resolve().parent.parent / "cache" / "decoded"
    from segcore.workspace import workspace_root

    return workspace_root() / "cache" / "decoded"


class RunData:
    """The training and validation data of one run.

    Attributes:
        dataset, class_map: the dataset read by its format's reader.
        input_spec: how images are read, with the training split's channel statistics.
        streaming: True when samples stream from the on-disk cache.
        tiled: True when validation predicts whole images in tiles (patches or streaming).
        train_count, val_count: images per split.
        needed_bytes, budget_bytes: the decoded size the choice was made on, and the budget.
        input_scale: (y, x) factors from native images to the model's input.
        class_counts: int64 training pixels per class (computed when class weights or the
            rare-class paste need them).
        paste: the classes `--paste-rare` pastes from sample to sample (empty: none).
    """

    def __init__(self, config, cache_dir):
        """Reads the dataset and decodes (or prepares to stream) its samples.

        Raises:
            DataError: no validation images, fewer training images than a batch, or a file
                the readers refuse.
        """
        self.config = config
        dataset = load_dataset(config.data, classes=config.classes,
                               ignore_index=config.ignore_index, split=config.split,
                               val_fraction=config.val_fraction, seed=config.seed)
        self.dataset, self.class_map = dataset, dataset.class_map
        train, val = dataset.samples("train"), dataset.samples("val")
        if not val:
            raise DataError(f"{config.data}: no validation images; lower --val-fraction's "
                            "rounding or add a val/ folder.")
        if len(train) < config.batch_size:
            raise DataError(f"{config.data}: {len(train)} training images are fewer than the "
                            f"batch size {config.batch_size}; lower --batch-size.")
        self.train_count, self.val_count = len(train), len(val)
        # The channel rule looks at every image the run reads (segcore.data.channels).
        infos = [image_info(s.image) for s in (*train, *val)]
        spec = dataset_input(infos)
        patch = config.patch
        # Whole training images are kept larger when the scale-crop zooms into them, so
        # its windows bring real pixels; validation's stay at the training size.
        self.train_size = None if patch else (
            tuple(config.img_size) if config.crop else
            zoom_source(config.img_size, (min(i.height for i in infos),
                                          min(i.width for i in infos)),
                        config.augment.scale_min))
        labels = config.label_resize
        # Validation scores labels: the majority of each footprint where training takes shares.
        val_labels = "majority" if labels == "shares" else labels
        prep = (Preprocess(scale=config.scale, spec=spec, labels=val_labels) if patch
                else Preprocess(size=tuple(config.img_size), spec=spec, labels=val_labels))
        train_prep = prep if patch else Preprocess(size=self.train_size, spec=spec, labels=labels)
        # Patches keep 8-bit images as uint8 (see streaming.compact); whole resized images
        # are float32 stacks.
        depth = 1 if (patch and spec.dtype == "uint8") else 4
        pixel_bytes = depth * spec.channels + 1
        shares = labels == "shares"  # a byte per class and void, not one label
        train_bytes = pixel_bytes + (self.class_map.num_classes if shares else 0)
        self.needed_bytes = (
            estimate_bytes([(i.height, i.width) for i in infos[:len(train)]], train_prep,
                           train_bytes)
            + estimate_bytes([(i.height, i.width) for i in infos[len(train):]], prep,
                             pixel_bytes))
        self.budget_bytes = memory_budget(config.cache_memory)
        self.streaming = self.needed_bytes > self.budget_bytes
        self.tiled = bool(patch) or self.streaming
        self.tile = tuple(patch or config.img_size)
        native = (infos[0].height, infos[0].width)
        # Per axis: CamVid's 360x480 trained at 176x240 is not scaled alike in both.
        self.input_scale = ([config.scale, config.scale] if patch else
                            [config.img_size[0] / native[0], config.img_size[1] / native[1]])
        weights_needed = config.class_weights != "none" or config.augment.paste_rare > 0
        self.class_counts = None
        if not self.tiled:
            self.train_images, self.train_masks = load_arrays(train, self.class_map,
                                                              self.train_size, spec, labels)
            self.val_images, self.val_masks = load_arrays(val, self.class_map, config.img_size,
                                                          spec, val_labels)
            self.input_spec = spec.with_stats(self.train_images)  # the training split's only
            self.class_counts = class_pixel_counts(self.train_masks, self.class_map.num_classes)
            self._choose_paste()
            return
        if self.streaming and shares:
            raise DataError(
                f"{config.data}: --label-resize shares keeps the training masks in memory, a "
                f"byte per class a pixel ({self.needed_bytes / 2**20:.0f} MB with the images), "
                f"over the {self.budget_bytes / 2**20:.0f} MB budget; raise --cache-memory, "
                "shrink --img-size, or use --label-resize majority.")
        if self.streaming:
            log.info("decoded data would take %.0f MB, over the %.0f MB budget: streaming from %s",
                     self.needed_bytes / 2**20, self.budget_bytes / 2**20, cache_dir)
            make = lambda samples, prep: DiskSource(samples, self.class_map, prep,  # noqa: E731
                                                    cache_dir, dataset.fingerprint())
        else:
            make = lambda samples, prep: MemorySource(samples, self.class_map, prep)  # noqa: E731
        self.train_source, self.val_source = make(train, train_prep), make(val, prep)
        # A streamed RGB run without class weights needs no pass over its data before training.
        if not self.streaming or spec.mode == BANDS or weights_needed:
            stats, self.class_counts = _scan(self.train_source, self.class_map.num_classes)
            self.input_spec = spec.with_stats([stats]) if stats is not None else spec
        else:
            self.input_spec = spec
        self._choose_paste()

    def _choose_paste(self):
        """The classes pasted from sample to sample: those under `--paste-rare`'s share of
        the training pixels and those `--paste` names (a name the class map lacks is a
        ConfigError naming it)."""
        augment = self.config.augment
        named = named_classes(augment.paste, self.class_map.names)
        rare = (rare_classes(self.class_counts, augment.paste_rare)
                if self.class_counts is not None else ())
        self.paste = tuple(sorted(set(rare) | set(named)))
        if augment.paste_rare > 0:
            log.info("rare-class paste: classes under %.3g of the training pixels: %s",
                     augment.paste_rare, ", ".join(self.class_map.names[c] for c in rare)
                     or "none")
        if named:
            log.info("class paste: %s", ", ".join(augment.paste))

    def failure(self):
        """The `SegcoreError` of a sample that failed to decode inside tf.data, or None.

        A streamed dataset decodes an image first when training reaches it: a corrupt file
        then stops training inside tf.data, which rewraps the error; this is the original.
        """
        return getattr(getattr(self, "train_source", None), "failure", None)

    def batches(self, first_epoch):
        """Training batches of every epoch from `first_epoch` to the config's last, in one
        dataset (see `pipeline.train_dataset`, `streaming.source_dataset`)."""
        config = self.config
        epochs = max(config.epochs - first_epoch, 1)
        if not self.tiled:
            return train_dataset(self.train_images, self.train_masks, config.batch_size,
                                 config.augment, config.seed, first_epoch, config.crop,
                                 self.input_spec.value_range, epochs, self.paste,
                                 size=config.img_size)
        return source_dataset(self.train_source, config.batch_size, config.augment, config.seed,
                              first_epoch, config.crop, config.patch, config.oversample_rare,
                              self.input_spec.value_range, epochs, self.paste,
                              size=config.img_size)


class BatchStream:
    """A run's training batches through one distributed iterator, epoch after epoch.

    `epoch(e, skip)` yields epoch `e`'s batches from step `skip` on. When the last epoch was
    read to its end the same iterator goes on, so the next epoch's first batches are made
    while the last one is validated; otherwise (the first epoch of a process, after a stop)
    a new one starts at `e`, `skip`.

    Args:
        data: the `RunData`. strategy: the run's `tf.distribute` strategy.
        steps_per_epoch: batches in an epoch.
    """

    def __init__(self, data, strategy, steps_per_epoch):
        self.data, self.strategy, self.steps = data, strategy, steps_per_epoch
        self.at, self.iterator = None, None  # the (epoch, step) the iterator stands at

    def epoch(self, epoch, skip):
        import tensorflow as tf

        if self.at != (epoch, skip):
            data = self.data.batches(epoch)
            options = tf.data.Options()
            options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
            data = data.with_options(options).skip(skip)
            self.iterator = iter(self.strategy.experimental_distribute_dataset(data))
        self.at = None  # inside an epoch until it is read to its end
        for _ in range(self.steps - skip):
            yield next(self.iterator)
        self.at = (epoch + 1, 0)


def recorded_input(run_dir, spec):
    """The input description the run trained with (its config.json's), for a resume.

    The channel statistics stay those the weights were trained with, even when the training
    split's would now come out otherwise; a dataset whose images now read another way (RGB
    against bands, or another channel count) is refused.

    Raises:
        DataError: the images no longer read as the run's. RunError: a damaged config.json.
    """
    from segcore.data.channels import run_input_spec
    from segcore.runs import read_config

    recorded = run_input_spec(read_config(run_dir), run_dir)
    if (recorded.mode, recorded.channels) != (spec.mode, spec.channels):
        raise DataError(
            f"{Path(run_dir) / 'config.json'}: the run trained on {recorded.describe()}, but the "
            f"dataset's images now read as {spec.describe()}; resume with the images it "
            "trained on, or start a new run.")
    return recorded


class _Moments:
    """Per-channel sums of many images, shaped as one image for `channels.channel_stats`."""

    def __init__(self):
        self.count, self.total, self.squares = 0, None, None

    def add(self, image):
        flat = expand(image).astype(np.float64).reshape(-1, image.shape[-1])
        total, squares = flat.sum(axis=0), (flat ** 2).sum(axis=0)
        self.total = total if self.total is None else self.total + total
        self.squares = squares if self.squares is None else self.squares + squares
        self.count += len(flat)

    def as_image(self):
        """A 2-pixel image with the same mean and variance per channel as every image added."""
        mean = self.total / self.count
        std = np.sqrt(np.maximum(self.squares / self.count - mean ** 2, 0.0))
        return np.stack([mean - std, mean + std])[None]


def _scan(source, num_classes):
    """One pass over a source: channel moments (as an image) and class pixel counts.

    Samples are read by a few threads (decoding releases the GIL), so a streamed dataset's
    cache fills in parallel; only a few samples are in memory at a time.
    """
    moments, counts = _Moments(), np.zeros(256, dtype=np.int64)
    workers = max(2, os.cpu_count() or 2)
    with ThreadPoolExecutor(workers) as pool:
        for start in range(0, len(source), 2 * workers):
            indices = range(start, min(len(source), start + 2 * workers))
            for image, mask in pool.map(source.get, indices):
                moments.add(np.asarray(image))
                counts += np.bincount(np.asarray(mask).ravel(), minlength=256)
    stats = moments.as_image() if moments.count else None
    return stats, counts[:num_classes]
