"""Predict page logic as plain functions: masks per format and name, scores, zoom view."""

import base64

import cv2
import numpy as np
import pytest

from segcore import predict_view
from segcore.errors import ConfigError, DataError


def test_masks_download_as_labels_raw_values_or_colours():
    from segcore.data.classes import ClassMap

    class_map = ClassMap(["bg", "fg"], [(0, 0, 0), (255, 0, 0)], [0, 255])
    labels = np.array([[0, 1], [255, 1]], np.uint8)
    assert predict_view.mask_for_download(labels, class_map) is labels
    assert predict_view.mask_for_download(labels, class_map, "values").tolist() == [[0, 255], [0, 255]]
    colours = predict_view.mask_for_download(labels, class_map, "colours")
    assert colours.shape == (2, 2, 3) and colours[0, 1].tolist() == [255, 0, 0]
    with pytest.raises(ConfigError):
        predict_view.mask_for_download(labels, class_map, "jpeg")


def test_pair_masks_by_stem_with_or_without_the_mask_suffix():
    pairs = predict_view.pair_masks(["a.png", "b.jpg", "c.png"], ["a_mask.png", "b.png"])
    assert pairs == {"a.png": "a_mask.png", "b.jpg": "b.png"}
    assert predict_view.mask_conflicts(["a_mask.png", "b.png"]) == []


def test_masks_that_pair_with_one_image_are_named():
    # The same file twice, and a mask by either naming: each stem said once, the last used.
    said = predict_view.mask_conflicts(["a_mask.png", "a_mask.png", "b.png", "b_mask.png"])
    assert said == ["2 masks pair with the images named a: a_mask.png, a_mask.png. The last "
                    "uploaded is used; remove the others.",
                    "2 masks pair with the images named b: b.png, b_mask.png. The last "
                    "uploaded is used; remove the others."]
    assert predict_view.pair_masks(["b.png"], ["b.png", "b_mask.png"]) == {"b.png": "b_mask.png"}


def test_mask_scores_and_a_mask_of_the_wrong_size():
    truth = np.array([[0, 1], [1, 255]], np.uint8)
    iou, accuracy = predict_view.mask_scores(np.array([[0, 1], [0, 0]], np.uint8), truth, 2)
    assert accuracy == pytest.approx(2 / 3) and iou == pytest.approx((0.5 + 0.5) / 2)
    with pytest.raises(DataError, match="mask is 3x2 but its image is 2x2"):
        predict_view.mask_scores(np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8), 2)


def test_shrink_keeps_small_images_and_bounds_large_ones():
    small = np.zeros((10, 20, 3), np.uint8)
    assert predict_view.shrink(small) is small
    big = np.zeros((3000, 1500), np.uint8)
    assert predict_view.shrink(big, 1000, nearest=True).shape == (1000, 500)


def test_each_mask_format_has_its_own_file_name():
    names = {fmt: predict_view.mask_file_name("a", fmt) for fmt in predict_view.MASK_FORMATS}
    assert names == {"labels": "a_mask.png", "values": "a_values.png", "colours": "a_color.png"}
    zips = {predict_view.masks_zip_name("r1", fmt) for fmt in predict_view.MASK_FORMATS}
    assert len(zips) == 3 and "r1-masks-colours.zip" in zips
    with pytest.raises(ConfigError, match="jpeg"):
        predict_view.mask_file_name("a", "jpeg")


def test_zoom_figure_sends_a_large_picture_once_at_full_resolution_as_jpeg():
    picture = np.zeros((3000, 2000, 3), np.uint8)
    picture[1000:1010, 500:510] = (255, 0, 0)  # a small detail a thumbnail would lose
    figure = predict_view.zoom_figure(picture, "x")
    source = figure.data[0].source
    assert source.startswith("data:image/jpeg;base64,")
    jpeg = base64.b64decode(source.split(",", 1)[1])
    sent = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert sent.shape == (3000, 2000, 3) and len(jpeg) < 2_000_000
    assert sent[1005, 505, 2] > 200 and sent[1005, 505, 0] < 60  # red (BGR) kept in place
    assert list(figure.layout.xaxis.range) == [0, 2000]
    assert list(figure.layout.yaxis.range) == [3000, 0]
    huge = predict_view.zoom_figure(np.zeros((100, 8000, 3), np.uint8), max_side=4000)
    assert huge.data[0].dx == 2.0 and list(huge.layout.xaxis.range) == [0, 8000]
