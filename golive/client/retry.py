"""The retry policy: time limits per attempt and per call, which answers are worth another attempt, and the
jittered waits between attempts (see the package docstring for why each status is or is not retried)."""

from __future__ import annotations

import random

from golive.client.errors import GoliveError

API_GATEWAY_TIMEOUT_S = 29.0  # REST API integration timeout: API Gateway answers 504 by then
DEFAULT_TIMEOUT_S = 25.0  # per attempt: give up before API Gateway does, so a retry still fits
CONNECT_TIMEOUT_S = 5.0
DEFAULT_DEADLINE_S = 60.0  # per call, all attempts and waits included
DEFAULT_MAX_TEXTS = 64  # the server's GOLIVE_MAX_TEXTS default; learned from the server when it is lower
DEFAULT_MAX_ATTEMPTS = 5
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# retried whatever their status: API Gateway's 500 when it could not invoke the function (throttled at its
# reserved concurrency), and no answer at all (connection errors and timeouts); never: a used-up daily quota,
# which no wait within a call's deadline renews. Any other 500 is a server's bug, which a retry repeats.
RETRY_TYPES = frozenset({"bad_gateway", "connection_error"})
NO_RETRY_TYPES = frozenset({"quota_exceeded"})


def retryable(error: GoliveError) -> bool:
    """Worth another attempt: refused before any work (429, 503), or lost on the way (502, 504, API Gateway's
    bad_gateway, no answer), as long as waiting can help."""
    if error.type in NO_RETRY_TYPES:
        return False
    return error.status in RETRY_STATUSES or error.type in RETRY_TYPES


def backoff_seconds(attempt: int, backoff: float, max_backoff: float) -> float:
    """Full jitter (AWS's "exponential backoff and jitter"): clients that failed together retry apart."""
    return random.uniform(0, min(max_backoff, backoff * 2 ** (attempt - 1)))
