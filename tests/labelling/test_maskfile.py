"""Saving edited masks: the dataset's own encoding, history kept, stale saves refused, undo."""

import os

import numpy as np
import pytest
from PIL import Image

from helpers import write_png
from segcore.data.classes import ClassMap
from segcore.data.dataset import load_dataset
from segcore.data.doctor import check_dataset
from segcore.errors import DataError
from segcore.labelling.maskfile import StaleMask, history_of, open_mask, save_mask
from segcore.labelling.undo import EditHistory


def binary_dataset(root):
    for stem in ("a", "b"):
        write_png(root / "images" / f"{stem}.png", np.full((16, 16, 3), 90, np.uint8))
        mask = np.zeros((16, 16), np.uint8)
        mask[:4] = 255
        write_png(root / "masks" / f"{stem}.png", mask)
    return root


def test_save_writes_raw_values_and_keeps_the_old_mask(tmp_path):
    root = binary_dataset(tmp_path / "d")
    dataset = load_dataset(root)
    sample = dataset.samples("train")[0] if dataset.samples("train") else dataset.samples("val")[0]
    before = (root / "masks" / f"{sample.stem}.png").read_bytes()
    opened = open_mask(root, sample.image, sample.mask, dataset.class_map, (16, 16))
    assert opened.labels[:4].min() == 1 and opened.labels[4:].max() == 0
    labels = opened.labels.copy()
    labels[10:12, 3:9] = 1
    saved = save_mask(opened, labels, dataset.class_map)
    raw = np.asarray(Image.open(sample.mask))
    assert set(np.unique(raw).tolist()) == {0, 255}  # binary stays 0/255, not labels 0/1
    assert (raw[10:12, 3:9] == 255).all() and (raw[:4] == 255).all() and raw[4:10].max() == 0
    kept = history_of(root, sample.stem)
    assert len(kept) == 1 and kept[0].read_bytes() == before
    assert kept[0].parent == root / ".history" / "masks"
    assert check_dataset(root).ok  # the doctor reads the saved mask as before
    save_mask(saved, labels * 0, dataset.class_map)
    assert len(history_of(root, sample.stem)) == 2


