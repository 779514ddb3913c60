"""Class files and class maps: every malformed entry is one DataError naming the file and entry."""

import json

import numpy as np
import pytest
from test_hostile_inputs import cli, one_clear_line

from helpers import make_pair_dataset, write_png
from segcore.data.classes import ClassMap
from segcore.data.dataset import infer_class_map, load_dataset
from segcore.data.masks import raw_to_labels
from segcore.errors import DataError


def write_classes(folder, text):
    path = folder / "classes.json"
    path.write_text(text if isinstance(text, str) else json.dumps(text))
    return path


def load_error(tmp_path, content):
    path = write_classes(tmp_path, content)
    with pytest.raises(DataError) as caught:
        ClassMap.load(path)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    return message


def entry(**fields):
    return {"classes": [{"name": "sky", "color": [1, 2, 3]}, {"name": "road", **fields}]}


def test_deeply_nested_json_is_one_clear_error(tmp_path):
    deep = '{"classes": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert "nested too deeply" in load_error(tmp_path, deep)


@pytest.mark.parametrize("value", ["Infinity", "-Infinity", "NaN", "1.7", "true", '"3"', "300",
                                   "-1", "[1]"])
def test_a_class_value_must_be_a_whole_number_in_0_to_255(tmp_path, value):
    text = '{"classes": [{"name": "sky"}, {"name": "road", "value": ' + value + "}]}"
    message = load_error(tmp_path, text)
    assert "class 2 ('road')" in message and "value" in message


def test_integral_float_values_are_whole_numbers(tmp_path):
    path = write_classes(tmp_path, '{"classes": [{"name": "a", "value": 0.0}, {"name": "b", "value": 4}]}')
    assert ClassMap.load(path).values == [0, 4]


@pytest.mark.parametrize("color", [[300, -5, 2], [1, 2], [1, 2, 3, 4], [1.5, 2, 3], "red",
                                   [True, 0, 0], [float("nan"), 0, 0]])
def test_a_colour_must_be_three_whole_numbers_in_0_to_255(tmp_path, color):
    message = load_error(tmp_path, json.dumps(entry(color=color)))
    assert "class 2 ('road')" in message and "colour" in message


@pytest.mark.parametrize("data, needle", [
    ({"classes": [{"name": "a"}], "ignore_value": float("inf")}, "ignore_value"),
    ({"classes": [{"name": "a"}], "ignore_value": 1.7}, "ignore_value"),
    ({"classes": [{"name": "a"}], "ignore_value": 256}, "ignore_value"),
    ({"classes": [{"name": "a"}], "void_color": [1, 2]}, "void_color"),
    ({"classes": [{"name": "a"}, {"name": "a"}]}, "'a'"),
    ({"classes": [{"name": ""}]}, "name"),
    ({"classes": [{"name": ["x"]}]}, "name"),
    ({"classes": [{"name": "a"}, {"name": "b", "value": 0}]}, "value 0"),
    ({"classes": "sky"}, "classes"),
    ({"classes": []}, "at least one class"),
    ({"classes": [{"name": f"c{i}", "value": i} for i in range(256)]}, "255"),
])
def test_other_malformed_class_files(tmp_path, data, needle):
    assert needle in load_error(tmp_path, json.dumps(data))


def test_a_malformed_class_file_stops_check_data_and_train_with_one_line(tmp_path, workspace):
    root = make_pair_dataset(tmp_path / "d", count=4, size=(8, 8), classes=2)
    write_classes(root, entry(color=[300, -5, 2]))
    one_clear_line(cli("check-data", root, workspace=workspace), "classes.json", "road")
    write_classes(root, '{"classes": ' + "[" * 100_000 + "]" * 100_000 + "}")
    one_clear_line(cli("train", "--data", root, "--img-size", "16x16", "--epochs", "1",
                       workspace=workspace), "classes.json")


def test_shared_colours_are_refused_for_colour_masks_only():
    """Two classes of one colour are fine for index masks (the colour only draws overlays) but
    make an RGB colour mask ambiguous, so reading one names both classes."""
    shared = ClassMap(["a", "b", "c"], colors=[(9, 9, 9), (9, 9, 9), (0, 0, 255)], values=[0, 1, 2])
    index_mask = np.array([[0, 1], [2, 1]], np.uint8)
    assert raw_to_labels(index_mask, shared).tolist() == [[0, 1], [2, 1]]
    colour_mask = np.zeros((2, 2, 3), np.uint8)
    colour_mask[:] = (0, 0, 255)
    with pytest.raises(DataError, match=r"m\.png: .*'a' and 'b' share the colour \(9, 9, 9\)"):
        raw_to_labels(colour_mask, shared, "m.png")
    void_clash = ClassMap(["a", "b"], colors=[(0, 0, 0), (1, 1, 1)], void_color=(0, 0, 0))
    with pytest.raises(DataError, match="'a' .* void"):
        raw_to_labels(colour_mask, void_clash, "m.png")


def test_256_inferred_classes_are_refused_with_a_hint(tmp_path):
    full = np.arange(256, dtype=np.uint8).reshape(16, 16)
    write_png(tmp_path / "masks" / "0.png", full)
    with pytest.raises(DataError, match="--ignore-index") as caught:
        infer_class_map([tmp_path / "masks" / "0.png"])
    assert "0.png" in str(caught.value) and "256" in str(caught.value)
    class_map = infer_class_map([tmp_path / "masks" / "0.png"], ignore_index=255)
    assert class_map.num_classes == 255 and 255 not in class_map.values


def test_ignore_index_out_of_range_is_refused_by_the_data_layer(tmp_path, workspace):
    root = make_pair_dataset(tmp_path / "d", count=2, size=(8, 8), classes=2)
    with pytest.raises(DataError, match="--ignore-index 300"):
        load_dataset(root, ignore_index=300)
    one_clear_line(cli("check-data", root, "--ignore-index", "300", workspace=workspace),
                   "--ignore-index 300")
