import numpy as np
import pytest
import tensorflow as tf

from segcore.losses import LOSS_HELP, LOSSES, build_loss
from segcore.losses.pixel import ohem


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


@pytest.mark.parametrize("name", list(LOSSES))
def test_one_value_per_example_in_float32_also_from_float16_logits(name):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, (3, 6, 5)).astype("int32")
    logits = tf.constant(rng.normal(size=(3, 6, 5, 4)), tf.float16)
    run = tf.function(build_loss(name, 4))
    value = run(labels, logits)
    assert value.shape == (3,) and value.dtype == tf.float32
    assert np.isfinite(value.numpy()).all() and (value.numpy() >= 0).all()


def test_focal_hand_value_and_gamma_zero_is_cross_entropy():
    from segcore.losses.pixel import cross_entropy, focal

    labels = np.array([[[0, 1]]], "int32")
    logits = np.array([[[[2.0, 0.0], [0.0, 0.0]]]], "float32")
    p = 1 / (1 + np.exp(-2.0))
    expected = ((1 - p) ** 2 * -np.log(p) + 0.25 * np.log(2.0)) / 2
    assert float(build_loss("focal")(labels, logits)[0]) == pytest.approx(expected, rel=1e-5)
    np.testing.assert_allclose(focal(labels, logits, gamma=0.0), cross_entropy(labels, logits),
                               rtol=1e-6)


def test_dice_hand_values():
    labels = np.array([[[0, 1]]], "int32")
    perfect = np.array([[[[50.0, -50.0], [-50.0, 50.0]]]], "float32")
    all_zero = np.array([[[[50.0, -50.0], [50.0, -50.0]]]], "float32")
    dice = build_loss("dice")
    assert float(dice(labels, perfect)[0]) == pytest.approx(0.0, abs=1e-6)
    # Dice_0 = (2*1 + 1) / (2 + 1 + 1) = 0.75, Dice_1 = (0 + 1) / (0 + 1 + 1) = 0.5
    assert float(dice(labels, all_zero)[0]) == pytest.approx(1 - (0.75 + 0.5) / 2, rel=1e-5)
    both = float(build_loss("ce+dice")(labels, all_zero)[0])
    ce = float(build_loss("ce")(labels, all_zero)[0])
    assert both == pytest.approx(ce + 0.375, rel=1e-5)


def test_loss_weights_behave():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, (2, 8, 8)).astype("int32")
    logits = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    for name in LOSSES:
        plain = build_loss(name, 3)(labels, logits).numpy()
        uniform = build_loss(name, 3, class_weights=np.full(3, 2.0))(labels, logits).numpy()
        np.testing.assert_allclose(uniform, plain, rtol=1e-5)  # only relative weights matter
    # A zero weight removes a class as if its pixels were void.
    void = np.where(labels == 2, 255, labels)
    zero = build_loss("ce", 3, class_weights=np.array([1.0, 1.0, 0.0]))(labels, logits)
    np.testing.assert_allclose(zero, build_loss("ce", 3)(void, logits), rtol=1e-5)


def test_bad_names_and_weight_lengths_are_config_errors():
    from segcore.errors import ConfigError

    with pytest.raises(ConfigError, match="Unknown loss 'hinge'"):
        build_loss("hinge", 2)
    with pytest.raises(ConfigError, match="3 values for 2 classes"):
        build_loss("ce", 2, class_weights=[1.0, 1.0, 1.0])


def _lovasz_reference(probabilities, labels):
    """Berman et al.'s `lovasz_softmax_flat` (classes="present"), written in NumPy."""
    losses = []
    for c in range(probabilities.shape[1]):
        truth = (labels == c).astype(np.float64)
        if not truth.any():
            continue
        errors = np.abs(truth - probabilities[:, c])
        order = np.argsort(-errors, kind="stable")
        errors, truth = errors[order], truth[order]
        total = truth.sum()
        jaccard = 1 - (total - np.cumsum(truth)) / (total + np.cumsum(1 - truth))
        jaccard[1:] = jaccard[1:] - jaccard[:-1]
        losses.append(errors @ jaccard)
    return np.mean(losses)


