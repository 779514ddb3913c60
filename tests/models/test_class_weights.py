import numpy as np
import pytest

from segcore.class_weights import compute_class_weights
from segcore.errors import ConfigError


def test_class_weighting_methods():
    counts = np.array([100, 10, 0, 50])
    inverse = compute_class_weights(counts, "inverse")
    median = compute_class_weights(counts, "median")
    assert inverse[2] == 0 and median[2] == 0
    assert inverse[1] > inverse[3] > inverse[0]
    assert median[3] == pytest.approx(1.0)  # the median-frequency class gets weight 1
    assert compute_class_weights(counts, "none") is None


def test_class_weight_hand_values_and_segnet_variant():
    counts = np.array([100, 10, 50])
    np.testing.assert_allclose(compute_class_weights(counts, "inverse"),
                               160 / (3 * counts), rtol=1e-6)
    np.testing.assert_allclose(compute_class_weights(counts, "median"), [0.5, 5.0, 1.0], rtol=1e-6)
    # SegNet: f_c over the images where c appears; class 1 sits in one 20-pixel image.
    segnet = compute_class_weights(counts, "median", image_pixels=[160, 20, 160])
    frequency = np.array([100 / 160, 10 / 20, 50 / 160])
    np.testing.assert_allclose(segnet, np.median(frequency) / frequency, rtol=1e-6)
    assert compute_class_weights([5, 5], "inverse").tolist() == [1.0, 1.0]


def test_unknown_methods_and_no_labelled_pixel_are_config_errors():
    with pytest.raises(ConfigError, match="Unknown class weighting"):
        compute_class_weights([1, 2], "sqrt")
    with pytest.raises(ConfigError, match="at least one labelled pixel"):
        compute_class_weights([0, 0], "median")
