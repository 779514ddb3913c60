"""The editor behind the Label page: listing, the canvas picture, painting, undo, saving."""

import numpy as np
import pytest
from PIL import Image

from helpers import make_pair_dataset, write_png
from segcore.data.classes import ClassMap
from segcore.errors import DataError
from segcore.labelling.editor import (
    Editor,
    composite,
    dataset_images,
    eraser_label,
    fit_zoom,
    pan_limits,
    view_size,
)
from segcore.labelling.raster import View


def test_dataset_images_lists_labelled_then_unlabelled(tmp_path):
    root = make_pair_dataset(tmp_path / "d", count=3)
    write_png(root / "unlabelled" / "new.png", np.zeros((32, 32, 3), np.uint8))
    dataset, entries = dataset_images(root)
    assert [e.relative for e in entries] == ["images/0.png", "images/1.png", "images/2.png",
                                             "unlabelled/new.png"]
    assert [e.labelled for e in entries] == [True, True, True, False]


def test_the_canvas_picture_maps_each_canvas_pixel_to_its_image_pixel():
    class_map = ClassMap(["a", "b"], colors=[(0, 0, 0), (255, 255, 255)])
    image = np.zeros((10, 20, 3), np.uint8)
    labels = np.zeros((10, 20), np.uint8)
    labels[3, 7] = 1
    picture = composite(image, labels, class_map, View(x0=5, y0=2, zoom=4), (40, 24), opacity=1)
    assert picture.shape == (24, 40, 3)
    white = np.argwhere(picture[..., 0] == 255)
    # Image pixel (row 3, col 7) is canvas rows 4..7, cols 8..11 (1 row and 2 cols in, x4).
    assert white.min(axis=0).tolist() == [4, 8] and white.max(axis=0).tolist() == [7, 11]
    assert len(white) == 16


def test_zoom_and_pan_of_a_large_image():
    shape = (3000, 4000)
    zoom = fit_zoom(shape)
    assert view_size(shape, zoom) == (700, 525)  # the whole image, aspect kept
    assert pan_limits(shape, zoom) == (0, 0)
    assert view_size(shape, 2.0) == (700, 560)
    assert pan_limits(shape, 2.0) == (4000 - 350, 3000 - 280)


def test_editor_paints_undoes_and_saves(tmp_path):
    root = make_pair_dataset(tmp_path / "d", count=2, classes=3)
    dataset, entries = dataset_images(root)
    class_map = dataset.class_map
    editor = Editor.open(root, entries[0], class_map, (32, 32))
    assert not editor.dirty and not editor.edited
    fill = {"type": "Circle", "left": 0, "top": 0, "originX": "center", "originY": "center",
            "width": 0, "height": 0, "strokeWidth": 0}
    editor.paint([{"type": "Polygon", "points": [{"x": 0, "y": 0}, {"x": 32, "y": 0},
                                                  {"x": 32, "y": 32}, {"x": 0, "y": 32}]}],
                 "polygon", 1, View())
    editor.paint([fill], "fill", 2, View(x0=0.5, y0=0.5))
    assert (editor.labels == 2).all() and editor.edited and editor.dirty
    editor.undo()
    assert (editor.labels == 1).all()
    editor.redo()
    editor.save(class_map)
    assert not editor.dirty and not editor.edited
    assert (np.asarray(Image.open(entries[0].mask)) == 2).all()


def test_start_from_a_prefill_is_undoable_to_the_saved_mask(tmp_path):
    root = make_pair_dataset(tmp_path / "d", count=2, classes=3)
    dataset, entries = dataset_images(root)
    start = np.ones((32, 32), np.uint8)
    editor = Editor.open(root, entries[0], dataset.class_map, (32, 32), start)
    assert editor.dirty and not editor.edited
    assert np.array_equal(editor.history.undo(), editor.saved)


def test_eraser_targets():
    assert eraser_label("background", ClassMap(["a", "b"])) == 0
    assert eraser_label("void", ClassMap(["a", "b"], ignore_value=9)) == 255
    with pytest.raises(DataError, match="no void value"):
        eraser_label("void", ClassMap(["a", "b"]))


def test_a_labelling_tool_export_is_not_edited(tmp_path):
    root = tmp_path / "voc"
    for stem in ("a", "b"):
        write_png(root / "JPEGImages" / f"{stem}.png", np.zeros((8, 8, 3), np.uint8))
        write_png(root / "SegmentationClass" / f"{stem}.png", np.zeros((8, 8), np.uint8))
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    (root / "ImageSets" / "Segmentation" / "train.txt").write_text("a\nb\n")
    with pytest.raises(DataError, match="is a Pascal VOC export"):
        dataset_images(root)
