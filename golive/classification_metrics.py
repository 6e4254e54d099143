"""Classification metrics from labels and probabilities (numpy only: used by training and serving)."""

from __future__ import annotations

from typing import Any

import numpy as np


def classification_report(y_true: np.ndarray, probs: np.ndarray, labels: list[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1, confusion matrix and the monitoring baseline.

    The baseline (predicted-label share, mean confidence) is what monitoring compares live traffic with.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    n_classes = len(labels)
    y_pred = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=np.int64)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)  # rows: true, columns: predicted
    np.add.at(confusion, (y_true, y_pred), 1)

    per_class = {}
    f1s = []
    for i, name in enumerate(labels):
        tp = confusion[i, i]
        predicted = confusion[:, i].sum()
        actual = confusion[i, :].sum()
        precision = float(tp / predicted) if predicted else 0.0
        recall = float(tp / actual) if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        f1s.append(f1)
        per_class[name] = {"precision": precision, "recall": recall, "f1": f1, "support": int(actual)}

    total = len(y_true)
    predicted_counts = confusion.sum(axis=0)
    true_counts = confusion.sum(axis=1)
    return {
        "examples": total,
        "accuracy": float((y_pred == y_true).mean()) if total else 0.0,
        "macro_f1": float(np.mean(f1s)) if f1s else 0.0,
        "per_class": per_class,
        "confusion_matrix": {"labels": labels, "rows_true_columns_predicted": confusion.tolist()},
        "label_distribution": {name: float(true_counts[i] / total) if total else 0.0 for i, name in enumerate(labels)},
        "predicted_label_distribution": {
            name: float(predicted_counts[i] / total) if total else 0.0 for i, name in enumerate(labels)
        },
        "mean_confidence": float(probs.max(axis=1).mean()) if total else 0.0,
    }


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    probs: np.ndarray = exp / exp.sum(axis=-1, keepdims=True)
    return probs
