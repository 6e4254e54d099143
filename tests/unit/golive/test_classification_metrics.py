"""classification_report and softmax, checked against figures worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from golive.classification_metrics import classification_report, softmax


def test_a_small_report_worked_out_by_hand():
    # true:      a a b b b      predicted: a b b b a  -> confusion [[1, 1], [1, 2]]
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    report = classification_report(np.array([0, 0, 1, 1, 1]), probs, ["a", "b"])
    assert report["examples"] == 5 and report["accuracy"] == pytest.approx(0.6)
    assert report["confusion_matrix"] == {"labels": ["a", "b"], "rows_true_columns_predicted": [[1, 1], [1, 2]]}
    assert report["per_class"]["a"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert report["per_class"]["b"] == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3})
    assert report["macro_f1"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert report["label_distribution"] == pytest.approx({"a": 0.4, "b": 0.6})
    assert report["predicted_label_distribution"] == pytest.approx({"a": 0.4, "b": 0.6})
    assert report["mean_confidence"] == pytest.approx((0.9 + 0.6 + 0.8 + 0.7 + 0.6) / 5)


def test_a_class_never_predicted_scores_zero_not_nan():
    report = classification_report(
        np.array([0, 1, 2]), np.array([[1.0, 0, 0], [1.0, 0, 0], [0, 0, 1.0]]), ["a", "b", "c"]
    )
    assert report["per_class"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert report["macro_f1"] == pytest.approx((2 / 3 + 0 + 1) / 3)


def test_no_examples_gives_zeros():
    report = classification_report(np.array([], dtype=int), np.zeros((0, 2)), ["a", "b"])
    assert (report["examples"], report["accuracy"], report["mean_confidence"]) == (0, 0.0, 0.0)
    assert report["confusion_matrix"]["rows_true_columns_predicted"] == [[0, 0], [0, 0]]


def test_softmax_is_stable_for_large_logits():
    probs = softmax(np.array([[1000.0, 1000.0], [0.0, np.log(3.0)], [-1000.0, 0.0]]))
    assert np.isfinite(probs).all()
    assert probs.tolist()[0] == [0.5, 0.5]
    assert probs[1] == pytest.approx([0.25, 0.75])
    assert probs[2] == pytest.approx([0.0, 1.0])
