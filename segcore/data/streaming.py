"""Training data that fits in memory or not: decoded samples held in RAM or streamed from disk.

Both paths hand the same decoded arrays to the same tf.data code (`source_dataset`), so for
one seed they give the same batches; only where a decoded sample lives differs:

- `MemorySource`: every sample decoded once into memory (what fits the `--cache-memory` budget).
- `DiskSource`: samples decoded on first use, inside tf.data's parallel map, into an on-disk
  cache of one `.npy` file per image and per mask, read back memory-mapped (only a patch's rows
  are touched). The cache folder is keyed by the dataset's fingerprint and the preprocessing,
  files are written atomically, and a damaged file is decoded again (with a warning), never a
  crash. Peak memory then depends on the batch and prefetch depth, not on the dataset size.

Samples are stored compactly: 8-bit images as uint8 (a quarter of float32) when that is
lossless, else float32; `expand` gives float32 back, bit for bit what the decoder gave.
"""

import hashlib
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segcore.data.augment import AugmentConfig, augment_sample
from segcore.data.masks import raw_to_labels, read_pair
from segcore.data.paste import paste_classes
from segcore.data.patches import rescale_pair, sample_patch
from segcore.data.pipeline import epoch_samples, resize_pair
from segcore.errors import ConfigError, SegcoreError

log = logging.getLogger("segcore.data")

CACHE_VERSION = 1
# Without a budget, decoded data may take this share of the memory available at start: the
# rest is for TensorFlow, the model, the batches and the other programs of the machine.
AUTO_SHARE = 0.25
_UNITS = {"": 2**20, "k": 2**10, "kb": 2**10, "m": 2**20, "mb": 2**20, "g": 2**30, "gb": 2**30}


def parse_memory(text):
    """Parses a `--cache-memory` value: "auto", or a size in MB or GB ("512MB", "1.5GB", "200").

    Returns:
        Bytes as an int, or None for "auto".

    Raises:
        ConfigError: not a size, or negative.
    """
    value = str(text).strip().lower()
    if value in ("", "auto"):
        return None
    match = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)\s*([kmg]?b?)", value)
    if not match:
        raise ConfigError(f"--cache-memory {text!r} is not a size such as 512MB, 2GB or auto.")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def available_memory():
    """Bytes of memory available now (`MemAvailable` of /proc/meminfo, else physical pages)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 2**31  # a platform with neither: assume a small machine


def memory_budget(setting):
    """The bytes decoded training data may hold in memory for a `--cache-memory` setting."""
    parsed = parse_memory(setting)
    return int(available_memory() * AUTO_SHARE) if parsed is None else parsed


@dataclass(frozen=True)
class Preprocess:
    """How a sample is decoded for training: resized whole to `size`, or rescaled by `scale`.

    `spec` is the dataset's `channels.InputSpec` (how its pixels are read; None: as they are);
    `labels` how masks shrink (`shrink.LABEL_RESIZE`).
    """

    size: tuple | None = None
    scale: float = 1.0
    spec: object = None
    labels: str = "nearest"

    def key(self):
        """What the decoded arrays depend on (the spec's statistics are applied later)."""
        spec = self.spec.to_json() if self.spec is not None else {}
        key = {"size": list(self.size) if self.size else None, "scale": self.scale,
               "read": {k: spec.get(k) for k in ("mode", "channels", "dtype")}}
        if self.labels != "nearest":  # caches decoded before the option keep their key
            key["labels"] = self.labels
        return key

    def shape_of(self, native):
        """The decoded (H, W) of an image of native (H, W)."""
        if self.size:
            return tuple(self.size)
        return tuple(max(1, round(side * self.scale)) for side in native)


def compact(image):
    """uint8 when the float32 image holds exactly k/255 values (an 8-bit source), else itself."""
    image = np.asarray(image)
    if image.dtype != np.float32:
        return image
    quantised = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    return quantised if np.array_equal(expand(quantised), image) else image


def expand(image):
    """float32 pixels of a compact image: uint8 as the decoder scales 8-bit data (k / 255)."""
    image = np.asarray(image)
    return image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)