def test_lovasz_hand_value_and_the_reference_implementation():
    probabilities = np.array([[[[0.8, 0.2], [0.4, 0.6]]]], "float32")
    value = build_loss("lovasz")(np.array([[[0, 1]]], "int32"), np.log(probabilities))
    assert float(value[0]) == pytest.approx(0.35, rel=1e-5)
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(3, 12, 10, 5)).astype("float32")
    labels = rng.integers(0, 5, (3, 12, 10)).astype("int32")
    labels[0, :4] = 255
    labels[2][labels[2] == 3] = 1  # a class absent from one example is left out of its mean
    values = build_loss("lovasz", 5)(labels, logits).numpy()
    probabilities = tf.nn.softmax(logits).numpy()
    for b in range(3):
        valid = labels[b].ravel() != 255
        expected = _lovasz_reference(probabilities[b].reshape(-1, 5)[valid],
                                     labels[b].ravel()[valid])
        assert values[b] == pytest.approx(expected, rel=1e-4)


def test_lovasz_is_zero_when_perfect_and_falls_as_the_iou_rises():
    labels = np.array([[[0, 0, 1, 1]]], "int32")
    loss = build_loss("lovasz")
    perfect = np.array([[[[20.0, 0], [20, 0], [0, 20], [0, 20]]]], "float32")
    assert float(loss(labels, perfect)[0]) == pytest.approx(0.0, abs=1e-6)
    one_wrong = np.array([[[[20.0, 0], [0, 20], [0, 20], [0, 20]]]], "float32")
    two_wrong = np.array([[[[0.0, 20], [0, 20], [0, 20], [0, 20]]]], "float32")
    assert 0 < float(loss(labels, one_wrong)[0]) < float(loss(labels, two_wrong)[0])
    # Hard errors: the loss is 1 - IoU per class, averaged (IoU 1/2 and 2/3 with one wrong).
    assert float(loss(labels, one_wrong)[0]) == pytest.approx(1 - (0.5 + 2 / 3) / 2, rel=1e-4)
    combined = build_loss("ce+lovasz")(labels, one_wrong)
    assert float(combined[0]) == pytest.approx(
        float(build_loss("ce")(labels, one_wrong)[0]) + float(loss(labels, one_wrong)[0]))


def test_ohem_hand_value_and_its_limits():
    labels = np.array([[[0, 1, 1, 1]]], "int32")
    logits = np.array([[[[2.0, 0.0], [0.0, 0.0], [0.0, 3.0], [0.0, 3.0]]]], "float32")
    ce = np.array([np.log(1 + np.exp(-2.0)), np.log(2.0), np.log(1 + np.exp(-3.0))])
    # One pixel under 0.7, fewer than half of four: the two hardest are kept.
    assert float(ohem(labels, logits, min_kept=0.5)[0]) == pytest.approx(
        (ce[0] + ce[1]) / 2, rel=1e-5)
    # Keeping every pixel at least is cross-entropy.
    assert float(ohem(labels, logits, min_kept=1.0)[0]) == pytest.approx(
        float(build_loss("ce")(labels, logits)[0]), rel=1e-5)
    # With a threshold above every probability, all pixels are hard and all are kept.
    assert float(ohem(labels, logits, threshold=0.99, min_kept=0.25)[0]) == pytest.approx(
        (ce[0] + ce[1] + 2 * ce[2]) / 4, rel=1e-5)
    # Void pixels are never among the kept ones, however few valid pixels remain.
    labels[0, 0, 1:] = 255
    assert float(ohem(labels, logits, min_kept=0.5)[0]) == pytest.approx(ce[0], rel=1e-5)


def test_ohem_with_unknown_spatial_shape_matches_the_static_one():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, (2, 6, 10)).astype("int32")
    logits = rng.normal(size=(2, 6, 10, 3)).astype("float32")
    dynamic = tf.function(ohem, input_signature=[tf.TensorSpec([None, None, None], tf.int32),
                                                 tf.TensorSpec([None, None, None, 3], tf.float32)])
    np.testing.assert_allclose(dynamic(labels, logits), ohem(labels, logits), rtol=1e-6)
    # Only the kept pixels get gradients.
    variable = tf.Variable(logits)
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(ohem(labels, variable, threshold=0.0, min_kept=0.25))
    touched = np.abs(tape.gradient(value, variable).numpy()).sum(-1) > 0
    assert touched.sum() == 2 * 15  # a quarter of each example's 60 pixels (no ties here)


def test_every_loss_has_a_line_of_help():
    assert list(LOSS_HELP) == list(LOSSES)


