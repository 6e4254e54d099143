"""Model scores as the answer's ranked labels: the same order and ties for the API's routes and the endpoint."""

from __future__ import annotations

import numpy as np

from golive.contracts.schemas import LabelScore


def top_labels(row: np.ndarray, labels: list[str], k: int | None = None) -> list[LabelScore]:
    """Labels by score, highest first (ties in label order); the first k, or all when k is None or larger."""
    order = np.argsort(-row, kind="stable")[:k]
    return [LabelScore(label=labels[i], score=float(row[i])) for i in order]
