"""A typed Python client for the golive API, local (`golive serve`) or deployed (API Gateway): `pip install
"golive[client]"`.

    from golive.client import Client

    with Client("https://abc123.execute-api.us-east-1.amazonaws.com/dev/", api_key=KEY) as api:
        result = api.predict(["great service", "never again"])      # any number of texts, in input order
        api.feedback(result.predictions[1].prediction_id, "negative")

`AsyncClient` is the same with `await`. Both run one implementation: the logic (splitting lists over the
server's per-request limit, retries, deadlines, parsing) is written without I/O, as generators that yield
the requests to send and the pauses to take; each client only carries those out with httpx.

Retries: 429 and 503 (the request was refused before any work: throttled, or the model endpoint is starting)
wait at least the server's `Retry-After`; 502, 504 and connection errors are retried too, because both
routes are safe to repeat: a prediction has no side effect but the metrics it counts, and feedback is
stored once per prediction id (a repeat answers `already_recorded`), and so is API Gateway's 500 `bad_gateway`
(it could not invoke the function, e.g. throttled at its reserved concurrency). A used-up daily quota
(429 `quota_exceeded`) is not: it renews at midnight UTC. Waits are jittered exponential backoff. Nothing is
retried past the caller's deadline, and no attempt waits longer than API Gateway's 29 s limit.

The Lambda never imports this module (httpx is not in its package; infra.assets.lambda_package leaves it out).
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Union

import httpx

from golive import __version__

API_GATEWAY_TIMEOUT_S = 29.0  # REST API integration timeout: API Gateway answers 504 by then
DEFAULT_TIMEOUT_S = 25.0  # per attempt: give up before API Gateway does, so a retry still fits
CONNECT_TIMEOUT_S = 5.0
DEFAULT_DEADLINE_S = 60.0  # per call, all attempts and waits included
DEFAULT_MAX_TEXTS = 64  # the server's GOLIVE_MAX_TEXTS default; learned from the server when it is lower
DEFAULT_MAX_ATTEMPTS = 5
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# retried whatever their status: API Gateway's 500 when it could not invoke the function (throttled at its
# reserved concurrency); never: a used-up daily quota, which no wait within a call's deadline renews
RETRY_TYPES = frozenset({"bad_gateway"})
NO_RETRY_TYPES = frozenset({"quota_exceeded"})
# API Gateway's own errors: golive's shape since its gateway responses (infra/constructs/gateway_responses.py),
# `{"message": ...}` from an API deployed before them, or from a proxy in between; these name the latter
GATEWAY_ERROR_TYPES = {401: "unauthorized", 403: "forbidden", 404: "not_found", 413: "body_too_large",
                       429: "throttled", 500: "bad_gateway", 502: "bad_gateway", 503: "service_unavailable",
                       504: "gateway_timeout"}


# --- what the API returns (the server's schemas: golive/contracts/schemas.py; tests/test_client.py checks they agree)

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


class GoliveError(Exception):
    """An error answer or a failed call: `type` and `message` are the server's (or, for API Gateway's own
    errors and connection failures, named here); `status` is the HTTP status (None: no answer)."""

    def __init__(self, type: str, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(f"{status} {type}: {message}" if status else f"{type}: {message}")
        self.type = type
        self.message = message
        self.status = status
        self.retry_after = retry_after


class DeadlineExceeded(GoliveError):
    """The call's deadline left no time for (another) attempt; `last_error` is what the last attempt got."""

    def __init__(self, message: str, last_error: GoliveError | None = None):
        super().__init__("deadline_exceeded", message, last_error.status if last_error else None)
        self.last_error = last_error


# --- the logic, without I/O ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Send:
    method: str
    path: str
    body: dict
    timeout: float


@dataclass(frozen=True)
class _Sleep:
    seconds: float


Outcome = Union[httpx.Response, httpx.TransportError, None]
Plan = Generator[Union[_Send, _Sleep], Outcome, Any]


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds: a number of seconds or an HTTP date (RFC 9110); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def error_from_response(response: httpx.Response) -> GoliveError:
    retry_after = retry_after_seconds(response.headers.get("retry-after"))
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("type"), str):
        return GoliveError(error["type"], str(error.get("message", "")), response.status_code, retry_after)
    if isinstance(body, dict) and isinstance(body.get("message"), str):  # API Gateway's own answer, old shape
        message = body["message"]
        if response.status_code == 403:
            message += " (API Gateway: send the API key in the x-api-key header; check the URL and its stage)"
        error_type = GATEWAY_ERROR_TYPES.get(response.status_code, f"http_{response.status_code}")
        if response.status_code == 429 and message == "Limit Exceeded":  # what API Gateway says of a used-up quota
            error_type = "quota_exceeded"
        return GoliveError(error_type, message, response.status_code, retry_after)
    return GoliveError(GATEWAY_ERROR_TYPES.get(response.status_code, f"http_{response.status_code}"),
                       response.text[:300] or response.reason_phrase, response.status_code, retry_after)


