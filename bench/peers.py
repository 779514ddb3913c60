"""The peer: a plain Keras U-Net written as the keras.io example writes it, no segcore code.

The model is the Xception-style U-Net of keras.io's "Image segmentation with a U-Net-like
architecture" (separable convs, residual adds, softmax output, sparse categorical cross-entropy,
Adam 1e-4, `model.fit`). It trains for the same time budget as segcore's quality run and is
scored by the same full-resolution scorer, so the comparison is of training, not of scoring.
The plain peer knows nothing of void: a void value is trained as one more class, as a user of
the example would do, and ignored only when scoring.
"""

import re
import time
from pathlib import Path

import cv2
import numpy as np

from bench.scoring import score_predictions


def _natural_key(path):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.stem)]


def _pairs(folder):
    images = sorted((folder / "images").iterdir(), key=_natural_key)
    return [(image, folder / "masks" / (image.stem + ".png")) for image in images]


def split_pairs(data, val_fraction):
    """Returns (train, val) pairs: split folders when present, else a contiguous split."""
    data = Path(data)
    if (data / "val").is_dir():
        return _pairs(data / "train"), _pairs(data / "val")
    pairs = _pairs(data / "train" if (data / "train").is_dir() else data)
    n_val = max(1, round(len(pairs) * val_fraction))
    return pairs[:-n_val], pairs[-n_val:]


def _read_pair(image_path, mask_path):
    image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)[..., ::-1]
    mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
    if set(np.unique(mask)) <= {0, 255}:
        mask = (mask // 255).astype(np.uint8)
    return image, mask


def get_model(img_size, num_classes):
    """keras.io's U-Net-like model, as published."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=img_size + (3,))
    x = layers.Conv2D(32, 3, strides=2, padding="same")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    previous_block_activation = x
    for filters in [64, 128, 256]:
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        residual = layers.Conv2D(filters, 1, strides=2, padding="same")(previous_block_activation)
        x = layers.add([x, residual])
        previous_block_activation = x
    for filters in [256, 128, 64, 32]:
        x = layers.Activation("relu")(x)
        x = layers.Conv2DTranspose(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.Conv2DTranspose(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.UpSampling2D(2)(x)
        residual = layers.UpSampling2D(2)(previous_block_activation)
        residual = layers.Conv2D(filters, 1, padding="same")(residual)
        x = layers.add([x, residual])
        previous_block_activation = x
    outputs = layers.Conv2D(num_classes, 3, activation="softmax", padding="same")(x)
    return keras.Model(inputs, outputs)


def run_peer(data, minutes, img_size, ignore_index=None, val_fraction=1 / 6, batch_size=8, seed=0):
    """Trains the keras.io U-Net for `minutes` and scores it on the validation pairs.

    Returns:
        A dict with mean_iou, pixel_accuracy, per_class_iou, epochs and train_seconds.
    """
    import keras

    keras.utils.set_random_seed(seed)
    train_pairs, val_pairs = split_pairs(data, val_fraction)
    height, width = img_size
    train = [_read_pair(*pair) for pair in train_pairs]
    x = np.stack([cv2.resize(i, (width, height), interpolation=cv2.INTER_AREA) for i, _ in train])
    y = np.stack([cv2.resize(m, (width, height), interpolation=cv2.INTER_NEAREST) for _, m in train])
    x = x.astype("float32") / 255.0
    num_classes = int(y.max()) + 1
    if ignore_index is not None:
        num_classes = max(num_classes, ignore_index + 1)

    model = get_model((height, width), num_classes)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy")

    class TimeBudget(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()
            self.epochs = 0

        def on_epoch_end(self, epoch, logs=None):
            self.epochs = epoch + 1
            if time.perf_counter() - self.start > minutes * 60:
                self.model.stop_training = True

    budget = TimeBudget()
    start = time.perf_counter()
    model.fit(x, y[..., None], batch_size=batch_size, epochs=10_000, callbacks=[budget], verbose=0)
    train_seconds = time.perf_counter() - start

    # Void is never a right answer, so the peer's argmax runs over the scored classes only.
    scored_classes = num_classes if ignore_index is None else ignore_index
    predictions, truths = [], []
    for image_path, mask_path in val_pairs:
        image, mask = _read_pair(image_path, mask_path)
        small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)[None] / 255.0
        probs = model.predict(small.astype("float32"), verbose=0)[0]
        probs = cv2.resize(probs, (mask.shape[1], mask.shape[0]), interpolation=cv2.INTER_LINEAR)
        if probs.ndim == 2:
            probs = probs[..., None]
        predictions.append(np.argmax(probs[..., :scored_classes], axis=-1))
        truths.append(mask)
    result = score_predictions(truths, predictions, scored_classes, ignore_index)
    result.update(epochs=budget.epochs, train_seconds=round(train_seconds, 1))
    return result
