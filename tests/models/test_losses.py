import numpy as np
import pytest
import tensorflow as tf

from segcore.losses import LOSSES, build_loss, compute_class_weights


@pytest.mark.parametrize("name", list(LOSSES))
def test_void_pixels_do_not_change_the_loss_and_gradients_are_finite(name):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, (2, 8, 8)).astype("int32")
    labels[:, :4] = 255
    logits = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    changed = logits.copy()
    changed[:, :4] = 100.0 * rng.normal(size=changed[:, :4].shape)
    loss = build_loss(name, 3, class_weights=np.array([1.0, 2.0, 0.5], "float32"))
    np.testing.assert_allclose(loss(labels, logits), loss(labels, changed), rtol=1e-5)
    variable = tf.Variable(logits)
    with tf.GradientTape() as tape:
        value = tf.reduce_mean(loss(labels, variable))
    gradient = tape.gradient(value, variable).numpy()
    assert np.isfinite(gradient).all() and np.abs(gradient[:, :4]).max() == 0


@pytest.mark.parametrize("name", list(LOSSES))
def test_all_void_example_gives_a_finite_loss(name):
    labels = np.full((1, 4, 4), 255, "int32")
    assert np.isfinite(build_loss(name, 2)(labels, np.zeros((1, 4, 4, 2), "float32"))).all()


def test_cross_entropy_matches_hand_value_and_weights_shift_it():
    labels = np.array([[[0, 1]]], "int32")
    logits = np.array([[[[2.0, 0.0], [0.0, 0.0]]]], "float32")
    ce_first = np.log(1 + np.exp(-2.0))
    expected = (ce_first + np.log(2.0)) / 2
    assert float(build_loss("ce")(labels, logits)[0]) == pytest.approx(expected, rel=1e-5)
    weighted = float(build_loss("ce", class_weights=np.array([1.0, 3.0], "float32"))(labels, logits)[0])
    assert weighted == pytest.approx((ce_first + 3 * np.log(2.0)) / 4, rel=1e-5)


def test_class_weighting_methods():
    counts = np.array([100, 10, 0, 50])
    inverse = compute_class_weights(counts, "inverse")
    median = compute_class_weights(counts, "median")
    assert inverse[2] == 0 and median[2] == 0
    assert inverse[1] > inverse[3] > inverse[0]
    assert median[3] == pytest.approx(1.0)  # the median-frequency class gets weight 1
    assert compute_class_weights(counts, "none") is None
