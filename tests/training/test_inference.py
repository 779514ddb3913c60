import numpy as np

from segcore.data.classes import ClassMap
from segcore.inference import colorize, error_map, overlay, predict_logits, predict_tiled
from segcore.models import build_model


def test_tiles_agree_with_whole_image_prediction_and_odd_sizes_work():
    model = build_model("unet", (None, None, 3), 3, depth=2, base_filters=8, batch_norm=False)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (100, 70, 3), dtype=np.uint8)
    whole = np.argmax(predict_logits(model, image, 4), axis=-1)
    tiled = predict_tiled(model, image, (32, 32), 4, 3, overlap=0.5)
    assert tiled.shape == (100, 70)
    # Tiles see less context at their borders: most labels agree, never all differ.
    assert (tiled == whole).mean() > 0.9


def test_pictures():
    classes = ClassMap(["a", "b"], colors=[(255, 0, 0), (0, 0, 255)])
    labels = np.array([[0, 1], [255, 0]], np.uint8)
    assert colorize(labels, classes)[0, 1].tolist() == [0, 0, 255]
    image = np.zeros((2, 2, 3), np.uint8)
    assert overlay(image, labels, classes, 0.0).max() == 0
    assert overlay(image, labels, classes, 1.0)[0, 0].tolist() == [255, 0, 0]
    errors = error_map(np.array([[0, 0], [0, 0]]), labels)
    assert errors[0, 1].tolist() == [230, 30, 30] and errors[1, 0].tolist() == [0, 0, 0]
