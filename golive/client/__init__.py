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
(429 `quota_exceeded`) is not: it renews at midnight UTC; nor is any other 500 (golive's `internal_error`, or
another server's `server_error` page): a bug there, which the same request repeats. Waits are jittered exponential backoff. Nothing is
retried past the caller's deadline, and no attempt waits longer than API Gateway's 29 s limit.

Modules: `models` (what the API returns), `errors`, `retry` (the policy), `plans` (the logic), `sync` and
`aio` (the two clients). The Lambda never imports this package (httpx is not in its package;
infra.assets.lambda_package leaves it out).
"""

from __future__ import annotations

from golive.client.aio import AsyncClient
from golive.client.errors import (
    GATEWAY_ERROR_TYPES,
    DeadlineExceeded,
    GoliveError,
    error_from_response,
    retry_after_seconds,
)
from golive.client.models import Feedback, LabelScore, Prediction, PredictResult, parse_feedback, parse_predictions
from golive.client.plans import learned_limit
from golive.client.retry import (
    API_GATEWAY_TIMEOUT_S,
    CONNECT_TIMEOUT_S,
    DEFAULT_DEADLINE_S,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_TEXTS,
    DEFAULT_TIMEOUT_S,
    NO_RETRY_TYPES,
    RETRY_STATUSES,
    RETRY_TYPES,
    retryable,
)
from golive.client.sync import Client

__all__ = [
    "API_GATEWAY_TIMEOUT_S",
    "CONNECT_TIMEOUT_S",
    "DEFAULT_DEADLINE_S",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_MAX_TEXTS",
    "DEFAULT_TIMEOUT_S",
    "GATEWAY_ERROR_TYPES",
    "NO_RETRY_TYPES",
    "RETRY_STATUSES",
    "RETRY_TYPES",
    "AsyncClient",
    "Client",
    "DeadlineExceeded",
    "Feedback",
    "GoliveError",
    "LabelScore",
    "PredictResult",
    "Prediction",
    "error_from_response",
    "learned_limit",
    "parse_feedback",
    "parse_predictions",
    "retry_after_seconds",
    "retryable",
]
