"""How masks shrink with their images: nearest neighbour, or the majority of each footprint."""

import numpy as np
import pytest

from segcore.data.shrink import shrink_labels
from segcore.data.streaming import Preprocess


def mode_by_blocks(mask, factor):
    """The most common label of each factor x factor block, the lowest label on a tie."""
    height, width = mask.shape[0] // factor, mask.shape[1] // factor
    out = np.zeros((height, width), np.uint8)
    for y in range(height):
        for x in range(width):
            block = mask[y * factor:(y + 1) * factor, x * factor:(x + 1) * factor]
            out[y, x] = np.argmax(np.bincount(block.ravel(), minlength=256))
    return out


def test_nearest_drops_a_thin_line_that_the_majority_keeps():
    mask = np.zeros((6, 6), np.uint8)
    mask[:, 1:3] = 1  # 2 of the first footprint's 3 columns
    assert (shrink_labels(mask, (2, 2)) == 0).all()
    assert shrink_labels(mask, (2, 2), "majority").tolist() == [[1, 0], [1, 0]]


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_majority_is_each_blocks_most_common_label_void_included(factor):
    rng = np.random.default_rng(factor)
    mask = rng.choice(np.array([0, 1, 2, 5, 255], np.uint8), size=(12 * factor, 8 * factor))
    shrunk = shrink_labels(mask, (12, 8), "majority")
    assert shrunk.dtype == np.uint8
    np.testing.assert_array_equal(shrunk, mode_by_blocks(mask, factor))


def test_a_mask_that_keeps_its_size_or_grows_is_resized_as_nearest_neighbour_does():
    rng = np.random.default_rng(0)
    mask = rng.integers(0, 4, (5, 7)).astype(np.uint8)
    assert shrink_labels(mask, (5, 7), "majority") is mask
    np.testing.assert_array_equal(shrink_labels(mask, (10, 14), "majority"),
                                  shrink_labels(mask, (10, 14), "nearest"))
    with pytest.raises(ValueError, match="unknown"):
        shrink_labels(mask, (2, 3), "bicubic")


def test_the_decoded_cache_keys_majority_labels_apart_and_keeps_nearest_keys_as_they_were():
    nearest = Preprocess(size=(32, 48))
    assert "labels" not in nearest.key()  # caches decoded before the option stay valid
    assert Preprocess(size=(32, 48), labels="majority").key() == {**nearest.key(),
                                                                   "labels": "majority"}
