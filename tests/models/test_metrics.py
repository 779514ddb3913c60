import keras
import numpy as np
import pytest

from segcore.metrics import confusion_matrix, confusion_matrix_tf, scores


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
