"""What to label next: uncertainty maps, the ranking order, and `segcore rank` on a real run."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from helpers import REPO, make_pair_dataset, write_png
from segcore.uncertainty import rank_images, softmax, uncertainty_map, uncertainty_picture


def test_certain_pixels_score_zero_and_ties_score_one():
    probs = np.array([[[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]]])
    entropy = uncertainty_map(probs, "entropy")[0]
    margin = uncertainty_map(probs, "margin")[0]
    assert entropy[0] == 0 and entropy[2] == pytest.approx(1.0)
    assert entropy[1] == pytest.approx(np.log(2) / np.log(3))
    assert margin.tolist() == [0.0, 1.0, 1.0]
    assert np.allclose(softmax(np.array([1000.0, 1000.0])), 0.5)
    assert uncertainty_picture(entropy[None], shape=(4, 6)).shape == (4, 6, 3)


@pytest.mark.parametrize("measure", ["entropy", "margin"])
def test_ranking_puts_the_50_50_image_first(tmp_path, measure):
    # The "model": the red channel is the probability of class 1, so an image at 128 is a coin
    # toss, one at 255 is certain, one at 200 is in between.
    for name, red in (("sure", 255), ("coin", 128), ("unsure", 200)):
        image = np.zeros((8, 8, 3), np.uint8)
        image[..., 0] = red
        write_png(tmp_path / f"{name}.png", image)

    def probabilities(image):
        p = image[..., 0].astype(np.float64) / 255
        return np.stack([1 - p, p], axis=-1)

    ranked = rank_images([tmp_path / f"{n}.png" for n in ("sure", "coin", "unsure")],
                         probabilities, measure)
    assert [p.stem for p, _ in ranked] == ["coin", "unsure", "sure"]
    assert ranked[0][1] == pytest.approx(1.0, abs=0.01) and ranked[-1][1] == pytest.approx(0)


def cli(*args, workspace):
    return subprocess.run([sys.executable, "-m", "segcore", "--workspace", str(workspace),
                           *map(str, args)], capture_output=True, text=True, cwd=REPO)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A U-Net trained one epoch on a dataset that also holds unlabelled/ images."""
    root = tmp_path_factory.mktemp("rank")
    data = make_pair_dataset(root / "data", count=8)
    for index in range(3):
        write_png(data / "unlabelled" / f"u{index}.png",
                  np.random.default_rng(index).integers(0, 255, (32, 32, 3), dtype=np.uint8))
    workspace = root / "workspace"
    result = cli("train", "--data", data, "--model", "unet", "--depth", 2, "--base-filters", 8,
                 "--img-size", "32x32", "--epochs", 1, "--batch-size", 4, workspace=workspace)
    assert result.returncode == 0, result.stderr  # unlabelled images do not stop training
    return workspace, data, result.stdout.strip().splitlines()[-1]


def test_training_ignores_unlabelled_images(trained):
    workspace, data, run = trained
    result = cli("evaluate", "--run", run, "--split", "train", "--json", workspace=workspace)
    files = {entry["file"] for entry in json.loads(result.stdout)["per_image"]}
    assert files and not any(name.startswith("u") for name in files)


def test_rank_lists_unlabelled_images_most_uncertain_first(trained):
    workspace, data, run = trained
    result = cli("rank", "--run", run, "--json", workspace=workspace)
    assert result.returncode == 0, result.stderr
    ranked = json.loads(result.stdout)
    assert sorted(entry["image"].rsplit("/", 1)[1] for entry in ranked) == [
        "u0.png", "u1.png", "u2.png"]
    scores = [entry["score"] for entry in ranked]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    text = cli("rank", "--run", run, "--split", "all", "--top", 2, "--measure", "margin",
               workspace=workspace)
    lines = text.stdout.strip().splitlines()
    assert text.returncode == 0 and len(lines) == 2 and lines[0].split()[0] == "1"
    assert "/images/" in lines[0]


def test_prefill_is_what_predict_writes(trained, tmp_path):
    from segcore.inference import RunPredictor
    from segcore.labelling.prefill import predicted_labels

    workspace, data, run = trained
    result = cli("predict", "--run", run, "--input", data / "unlabelled", "--output", tmp_path,
                 workspace=workspace)
    assert result.returncode == 0, result.stderr
    predictor = RunPredictor(run)
    for index in range(3):
        written = np.asarray(Image.open(tmp_path / f"u{index}_mask.png"))
        assert np.array_equal(predicted_labels(predictor, data / "unlabelled" / f"u{index}.png"),
                              written)


@pytest.mark.parametrize("args, message", [
    (("--run", "no-such-run"), "no-such-run"),
    (("--data", "/no/such/data"), "/no/such/data: dataset folder not found"),
    (("--split", "test"), "no images to rank"),
])
def test_rank_refuses_bad_input_with_exit_2(trained, args, message):
    workspace, _, run = trained
    full = ("--run", run) + args if args[0] != "--run" else args
    result = cli("rank", *full, workspace=workspace)
    assert result.returncode == 2 and message in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.startswith("error:")]) == 1
