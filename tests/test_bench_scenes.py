"""bench/scenes.py: a dataset whose held-out scenes become val, read back by segcore."""

import numpy as np
import pytest

from bench.scenes import holdout_dataset, scene_of
from segcore.data.dataset import load_dataset
from tests.helpers import write_png


def _camvid_like(root, frames):
    """train/ with frames named SCENE_N.png, and a val/ that must be left out."""
    rng = np.random.default_rng(0)
    for name in frames:
        write_png(root / "train" / "images" / f"{name}.png",
                  rng.integers(0, 255, (8, 8, 3), dtype=np.uint8))
        write_png(root / "train" / "masks" / f"{name}.png",
                  rng.integers(0, 3, (8, 8), dtype=np.uint8))
    write_png(root / "val" / "images" / "0016E5_9.png", np.zeros((8, 8, 3), np.uint8))
    write_png(root / "val" / "masks" / "0016E5_9.png", np.zeros((8, 8), np.uint8))
    return root


def test_scene_is_the_prefix_before_the_first_underscore():
    assert scene_of("0006R0_f02400") == "0006R0"
    assert scene_of("Seq05VD_f00000_x") == "Seq05VD"
    assert scene_of("frame") == "frame"


def test_held_out_scenes_become_val_and_the_dataset_loads(tmp_path):
    data = _camvid_like(tmp_path / "data", ["0001TP_1", "0001TP_2", "0006R0_1", "0016E5_1",
                                            "0006R0_2", "0016E5_2"])
    counts = holdout_dataset(data, ["0006R0"], tmp_path / "out")
    assert counts == {"train": 4, "val": 2, "scenes": ["0006R0"],
                      "train_scenes": ["0001TP", "0016E5"]}
    dataset = load_dataset(tmp_path / "out")
    val = sorted(sample.image.stem for sample in dataset.splits["val"])
    train = sorted(sample.image.stem for sample in dataset.splits["train"])
    assert val == ["0006R0_1", "0006R0_2"]
    assert train == ["0001TP_1", "0001TP_2", "0016E5_1", "0016E5_2"]
    # links, not copies: the original files are read
    assert (tmp_path / "out" / "val" / "masks" / "0006R0_1.png").resolve() == (
        data / "train" / "masks" / "0006R0_1.png").resolve()


@pytest.mark.parametrize("scenes, problem", [
    (["Seq05VD"], "no frame of scene Seq05VD"),
    (["0001TP", "0006R0"], "leaves nothing to train on"),
])
def test_bad_holdouts_say_why(tmp_path, scenes, problem):
    data = _camvid_like(tmp_path / "data", ["0001TP_1", "0006R0_1"])
    with pytest.raises(ValueError, match=problem):
        holdout_dataset(data, scenes, tmp_path / "out")


def test_an_image_without_a_mask_is_named(tmp_path):
    data = _camvid_like(tmp_path / "data", ["0001TP_1", "0006R0_1"])
    (data / "train" / "masks" / "0006R0_1.png").unlink()
    with pytest.raises(ValueError, match="no mask in masks/ for 0006R0_1.png"):
        holdout_dataset(data, ["0006R0"], tmp_path / "out")
