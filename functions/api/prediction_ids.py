"""Prediction ids carry the predicted class, so feedback can be scored without storing every prediction.

Format: 32 hex characters of a random UUID, a dot, the class index (e.g. `3f2a...9c.1`).
"""

from __future__ import annotations

import re
import uuid

_PATTERN = re.compile(r"^[0-9a-f]{32}\.(\d{1,4})$")


def new_prediction_id(label_index: int) -> str:
    return f"{uuid.uuid4().hex}.{label_index}"


def predicted_index(prediction_id: str) -> int | None:
    """The class index a prediction id was issued for, or None if it is not one of ours."""
    match = _PATTERN.match(prediction_id)
    return int(match.group(1)) if match else None