def decode_sample(sample, class_map, prep):
    """Decodes one sample as training reads it: (compact image (H, W, C), uint8 labels (H, W))."""
    image, raw = read_pair(sample.image, sample.mask, prep.spec)
    mask = raw_to_labels(raw, class_map, str(getattr(sample.mask, "path", sample.mask)))
    if image.ndim == 2:
        image = image[..., None]
    if prep.size:
        image, mask = resize_pair(image, mask, prep.size, prep.labels)
        image = image[..., None] if image.ndim == 2 else image
    else:
        image, mask = rescale_pair(image, mask, prep.scale, prep.labels)
    return compact(image), np.ascontiguousarray(mask, dtype=np.uint8)


def estimate_bytes(sizes, prep, bytes_per_pixel):
    """Memory decoded samples would take, from their native sizes (nothing is decoded).

    Args:
        sizes: native (H, W) of each image (from its header).
        prep: the `Preprocess`.
        bytes_per_pixel: of one decoded image pixel and its label.
    """
    total = 0
    for native in sizes:
        height, width = prep.shape_of(tuple(native)[:2])
        total += height * width * bytes_per_pixel
    return total


class MemorySource:
    """Decoded samples held in memory."""

    streaming = False
    failure = None  # a sample that failed to decode inside tf.data (never, once all decoded)

    def __init__(self, samples, class_map, prep):
        self.pairs = [decode_sample(s, class_map, prep) for s in samples]
        self.channels = self.pairs[0][0].shape[-1] if self.pairs else 0
        self.prep = prep

    def __len__(self):
        return len(self.pairs)

    def get(self, index):
        return self.pairs[index]


class DiskSource:
    """Samples decoded on first use into an on-disk cache and read back memory-mapped.

    Args:
        samples: `Sample`s.
        class_map: the dataset's class map.
        prep: the `Preprocess`.
        folder: `<workspace>/cache/decoded`; a subfolder keyed by `fingerprint` and `prep`
            holds the files.
        fingerprint: the dataset's fingerprint (changes when its files do).
    """

    streaming = True
    failure = None  # the `SegcoreError` of a sample that failed to decode inside tf.data

    def __init__(self, samples, class_map, prep, folder, fingerprint):
        self.samples = list(samples)
        self.class_map = class_map
        self.prep = prep
        key = json.dumps({"v": CACHE_VERSION, "data": fingerprint, "prep": prep.key(),
                          "classes": class_map.to_json()}, sort_keys=True)
        self.folder = Path(folder) / hashlib.sha256(key.encode()).hexdigest()[:16]
        self.writable = True
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            self._no_cache(error)
        image, _ = self.get(0) if self.samples else (np.zeros((1, 1, 0)), None)
        self.channels = image.shape[-1]

    def __len__(self):
        return len(self.samples)

    def paths(self, index):
        """The cached (image, mask) files of sample `index`."""
        name = hashlib.sha256(str(self.samples[index].image).encode()).hexdigest()[:20]
        return self.folder / f"{name}.image.npy", self.folder / f"{name}.mask.npy"

    def _no_cache(self, error):
        if self.writable:
            log.warning("cannot write the decoded cache in %s (%s); decoding every time",
                        self.folder, error)
        self.writable = False

    def get(self, index):
        """Sample `index` as (image, mask): memory maps of its cache files, decoded on a miss."""
        image_path, mask_path = self.paths(index)
        try:
            image = np.load(image_path, mmap_mode="r", allow_pickle=False)
            mask = np.load(mask_path, mmap_mode="r", allow_pickle=False)
            if image.ndim == 3 and mask.dtype == np.uint8 and mask.shape == image.shape[:2]:
                return image, mask
            log.warning("%s does not match its mask; decoding %s again",
                        image_path, self.samples[index].image)
        except FileNotFoundError:
            pass
        except (ValueError, OSError, EOFError) as error:
            # A truncated or overwritten cache file: the source image is the truth.
            log.warning("damaged cache file for %s (%s); decoding it again",
                        self.samples[index].image, error)
        image, mask = decode_sample(self.samples[index], self.class_map, self.prep)
        if self.writable:
            try:
                _save_atomic(mask_path, mask)
                _save_atomic(image_path, image)
            except OSError as error:
                self._no_cache(error)
        return image, mask