def test_label_smoothing_hand_value_and_its_target():
    labels = np.array([[[0, 1, 255]]], "int32")
    logits = np.array([[[[2.0, 0.0], [0.0, 0.0], [9.0, -9.0]]]], "float32")
    ce_first = np.log(1 + np.exp(-2.0))
    uniform_first = (ce_first + 2.0 + ce_first) / 2  # mean of -log p over both classes
    expected = (0.9 * ce_first + 0.1 * uniform_first + np.log(2.0)) / 2
    smoothed = build_loss("ce", 2, smoothing=0.1)
    assert float(smoothed(labels, logits)[0]) == pytest.approx(expected, rel=1e-5)
    assert float(smoothed(labels, logits)[0]) == pytest.approx(0.4600, abs=1e-4)
    # Its minimum over the logits is the smoothed target: 0.95 on the true class of two.
    variable = tf.Variable(np.zeros((1, 1, 1, 2), "float32"))
    optimizer = tf.keras.optimizers.SGD(1.0)
    for _ in range(300):
        with tf.GradientTape() as tape:
            value = tf.reduce_sum(smoothed(np.zeros((1, 1, 1), "int32"), variable))
        optimizer.apply_gradients([(tape.gradient(value, variable), variable)])
    assert float(tf.nn.softmax(variable)[0, 0, 0, 0]) == pytest.approx(0.95, abs=1e-3)


@pytest.mark.parametrize("name", ["ce", "focal", "ohem", "ce+dice", "ce+lovasz"])
def test_label_smoothing_changes_every_loss_with_a_cross_entropy(name):
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, (2, 8, 8)).astype("int32")
    logits = 3.0 * rng.normal(size=(2, 8, 8, 3)).astype("float32")
    plain = build_loss(name, 3)(labels, logits).numpy()
    smoothed = build_loss(name, 3, smoothing=0.1)(labels, logits).numpy()
    assert np.isfinite(smoothed).all() and not np.allclose(plain, smoothed)
    np.testing.assert_allclose(build_loss(name, 3, smoothing=0.0)(labels, logits), plain)


@pytest.mark.parametrize("name", ["dice", "lovasz"])
def test_label_smoothing_without_a_cross_entropy_is_a_config_error(name):
    from segcore.errors import ConfigError

    with pytest.raises(ConfigError, match=f"--label-smoothing .*--loss {name}"):
        build_loss(name, 3, smoothing=0.1)
    build_loss(name, 3, smoothing=0.0)


def one_hot_shares(labels, num_classes):
    """Shares of `label_shares`'s layout for hard labels: one class (or void) per pixel."""
    planes = [labels == c for c in range(num_classes)] + [labels == 255]
    return np.stack(planes, axis=-1).astype("float32")


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_one_hot_shares_train_exactly_the_labels_cross_entropy(smoothing):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, (2, 6, 5)).astype("int32")
    labels[0, :2] = 255
    logits = rng.normal(size=(2, 6, 5, 3)).astype("float32")
    loss = build_loss("ce", 3, np.array([0.5, 2.0, 3.0], "float32"), smoothing=smoothing)
    np.testing.assert_allclose(loss(one_hot_shares(labels, 3), logits), loss(labels, logits),
                               rtol=1e-5)


def test_share_cross_entropy_hand_value_a_half_pixel_carries_half_of_each_weight():
    shares = np.array([[[[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]]]], "float32")
    logits = np.array([[[[2.0, 0.0], [0.0, 0.0]]]], "float32")
    ce_first = np.log(1 + np.exp(-2.0))
    assert float(build_loss("ce")(shares, logits)[0]) == pytest.approx(
        (ce_first + np.log(2.0)) / 2, rel=1e-5)
    weighted = build_loss("ce", class_weights=np.array([1.0, 3.0], "float32"))(shares, logits)
    assert float(weighted[0]) == pytest.approx((ce_first + 2 * np.log(2.0)) / 3, rel=1e-5)
    # A pixel half void counts half; its target is its labelled share alone.
    half_void = np.array([[[[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]]]], "float32")
    value = float(build_loss("ce")(half_void, logits)[0])
    assert value == pytest.approx((ce_first + 0.5 * np.log(2.0)) / 1.5, rel=1e-5)


def test_share_cross_entropy_is_lowest_where_the_prediction_is_the_share():
    shares = np.array([[[[0.3, 0.7, 0.0]]]], "float32")
    loss = build_loss("ce")
    values = {p: float(loss(shares, np.log(np.array([[[[1 - p, p]]]], "float32")))[0])
              for p in (0.5, 0.6, 0.7, 0.8, 0.99)}
    assert min(values, key=values.get) == 0.7
    variable = tf.Variable(np.zeros((1, 1, 1, 2), "float32"))
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(loss(shares, variable))
    assert np.isfinite(tape.gradient(value, variable).numpy()).all()
