import numpy as np

from helpers import batch_size_model
from segcore.data.classes import ClassMap
from segcore.inference import Traced
from segcore.models import build_model
from segcore.pictures import colorize, error_map, overlay
from segcore.tiling import _window, blended_logits, predict_logits, predict_tiled
from segcore.tta import FlipAverage


def test_tiles_agree_with_whole_image_prediction_and_odd_sizes_work():
    model = build_model("unet", (None, None, 3), 3, depth=2, base_filters=8, batch_norm=False)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (100, 70, 3), dtype=np.uint8)
    whole = np.argmax(predict_logits(model, image, 4), axis=-1)
    tiled = predict_tiled(model, image, (32, 32), 4, 3, overlap=0.5)
    assert tiled.shape == (100, 70)
    # Tiles see less context at their borders: most labels agree, never all differ.
    assert (tiled == whole).mean() > 0.9


def test_blended_bands_cover_the_image_once_and_equal_a_whole_image_blend():
    model = build_model("unet", (None, None, 3), 3, depth=2, base_filters=8, batch_norm=False)
    image = np.random.default_rng(1).integers(0, 255, (75, 50, 3), dtype=np.uint8)
    tiles = []
    bands = list(blended_logits(model, image, (32, 32), 4, 3,
                                on_tile=lambda *tile: tiles.append(tile)))
    tops = [top for top, _ in bands]
    assert tops[0] == 0 and all(b > a for a, b in zip(tops, tops[1:]))
    assert [top + len(band) for top, band in bands][:-1] == tops[1:]
    logits = np.concatenate([band for _, band in bands])
    assert logits.shape == (75, 50, 3)
    # The same blend built on the whole image from the tiles the callback saw.
    acc, weight = np.zeros((75, 50, 3), np.float32), np.zeros((75, 50), np.float32)
    for top, left, tile in tiles:
        window = _window(32)[:, None] * _window(32)[None, :]
        acc[top:top + 32, left:left + 32] += tile * window[..., None]
        weight[top:top + 32, left:left + 32] += window
    np.testing.assert_allclose(logits, acc / weight[..., None], atol=1e-5)
    np.testing.assert_array_equal(predict_tiled(model, image, (32, 32), 4, 3),
                                  np.argmax(logits, axis=-1))


def test_pictures():
    classes = ClassMap(["a", "b"], colors=[(255, 0, 0), (0, 0, 255)])
    labels = np.array([[0, 1], [255, 0]], np.uint8)
    assert colorize(labels, classes)[0, 1].tolist() == [0, 0, 255]
    image = np.zeros((2, 2, 3), np.uint8)
    assert overlay(image, labels, classes, 0.0).max() == 0
    assert overlay(image, labels, classes, 1.0)[0, 0].tolist() == [255, 0, 0]
    errors = error_map(np.array([[0, 0], [0, 0]]), labels)
    assert errors[0, 1].tolist() == [230, 30, 30] and errors[1, 0].tolist() == [0, 0, 0]


def test_traced_calls_agree_with_the_model_at_any_size_and_batch():
    model = build_model("unet", (None, None, 3), 3, depth=2, base_filters=8)
    traced = Traced(model)
    rng = np.random.default_rng(2)
    for shape in ((1, 32, 48), (3, 32, 48), (2, 40, 24), (1, 16, 16)):
        images = rng.random((*shape, 3), dtype=np.float32)
        np.testing.assert_allclose(np.asarray(traced(images)),
                                   np.asarray(model(images, training=False)), atol=1e-5)
    # From the second shape on, one trace serves every height, width and batch.
    assert traced._call.experimental_get_tracing_count() <= 3


def test_one_image_is_predicted_as_two_and_flip_pairs_are_not_doubled():
    model = batch_size_model()
    one = np.zeros((1, 8, 8, 3), np.float32)
    assert np.asarray(model(one))[..., 0].max() == 1
    # oneDNN's fused convolution and batch normalization is slow on one image (see Traced).
    traced = np.asarray(Traced(model)(one))
    assert traced.shape == (1, 8, 8, 2) and traced[..., 0].max() == 2
    assert np.asarray(Traced(model)(np.zeros((3, 8, 8, 3), np.float32)))[..., 0].max() == 3
    # FlipAverage calls the model on an image and its mirror together: two, not four.
    flipped = np.asarray(Traced(FlipAverage(model), pairs=True)(one))
    np.testing.assert_allclose(flipped[..., 0], np.log(1 / (1 + np.exp(-2.0))), rtol=1e-5)
