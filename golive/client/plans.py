"""The client's logic without I/O: plans are generators that yield the requests to send and the pauses to take,
and return the call's result; `Client` and `AsyncClient` only carry them out with httpx."""

from __future__ import annotations

import re
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from golive.client.errors import DeadlineExceeded, GoliveError, error_from_exception, error_from_response
from golive.client.models import Feedback, Prediction, PredictResult, parse_feedback, parse_predictions
from golive.client.retry import API_GATEWAY_TIMEOUT_S, backoff_seconds, retryable
from golive.json_text import parse_json


@dataclass(frozen=True)
class _Send:
    method: str
    path: str
    body: dict[str, Any]
    timeout: float


@dataclass(frozen=True)
class _Sleep:
    seconds: float


Outcome = httpx.Response | httpx.RequestError | None
_T = TypeVar("_T")
Plan = Generator[_Send | _Sleep, Outcome, _T]  # Plan[X]: a plan whose call returns an X


def learned_limit(error: GoliveError, sent: int) -> int | None:
    """A smaller per-request limit from the server's 422 too_many_texts ("... send at most N per request"),
    or half of what was sent when the message does not say; None when this error is not about the limit."""
    if error.status != 422 or error.type != "too_many_texts" or sent <= 1:
        return None
    said = re.search(r"at most (\d+)", error.message)
    limit = int(said.group(1)) if said else sent // 2
    return limit if 1 <= limit < sent else None


def check_unicode(field: str, text: object) -> None:
    """Refuse, before sending, a text that cannot be sent as UTF-8 JSON (the server's 422 wording)."""
    if not isinstance(text, str):
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise GoliveError(
            "invalid_text",
            f"`{field}` holds a lone UTF-16 surrogate at position {exc.start} (\\u{ord(text[exc.start]):04x} is half "
            "a character); send valid Unicode",
        ) from None


class _Logic:
    """What to send and when to wait. Plans are generators: they yield `_Send` (and get back the response, or
    the httpx.RequestError) and `_Sleep` (and get back None), and return the call's result."""

    def __init__(
        self, timeout: float, deadline: float, max_texts: int, max_attempts: int, backoff: float, max_backoff: float
    ):
        if not 0 < timeout < API_GATEWAY_TIMEOUT_S:
            raise ValueError(
                f"timeout must be over 0 and under API Gateway's {API_GATEWAY_TIMEOUT_S:.0f} s, not {timeout}"
            )
        if deadline <= 0 or max_texts < 1 or max_attempts < 1 or backoff < 0 or max_backoff < backoff:
            raise ValueError(
                "deadline must be positive, max_texts and max_attempts at least 1, and 0 <= backoff <= max_backoff"
            )
        self.timeout, self.deadline, self.max_texts = timeout, deadline, max_texts
        self.max_attempts, self.backoff, self.max_backoff = max_attempts, backoff, max_backoff

    def deadline_at(self, deadline: float | None) -> float:
        return time.monotonic() + (self.deadline if deadline is None else deadline)

    def call(self, method: str, path: str, body: dict[str, Any], deadline_at: float) -> Plan[Any]:
        """One request with its retries; returns the answer's JSON or raises GoliveError."""
        attempt = 0
        while True:
            attempt += 1
            left = deadline_at - time.monotonic()
            if left <= 0:
                raise DeadlineExceeded(f"no time left for {method} {path} (attempt {attempt})")
            outcome = yield _Send(method, path, body, min(self.timeout, left))
            if isinstance(outcome, httpx.Response) and outcome.is_success:
                try:
                    return parse_json(outcome.content)
                except ValueError as exc:
                    raise GoliveError("bad_response", "the server's answer is not JSON", outcome.status_code) from exc
            assert outcome is not None  # a _Send is answered with a response or the error raised instead
            error = (
                error_from_response(outcome) if isinstance(outcome, httpx.Response) else error_from_exception(outcome)
            )
            if not retryable(error):
                raise error
            if time.monotonic() >= deadline_at:
                raise DeadlineExceeded(f"{method} {path} ran out of time after {attempt} attempt(s): {error}", error)
            if attempt == self.max_attempts:
                raise error
            wait = max(error.retry_after or 0.0, backoff_seconds(attempt, self.backoff, self.max_backoff))
            if time.monotonic() + wait >= deadline_at:
                raise DeadlineExceeded(
                    f"{method} {path}: the next attempt would start after the deadline "
                    f"(waiting {wait:.1f} s after {error})",
                    error,
                )
            yield _Sleep(wait)

    def predict(self, texts: str | Sequence[str], top_k: int | None, deadline: float | None) -> Plan[PredictResult]:
        single = isinstance(texts, str)
        items = [texts] if single else list(texts)
        for index, text in enumerate(items):
            check_unicode("inputs" if single else f"inputs[{index}]", text)
        deadline_at = self.deadline_at(deadline)
        for _ in range(2):  # a deployment between two parts of a split list: predict all of it once more
            predictions: list[Prediction] = []
            versions: set[str] = set()
            position, size = 0, self.max_texts
            while True:
                part = items[position : position + size]
                body: dict[str, Any] = {"inputs": texts if single else part}
                if top_k is not None:
                    body["top_k"] = top_k
                try:
                    data = yield from self.call("POST", "/v1/predict", body, deadline_at)
                except GoliveError as error:
                    if error.status == 413 and len(part) > 1:  # long texts: smaller parts for this call
                        size = len(part) // 2
                        continue
                    limit = learned_limit(error, len(part))
                    if limit is None:
                        raise
                    self.max_texts = size = limit  # the server's limit is lower than ours: keep it for later calls
                    continue
                result = parse_predictions(data, len(part))
                predictions += result.predictions
                versions.add(result.model_version)
                position += len(part)
                if position >= len(items):
                    break
            if len(versions) == 1:
                return PredictResult(model_version=versions.pop(), predictions=tuple(predictions))
        raise GoliveError(
            "model_changed",
            f"parts of this list were answered by different models ({sorted(versions)}), "
            "twice: a deployment is under way; call again shortly",
        )

    def feedback(self, prediction_id: str, label: str, deadline: float | None) -> Plan[Feedback]:
        check_unicode("prediction_id", prediction_id)
        check_unicode("label", label)
        data = yield from self.call(
            "POST", "/v1/feedback", {"prediction_id": prediction_id, "label": label}, self.deadline_at(deadline)
        )
        return parse_feedback(data)
