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
                prediction_id=_string(p["prediction_id"], "prediction_id"),
                label=_string(p["label"], "label"),
                score=_number(p["score"], "score"),
                top_k=None
                if p.get("top_k") is None
                else tuple(
                    LabelScore(_string(s["label"], "top_k label"), _number(s["score"], "top_k score"))
                    for s in p["top_k"]
                ),
            )
            for p in _list(data["predictions"], "predictions")
        )
        result = PredictResult(model_version=_string(data["model_version"], "model_version"), predictions=predictions)
    except (KeyError, TypeError, ValueError) as exc:
        raise GoliveError("bad_response", f"the server's answer is not a golive prediction ({exc!r})") from exc
    if len(predictions) != expected:
        raise GoliveError("bad_response", f"sent {expected} texts, got {len(predictions)} predictions")
    return result


def parse_feedback(data: Any) -> Feedback:
    try:
        return Feedback(
            prediction_id=_string(data["prediction_id"], "prediction_id"),
            label=_string(data["label"], "label"),
            correct=_flag(data["correct"], "correct"),
            status=_string(data["status"], "status"),
        )
    except (KeyError, TypeError) as exc:
        raise GoliveError("bad_response", f"the server's answer is not a golive feedback record ({exc!r})") from exc


# each field as the server's schema types it (golive/contracts/schemas.py); TypeError naming it otherwise, so that
# an answer from something else (a proxy, another version) is a GoliveError here, not a wrong value later


def _string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} is {type(value).__name__}, not a string")
    return value


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} is {type(value).__name__}, not a number")
    try:
        return float(value)
    except OverflowError:  # an integer too large for a float
        raise ValueError(f"{name} is out of range") from None


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} is {type(value).__name__}, not true or false")
    return value


def _list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"{name} is {type(value).__name__}, not a list")
    return value