def _save_atomic(path, array):
    """np.save through a temp file and a rename: a reader sees the old file or the whole new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, array, allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def source_dataset(source, batch_size, augment=None, seed=0, epoch=0, out_size=None,
                   patch=None, oversample=0.0, value_range=(0.0, 1.0), epochs=1, paste=(),
                   size=None):
    """Shuffled, augmented training batches of `epochs` epochs from a `MemorySource`/`DiskSource`.

    The sample order and the augmentation seeds are those of `pipeline.train_dataset`, so with
    whole images resized in memory both give the same batches.

    Args:
        source: the training samples.
        batch_size: the global batch size; each epoch's last partial batch is dropped.
        augment: an `AugmentConfig` (None: no augmentation).
        seed, epoch: fix order, patches and augmentation (`epoch`: the first one).
        out_size: (h, w) of the batches (a random crop of resized images), default their size.
        patch: (h, w) to cut a random patch from each native-size sample (see `patches`).
        oversample: share of patches centred on a class present.
        value_range: where brightness/contrast jitter clips pixels (None: no clipping).
        epochs: how many epochs the dataset holds, one after another.
        paste: classes to paste from sample to sample (`paste.paste_classes`).
        size: (h, w) of whole-image batches when the samples are kept larger for the
            scale-crop to zoom into (`augment.zoom_source`); None: their own size.

    Returns:
        A `tf.data.Dataset` of (float32 [B, h, w, C], int32 [B, h, w]).
    """
    import tensorflow as tf

    augment = augment or AugmentConfig(hflip=False)
    in_size = tuple(patch) if patch else tuple(source.prep.size)
    whole = out_size is None and patch is None
    out_size = tuple(out_size or (None if patch else size) or in_size)
    needs_map = augment.enabled or out_size != in_size

    def fetch(sample_epoch, index):
        try:
            image, mask = source.get(int(index))
        except SegcoreError as error:
            # tf.data rewraps the exception as a TensorFlow error; the trainer reports this one.
            source.failure = error
            raise
        if patch:
            image, mask = sample_patch(image, mask, patch, seed, sample_epoch, index, oversample)
        return expand(image), np.asarray(mask, dtype=np.uint8)

    def take(sample_epoch, index):
        # Decoding (a cache miss) and reading run in tf.data's parallel map threads.
        image, mask = tf.numpy_function(fetch, [sample_epoch, index], (tf.float32, tf.uint8),
                                        stateful=False)
        image = tf.ensure_shape(image, (*in_size, source.channels))
        mask = tf.ensure_shape(mask, in_size)
        if needs_map:
            image, mask = augment_sample(image, mask, seed, sample_epoch, index, augment,
                                         out_size, value_range, whole)
        return image, tf.cast(mask, tf.int32)

    samples = epoch_samples(len(source), batch_size, seed, epoch, epoch + epochs)
    dataset = samples.map(take, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = paste_classes(dataset.batch(batch_size, drop_remainder=True), paste)
    return dataset.prefetch(tf.data.AUTOTUNE)


__all__ = ["DiskSource", "MemorySource", "Preprocess", "available_memory", "compact",
           "decode_sample", "estimate_bytes", "expand", "memory_budget", "parse_memory",
           "source_dataset"]
