import keras
import numpy as np
import pytest

from segcore.metrics import confusion_matrix, confusion_matrix_tf, json_safe, scores


def test_hand_computed_example():
    truth = np.array([[0, 0, 1], [1, 1, 255]])
    pred = np.array([[0, 1, 1], [1, 0, 0]])
    cm = confusion_matrix(truth, pred, 3, ignore_index=255)
    assert cm.tolist() == [[1, 1, 0], [1, 2, 0], [0, 0, 0]]
    result = scores(cm, ["a", "b", "c"])
    assert result["per_class_iou"][0] == pytest.approx(1 / 3)
    assert result["per_class_iou"][1] == pytest.approx(2 / 4)
    assert np.isnan(result["per_class_iou"][2])  # absent from truth and prediction
    assert result["mean_iou"] == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert result["pixel_accuracy"] == pytest.approx(3 / 5)
    assert result["per_class_dice"][1] == pytest.approx(4 / 6)
    assert result["per_class_precision"][0] == pytest.approx(1 / 2)
    assert result["per_class_recall"][1] == pytest.approx(2 / 3)
    assert result["fw_iou"] == pytest.approx(2 / 5 * 1 / 3 + 3 / 5 * 1 / 2)
    assert result["support"] == [2, 3, 0]


def test_predicted_but_absent_class_counts_zero():
    result = scores(confusion_matrix([0, 0], [0, 1], 2))
    assert result["per_class_iou"] == [0.5, 0.0]
    assert result["mean_iou"] == pytest.approx(0.25)


def test_agrees_with_keras_mean_iou_and_streams_over_batches():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 5, (4, 16, 16))
    logits = rng.normal(size=(4, 16, 16, 5)).astype("float32")
    pred = logits.argmax(-1)
    keras_metric = keras.metrics.MeanIoU(num_classes=5, sparse_y_pred=False, ignore_class=4)
    keras_metric.update_state(truth, logits)
    total = sum(confusion_matrix(t, p, 5, ignore_index=4) for t, p in zip(truth, pred))
    np.testing.assert_array_equal(keras_metric.total_cm.numpy().astype(np.int64), total)
    assert scores(total)["mean_iou"] == pytest.approx(float(keras_metric.result()), abs=1e-6)
    tf_cm = confusion_matrix_tf(truth, pred, 5, 4).numpy()
    np.testing.assert_array_equal(tf_cm, total)


def test_void_pixels_are_never_counted():
    truth = np.full((8, 8), 255)
    truth[0, 0] = 1
    pred = np.zeros((8, 8), int)
    assert confusion_matrix(truth, pred, 2, ignore_index=255).sum() == 1


def test_docstring_worked_example():
    result = scores([[3, 1, 0], [0, 2, 0], [0, 0, 0]])
    assert result["mean_iou"] == pytest.approx((0.75 + 2 / 3) / 2)
    assert result["pixel_accuracy"] == pytest.approx(5 / 6)
    assert result["fw_iou"] == pytest.approx(4 / 6 * 0.75 + 2 / 6 * 2 / 3)
    assert result["mean_class_accuracy"] == pytest.approx(0.875)
    assert np.isnan(result["per_class_dice"][2]) and np.isnan(result["per_class_precision"][2])
    assert set(result) == {"pixel_accuracy", "mean_class_accuracy", "mean_iou", "fw_iou",
                           "per_class_iou", "per_class_dice", "per_class_precision",
                           "per_class_recall", "support"}


def _softmax_like(rng, shape, num_classes):
    scores_ = rng.random((*shape, num_classes)).astype("float32")
    return scores_ / scores_.sum(-1, keepdims=True)


def test_agrees_with_keras_with_void_255_over_streamed_batches():
    rng = np.random.default_rng(3)
    metric = keras.metrics.MeanIoU(num_classes=6, sparse_y_pred=False, ignore_class=255)
    total = np.zeros((6, 6), np.int64)
    for _ in range(3):
        truth = rng.integers(0, 6, (2, 24, 20))
        truth[rng.random(truth.shape) < 0.2] = 255
        probs = _softmax_like(rng, truth.shape, 6)
        metric.update_state(truth, probs)
        total += confusion_matrix(truth, probs.argmax(-1), 6, ignore_index=255)
    assert (total.sum(0) > 0).all() and (total.sum(1) > 0).all()  # every class appears
    np.testing.assert_array_equal(metric.total_cm.numpy().astype(np.int64), total)
    assert scores(total)["mean_iou"] == pytest.approx(float(metric.result()), rel=1e-5)


def test_absent_class_is_nan_and_left_out_of_the_means():
    cm = confusion_matrix([0, 1, 1, 3], [0, 1, 0, 3], 4)
    result = scores(cm)
    assert np.isnan(result["per_class_iou"][2]) and np.isnan(result["per_class_recall"][2])
    assert result["mean_iou"] == pytest.approx((1 / 2 + 1 / 2 + 1) / 3)
    assert result["mean_class_accuracy"] == pytest.approx((1 + 1 / 2 + 1) / 3)
    assert result["fw_iou"] == pytest.approx(1 / 4 * 1 / 2 + 2 / 4 * 1 / 2 + 1 / 4 * 1)
    empty = scores(np.zeros((2, 2), np.int64))
    assert all(np.isnan(empty[key]) for key in ("pixel_accuracy", "mean_iou", "fw_iou"))
    assert json_safe(empty)["mean_iou"] is None and json_safe(result)["per_class_iou"][2] is None


def test_chunked_counting_matches_a_direct_count_and_skips_void():
    import segcore.metrics as metrics

    rng = np.random.default_rng(4)
    size = 2 * metrics._CHUNK + 123  # crosses chunk boundaries
    truth = rng.integers(0, 5, size).astype(np.uint8)
    truth[rng.random(size) < 0.1] = 255
    pred = rng.integers(0, 4, size).astype(np.uint8)
    expected = np.zeros((4, 4), np.int64)
    valid = truth < 4  # label 4 is the ignore_index here, 255 is void
    np.add.at(expected, (truth[valid], pred[valid]), 1)
    cm = confusion_matrix(truth, pred, 4, ignore_index=4)
    assert cm.dtype == np.int64
    np.testing.assert_array_equal(cm, expected)


def test_bad_predictions_and_shapes_raise():
    with pytest.raises(ValueError, match="0..1"):
        confusion_matrix([0, 1], [0, 2], 2)
    with pytest.raises(ValueError, match="shape"):
        confusion_matrix([0, 1], [0], 2)
    # A wild prediction on a void pixel is not counted, so it is not an error.
    assert confusion_matrix([255, 1], [7, 1], 2).sum() == 1


def test_tf_version_in_a_tf_function_matches_numpy():
    import tensorflow as tf

    rng = np.random.default_rng(5)
    truth = rng.integers(0, 4, (2, 16, 12))
    truth[:, :3] = 255
    pred = rng.integers(0, 4, (2, 16, 12))
    run = tf.function(lambda t, p: confusion_matrix_tf(t, p, 4, 255))
    cm = run(tf.constant(truth, tf.int32), tf.constant(pred, tf.int64))
    assert cm.dtype == tf.int64
    np.testing.assert_array_equal(cm.numpy(), confusion_matrix(truth, pred, 4, 255))
