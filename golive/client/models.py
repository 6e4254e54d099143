"""What the API returns, as frozen dataclasses (the server's schemas: golive/contracts/schemas.py;
tests/test_client.py checks they agree), and the parsers that refuse anything else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from golive.client.errors import GoliveError


@dataclass(frozen=True)
class LabelScore:
    label: str
    score: float


@dataclass(frozen=True)
class Prediction:
    prediction_id: str  # send it back with feedback()
    label: str
    score: float
    top_k: tuple[LabelScore, ...] | None = None  # with predict(..., top_k=k)


@dataclass(frozen=True)
class PredictResult:
    model_version: str
    predictions: tuple[Prediction, ...]  # one per text, in input order


@dataclass(frozen=True)
class Feedback:
    prediction_id: str
    label: str
    correct: bool  # the true label is the one the model predicted
    status: str  # "recorded", or "already_recorded" for a repeat


def parse_predictions(data: Any, expected: int) -> PredictResult:
    try:
        predictions = tuple(
            Prediction(
                prediction_id=p["prediction_id"],
                label=p["label"],
                score=float(p["score"]),
                top_k=None
                if p.get("top_k") is None
                else tuple(LabelScore(s["label"], float(s["score"])) for s in p["top_k"]),
            )
            for p in data["predictions"]
        )
        result = PredictResult(model_version=data["model_version"], predictions=predictions)
    except (KeyError, TypeError, ValueError) as exc:
        raise GoliveError("bad_response", f"the server's answer is not a golive prediction ({exc!r})") from exc
    if len(predictions) != expected:
        raise GoliveError("bad_response", f"sent {expected} texts, got {len(predictions)} predictions")
    return result


def parse_feedback(data: Any) -> Feedback:
    try:
        return Feedback(
            prediction_id=data["prediction_id"],
            label=data["label"],
            correct=bool(data["correct"]),
            status=data["status"],
        )
    except (KeyError, TypeError) as exc:
        raise GoliveError("bad_response", f"the server's answer is not a golive feedback record ({exc!r})") from exc