def retryable(error: GoliveError) -> bool:
    """Worth another attempt: refused before any work (429, 503), or lost on the way (502, 504, API Gateway's
    bad_gateway), as long as waiting can help."""
    if error.type in NO_RETRY_TYPES:
        return False
    return error.status in RETRY_STATUSES or error.type in RETRY_TYPES


def learned_limit(error: GoliveError, sent: int) -> int | None:
    """A smaller per-request limit from the server's 422 too_many_texts ("... send at most N per request"),
    or half of what was sent when the message does not say; None when this error is not about the limit."""
    if error.status != 422 or error.type != "too_many_texts" or sent <= 1:
        return None
    said = re.search(r"at most (\d+)", error.message)
    limit = int(said.group(1)) if said else sent // 2
    return limit if 1 <= limit < sent else None


def parse_predictions(data: Any, expected: int) -> PredictResult:
    try:
        predictions = tuple(
            Prediction(prediction_id=p["prediction_id"], label=p["label"], score=float(p["score"]),
                       top_k=None if p.get("top_k") is None else
                       tuple(LabelScore(s["label"], float(s["score"])) for s in p["top_k"]))
            for p in data["predictions"])
        result = PredictResult(model_version=data["model_version"], predictions=predictions)
    except (KeyError, TypeError, ValueError) as exc:
        raise GoliveError("bad_response", f"the server's answer is not a golive prediction ({exc!r})") from exc
    if len(predictions) != expected:
        raise GoliveError("bad_response", f"sent {expected} texts, got {len(predictions)} predictions")
    return result


def parse_feedback(data: Any) -> Feedback:
    try:
        return Feedback(prediction_id=data["prediction_id"], label=data["label"], correct=bool(data["correct"]),
                        status=data["status"])
    except (KeyError, TypeError) as exc:
        raise GoliveError("bad_response", f"the server's answer is not a golive feedback record ({exc!r})") from exc


class _Logic:
    """What to send and when to wait. Plans are generators: they yield `_Send` (and get back the response, or
    the httpx.TransportError) and `_Sleep` (and get back None), and return the call's result."""

    def __init__(self, timeout: float, deadline: float, max_texts: int, max_attempts: int, backoff: float,
                 max_backoff: float):
        if not 0 < timeout < API_GATEWAY_TIMEOUT_S:
            raise ValueError(f"timeout must be over 0 and under API Gateway's {API_GATEWAY_TIMEOUT_S:.0f} s, not {timeout}")
        if deadline <= 0 or max_texts < 1 or max_attempts < 1 or backoff < 0 or max_backoff < backoff:
            raise ValueError("deadline must be positive, max_texts and max_attempts at least 1, "
                             "and 0 <= backoff <= max_backoff")
        self.timeout, self.deadline, self.max_texts = timeout, deadline, max_texts
        self.max_attempts, self.backoff, self.max_backoff = max_attempts, backoff, max_backoff

    def deadline_at(self, deadline: float | None) -> float:
        return time.monotonic() + (self.deadline if deadline is None else deadline)

    def backoff_seconds(self, attempt: int) -> float:
        """Full jitter (AWS's "exponential backoff and jitter"): clients that failed together retry apart."""
        return random.uniform(0, min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))

    def call(self, method: str, path: str, body: dict, deadline_at: float) -> Plan:
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
                    return outcome.json()
                except ValueError as exc:
                    raise GoliveError("bad_response", "the server's answer is not JSON", outcome.status_code) from exc
            if isinstance(outcome, httpx.Response):
                error = error_from_response(outcome)
                if not retryable(error):
                    raise error
            else:
                error = GoliveError("connection_error", f"{type(outcome).__name__}: {outcome}")
            if time.monotonic() >= deadline_at:
                raise DeadlineExceeded(f"{method} {path} ran out of time after {attempt} attempt(s): {error}", error)
            if attempt == self.max_attempts:
                raise error
            wait = max(error.retry_after or 0.0, self.backoff_seconds(attempt))
            if time.monotonic() + wait >= deadline_at:
                raise DeadlineExceeded(f"{method} {path}: the next attempt would start after the deadline "
                                       f"(waiting {wait:.1f} s after {error})", error)
            yield _Sleep(wait)

    def predict(self, texts: str | Sequence[str], top_k: int | None, deadline: float | None) -> Plan:
        single = isinstance(texts, str)
        items = [texts] if single else list(texts)
        deadline_at = self.deadline_at(deadline)
        for _ in range(2):  # a deployment between two parts of a split list: predict all of it once more
            predictions: list[Prediction] = []
            versions: set[str] = set()
            position, size = 0, self.max_texts
            while True:
                part = items[position:position + size]
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
        raise GoliveError("model_changed", f"parts of this list were answered by different models ({sorted(versions)}), "
                                           "twice: a deployment is under way; call again shortly")

    def feedback(self, prediction_id: str, label: str, deadline: float | None) -> Plan:
        data = yield from self.call("POST", "/v1/feedback", {"prediction_id": prediction_id, "label": label},
                                    self.deadline_at(deadline))
        return parse_feedback(data)


