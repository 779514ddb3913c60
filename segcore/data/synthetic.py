"""A deterministic demo dataset: circles, squares and triangles on textured noise."""

from pathlib import Path

import cv2
import numpy as np

from segcore.data.classes import ClassMap

DEMO_CLASSES = ClassMap(
    names=["background", "circle", "square", "triangle"],
    colors=[(40, 40, 40), (230, 80, 60), (60, 170, 230), (250, 200, 40)],
)


def _texture(rng, size):
    """Smooth noise plus fine grain, so shapes are not separable by one threshold."""
    height, width = size
    coarse = rng.random((height // 8 + 1, width // 8 + 1, 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0.0, 0.08, (height, width, 3)).astype(np.float32)
    return np.clip(0.25 + 0.4 * smooth + grain, 0.0, 1.0)


def _draw_shape(image, mask, rng, label):
    height, width = mask.shape
    radius = int(rng.integers(max(4, min(height, width) // 12), max(6, min(height, width) // 5)))
    cy, cx = int(rng.integers(radius, height - radius)), int(rng.integers(radius, width - radius))
    color = tuple(float(c) for c in rng.uniform(0.45, 1.0, 3) * np.eye(3)[label - 1] + 0.15)
    shape_mask = np.zeros_like(mask)
    if label == 1:
        cv2.circle(shape_mask, (cx, cy), radius, 1, -1)
    elif label == 2:
        cv2.rectangle(shape_mask, (cx - radius, cy - radius), (cx + radius, cy + radius), 1, -1)
    else:
        points = np.array([[cx, cy - radius], [cx - radius, cy + radius], [cx + radius, cy + radius]])
        cv2.fillPoly(shape_mask, [points.astype(np.int32)], 1)
    inside = shape_mask.astype(bool)
    image[inside] = 0.5 * image[inside] + 0.5 * np.array(color, dtype=np.float32)
    mask[inside] = label


def make_synthetic(dest, count=48, size=(128, 128), seed=0):
    """Writes the demo dataset: `dest/images/*.png`, `dest/masks/*.png`, `dest/classes.json`.

    Args:
        dest: target folder (created).
        count: number of image/mask pairs.
        size: (H, W) of each image.
        seed: the same seed always gives the same bytes.

    Returns:
        The dataset folder as a `Path`.
    """
    dest = Path(dest)
    (dest / "images").mkdir(parents=True, exist_ok=True)
    (dest / "masks").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        image = _texture(rng, size)
        mask = np.zeros(size, dtype=np.uint8)
        for _ in range(int(rng.integers(2, 6))):
            _draw_shape(image, mask, rng, int(rng.integers(1, 4)))
        stem = f"demo_{index:03d}"
        pixels = (image * 255.0 + 0.5).astype(np.uint8)
        cv2.imwrite(str(dest / "images" / f"{stem}.png"), pixels[..., ::-1])
        cv2.imwrite(str(dest / "masks" / f"{stem}.png"), mask)
    DEMO_CLASSES.save(dest / "classes.json")
    return dest
