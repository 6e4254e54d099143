"""`Client`: the golive API, synchronously."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TypeVar

import httpx

from golive.client.base import _ClientBase, _timeout
from golive.client.models import Feedback, PredictResult
from golive.client.plans import Outcome, Plan, _Sleep

_T = TypeVar("_T")


class Client(_ClientBase):
    """The golive API, synchronously. `base_url`: `http://127.0.0.1:8000` or the API's `ApiUrl` output (with
    its stage, e.g. `https://abc123.execute-api.us-east-1.amazonaws.com/dev/`). Use it as a context manager,
    or call close().

    `headers`: more headers on every request (a Cognito authorizer's token: `{"authorization": token}`); `auth`:
    an httpx.Auth that signs each request (the IAM authorizer: a SigV4 signer for service execute-api).
    `timeout`: seconds per attempt (under 29); `deadline`: seconds per call, retries and waits included (each
    call can pass its own); `max_texts`: texts per request (the server's limit is learned if lower);
    `max_attempts`, `backoff`, `max_backoff`: retries, and the jittered exponential waits between them.
    Arguments that cannot work (a base_url without http:// or https://, a timeout of 29 s or more) raise
    ValueError here, not at the first call; a text that is not valid Unicode raises `invalid_text` before sending."""

    _http_class = httpx.Client

    def predict(
        self, texts: str | Sequence[str], *, top_k: int | None = None, deadline: float | None = None
    ) -> PredictResult:
        """Classify one text or any number of them; lists over the per-request limit are sent in parts."""
        return self._run(self._logic.predict(texts, top_k, deadline))

    def feedback(self, prediction_id: str, label: str, *, deadline: float | None = None) -> Feedback:
        """Report the true label of a prediction (stored once per prediction id)."""
        return self._run(self._logic.feedback(prediction_id, label, deadline))

    def _run(self, plan: Plan[_T]) -> _T:
        outcome: Outcome = None
        while True:
            try:
                step = plan.send(outcome)
            except StopIteration as done:
                result: _T = done.value  # the plan's return value
                return result
            if isinstance(step, _Sleep):
                time.sleep(step.seconds)
                outcome = None
                continue
            try:
                outcome = self._http.request(step.method, step.path, json=step.body, timeout=_timeout(step.timeout))
            except httpx.RequestError as exc:  # no answer, or one that does not decode: the plan says which
                outcome = exc

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