def test_a_mask_changed_on_disk_since_it_was_opened_is_not_overwritten(tmp_path):
    root = binary_dataset(tmp_path / "d")
    dataset = load_dataset(root)
    class_map = dataset.class_map
    opened = open_mask(root, root / "images" / "a.png", root / "masks" / "a.png", class_map,
                       (16, 16))
    other = np.zeros((16, 16), np.uint8)
    write_png(root / "masks" / "a.png", other)  # another tab saved meanwhile
    with pytest.raises(StaleMask, match="changed on disk after it was opened"):
        save_mask(opened, opened.labels, class_map)
    assert np.asarray(Image.open(root / "masks" / "a.png")).max() == 0
    assert history_of(root, "a") == []
    # Same size, same mtime: the content hash still tells.
    opened = open_mask(root, root / "images" / "a.png", root / "masks" / "a.png", class_map,
                       (16, 16))
    stat = os.stat(root / "masks" / "a.png")
    other[0, 0] = 255
    write_png(root / "masks" / "a.png", other)
    os.utime(root / "masks" / "a.png", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(StaleMask):
        save_mask(opened, opened.labels, class_map)


def test_colour_masks_are_saved_as_colours_with_void(tmp_path):
    root = tmp_path / "c"
    class_map = ClassMap(["sky", "road"], colors=[(0, 0, 255), (128, 64, 128)],
                         void_color=(0, 0, 0))
    root.mkdir()
    class_map.save(root / "classes.json")
    mask = np.zeros((8, 8, 3), np.uint8)
    mask[:] = (0, 0, 255)
    mask[4:] = (128, 64, 128)
    for stem in ("x", "y"):
        write_png(root / "images" / f"{stem}.png", np.zeros((8, 8, 3), np.uint8))
        write_png(root / "masks" / f"{stem}.png", mask)
    dataset = load_dataset(root)
    opened = open_mask(root, root / "images" / "x.png", root / "masks" / "x.png",
                       dataset.class_map, (8, 8))
    labels = opened.labels.copy()
    labels[0, :] = 255
    labels[1, :] = 1
    save_mask(opened, labels, dataset.class_map)
    raw = np.asarray(Image.open(root / "masks" / "x.png"))
    assert raw.shape == (8, 8, 3)
    assert (raw[0] == 0).all() and (raw[1] == (128, 64, 128)).all()
    assert (raw[2] == (0, 0, 255)).all()
    assert check_dataset(root).ok


def test_void_without_a_void_value_and_stray_labels_are_refused(tmp_path):
    root = binary_dataset(tmp_path / "d")
    class_map = load_dataset(root).class_map
    opened = open_mask(root, root / "images" / "a.png", root / "masks" / "a.png", class_map,
                       (16, 16))
    labels = opened.labels.copy()
    labels[0, 0] = 255
    with pytest.raises(DataError, match="no void value"):
        save_mask(opened, labels, class_map)
    labels[0, 0] = 7
    with pytest.raises(DataError, match=r"labels \[7\] are not classes"):
        save_mask(opened, labels, class_map)
    assert history_of(root, "a") == []


def test_labelling_an_unlabelled_image_moves_it_into_the_training_data(tmp_path):
    root = binary_dataset(tmp_path / "d")
    write_png(root / "unlabelled" / "new.png", np.zeros((16, 16, 3), np.uint8))
    dataset = load_dataset(root)
    assert [p.name for p in dataset.unlabelled] == ["new.png"]
    opened = open_mask(root, dataset.unlabelled[0], None, dataset.class_map, (16, 16))
    assert opened.mask == root / "masks" / "new.png" and opened.labels.max() == 0
    labels = opened.labels.copy()
    labels[5:9, 5:9] = 1
    saved = save_mask(opened, labels, dataset.class_map)
    assert saved.image == root / "images" / "new.png"
    assert not (root / "unlabelled" / "new.png").exists()
    assert (np.asarray(Image.open(root / "masks" / "new.png"))[5:9, 5:9] == 255).all()
    reloaded = load_dataset(root, val_fraction=0)
    assert reloaded.unlabelled == [] and len(reloaded.samples("train")) == 3


def test_edit_history_undo_redo_is_bounded():
    history = EditHistory(np.zeros((4, 4), np.uint8), limit=3)
    for value in range(1, 6):
        history.push(np.full((4, 4), value, np.uint8))
    assert history.current.max() == 5
    assert [history.undo().max() for _ in range(4)] == [4, 3, 2, 2]  # only 3 steps kept
    assert history.redo().max() == 3
    history.push(np.full((4, 4), 9, np.uint8))
    assert not history.can_redo and history.redo().max() == 9


def test_an_unlabelled_image_of_a_split_dataset_joins_train(tmp_path):
    root = tmp_path / "d"
    binary_dataset(root / "train")
    binary_dataset(root / "val")
    write_png(root / "unlabelled" / "new.png", np.zeros((16, 16, 3), np.uint8))
    dataset = load_dataset(root)
    opened = open_mask(root, dataset.unlabelled[0], None, dataset.class_map, (16, 16))
    assert opened.mask == root / "train" / "masks" / "new.png"
    saved = save_mask(opened, np.ones((16, 16), np.uint8), dataset.class_map)
    assert saved.image == root / "train" / "images" / "new.png"
    assert (np.asarray(Image.open(saved.mask)) == 255).all()  # binary: class 1 is 255
    assert len(load_dataset(root).samples("train")) == 3 and check_dataset(root).ok


def test_a_mask_that_appeared_meanwhile_is_not_overwritten(tmp_path):
    root = binary_dataset(tmp_path / "d")
    write_png(root / "unlabelled" / "new.png", np.zeros((16, 16, 3), np.uint8))
    dataset = load_dataset(root)
    opened = open_mask(root, dataset.unlabelled[0], None, dataset.class_map, (16, 16))
    write_png(root / "masks" / "new.png", np.zeros((16, 16), np.uint8))  # saved in another tab
    with pytest.raises(StaleMask):
        save_mask(opened, np.ones((16, 16), np.uint8), dataset.class_map)
    assert (root / "unlabelled" / "new.png").exists()
    assert np.asarray(Image.open(root / "masks" / "new.png")).max() == 0