# --- the two clients: each only carries out the plans ---------------------------------------------------------

def _http_options(base_url: str, api_key: str | None, headers: Mapping[str, str] | None,
                  auth: httpx.Auth | None) -> dict:
    merged = {"user-agent": f"golive-client/{__version__}", "accept": "application/json", **(headers or {})}
    if api_key:
        merged["x-api-key"] = api_key  # API Gateway's API key header; `golive serve` ignores it
    return {"base_url": base_url, "headers": merged, "auth": auth}


def _timeout(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=min(CONNECT_TIMEOUT_S, seconds))


class _ClientBase:
    _http_class: type

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout: float = DEFAULT_TIMEOUT_S,
                 deadline: float = DEFAULT_DEADLINE_S, max_texts: int = DEFAULT_MAX_TEXTS,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS, backoff: float = 0.5, max_backoff: float = 8.0,
                 headers: Mapping[str, str] | None = None, auth: httpx.Auth | None = None):
        self._logic = _Logic(timeout, deadline, max_texts, max_attempts, backoff, max_backoff)
        self._http = self._http_class(**_http_options(base_url, api_key, headers, auth))

    @property
    def max_texts(self) -> int:
        """Texts per request: the `max_texts` given, or the server's limit once a request learned it is lower."""
        return self._logic.max_texts


class Client(_ClientBase):
    """The golive API, synchronously. `base_url`: `http://127.0.0.1:8000` or the API's `ApiUrl` output (with
    its stage, e.g. `https://abc123.execute-api.us-east-1.amazonaws.com/dev/`). Use it as a context manager,
    or call close().

    `headers`: more headers on every request (a Cognito authorizer's token: `{"authorization": token}`); `auth`:
    an httpx.Auth that signs each request (the IAM authorizer: a SigV4 signer for service execute-api).
    `timeout`: seconds per attempt (under 29); `deadline`: seconds per call, retries and waits included (each
    call can pass its own); `max_texts`: texts per request (the server's limit is learned if lower);
    `max_attempts`, `backoff`, `max_backoff`: retries, and the jittered exponential waits between them."""

    _http_class = httpx.Client

    def predict(self, texts: str | Sequence[str], *, top_k: int | None = None,
                deadline: float | None = None) -> PredictResult:
        """Classify one text or any number of them; lists over the per-request limit are sent in parts."""
        return self._run(self._logic.predict(texts, top_k, deadline))

    def feedback(self, prediction_id: str, label: str, *, deadline: float | None = None) -> Feedback:
        """Report the true label of a prediction (stored once per prediction id)."""
        return self._run(self._logic.feedback(prediction_id, label, deadline))

    def _run(self, plan: Plan) -> Any:
        outcome: Outcome = None
        while True:
            try:
                step = plan.send(outcome)
            except StopIteration as done:
                return done.value
            if isinstance(step, _Sleep):
                time.sleep(step.seconds)
                outcome = None
                continue
            try:
                outcome = self._http.request(step.method, step.path, json=step.body, timeout=_timeout(step.timeout))
            except httpx.TransportError as exc:
                outcome = exc

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class AsyncClient(_ClientBase):
    """The golive API with asyncio; the same arguments, methods and behaviour as `Client`."""

    _http_class = httpx.AsyncClient

    async def predict(self, texts: str | Sequence[str], *, top_k: int | None = None,
                      deadline: float | None = None) -> PredictResult:
        return await self._run(self._logic.predict(texts, top_k, deadline))

    async def feedback(self, prediction_id: str, label: str, *, deadline: float | None = None) -> Feedback:
        return await self._run(self._logic.feedback(prediction_id, label, deadline))

    async def _run(self, plan: Plan) -> Any:
        outcome: Outcome = None
        while True:
            try:
                step = plan.send(outcome)
            except StopIteration as done:
                return done.value
            if isinstance(step, _Sleep):
                await asyncio.sleep(step.seconds)
                outcome = None
                continue
            try:
                outcome = await self._http.request(step.method, step.path, json=step.body,
                                                   timeout=_timeout(step.timeout))
            except httpx.TransportError as exc:
                outcome = exc

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()
