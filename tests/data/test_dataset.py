import json

import numpy as np
import pytest

from helpers import make_pair_dataset, write_png
from segcore.data import load_dataset
from segcore.data.classes import ClassMap
from segcore.data.synthetic import make_synthetic
from segcore.errors import DataError


def test_contiguous_split_keeps_natural_order(tmp_path):
    root = make_pair_dataset(tmp_path / "d", count=30, size=(8, 8), binary=True)
    dataset = load_dataset(root, split="contiguous", val_fraction=1 / 6)
    assert [s.stem for s in dataset.splits["val"]] == ["25", "26", "27", "28", "29"]
    assert dataset.class_map.values == [0, 255]


def test_random_split_is_seeded(tmp_path):
    root = make_pair_dataset(tmp_path / "d", count=20, size=(8, 8))
    first = load_dataset(root, split="random", seed=1).splits["val"]
    again = load_dataset(root, split="random", seed=1).splits["val"]
    other = load_dataset(root, split="random", seed=2).splits["val"]
    assert [s.stem for s in first] == [s.stem for s in again] != [s.stem for s in other]


def test_split_folders_and_class_file_elsewhere_with_void(tmp_path):
    for split in ("train", "val"):
        make_pair_dataset(tmp_path / "d" / split, count=3, size=(8, 8), classes=4)
    classes = tmp_path / "classes.json"
    classes.write_text(json.dumps({"classes": [{"name": n} for n in "abcd"], "ignore_value": 3}))
    dataset = load_dataset(tmp_path / "d", classes=classes)
    assert len(dataset.splits["train"]) == 3 and len(dataset.splits["val"]) == 3
    assert dataset.class_map.names == ["a", "b", "c"]
    assert dataset.class_map.ignore_value == 3


def test_ignore_index_option_makes_void_of_an_inferred_map(tmp_path):
    make_pair_dataset(tmp_path / "d", count=3, size=(8, 8), classes=12)
    dataset = load_dataset(tmp_path / "d", ignore_index=11)
    assert dataset.class_map.num_classes == 11


@pytest.mark.parametrize("problem, message", [
    ("lonely_image", "no mask"), ("lonely_mask", "no image"), ("duplicate", "share the stem"),
    ("empty", "empty"),
])
def test_broken_layouts_are_refused(tmp_path, problem, message):
    root = make_pair_dataset(tmp_path / "d", count=2, size=(8, 8))
    if problem == "lonely_image":
        write_png(root / "images" / "x.png", np.zeros((8, 8), np.uint8))
    elif problem == "lonely_mask":
        write_png(root / "masks" / "y.png", np.zeros((8, 8), np.uint8))
    elif problem == "duplicate":
        write_png(root / "images" / "0.jpg", np.zeros((8, 8), np.uint8))
    else:
        for path in list(root.rglob("*.png")):
            path.unlink()
    with pytest.raises(DataError, match=message):
        load_dataset(root)


def test_synthetic_demo_is_deterministic_with_at_least_four_classes(tmp_path):
    first = make_synthetic(tmp_path / "a", count=4, size=(32, 32), seed=5)
    second = make_synthetic(tmp_path / "b", count=4, size=(32, 32), seed=5)
    for path in sorted(first.rglob("*.png")):
        assert path.read_bytes() == (second / path.relative_to(first)).read_bytes()
    dataset = load_dataset(first)
    assert dataset.class_map.num_classes >= 4
    assert isinstance(dataset.class_map, ClassMap)
