"""The client's errors, and how an error answer becomes one: golive's body shape, API Gateway's own, or none."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from golive.json_text import parse_json

# API Gateway's own errors: golive's shape since its gateway responses (infra/constructs/gateway_responses.py),
# `{"message": ...}` from an API deployed before them, or from a proxy in between; these name the latter
GATEWAY_ERROR_TYPES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    413: "body_too_large",
    429: "throttled",
    500: "bad_gateway",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


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


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds: a number of seconds or an HTTP date (RFC 9110); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # isdigit() alone also takes '²', which float() refuses
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # '-0000' gives a time with no zone; an HTTP date is always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_from_response(response: httpx.Response) -> GoliveError:
    retry_after = retry_after_seconds(response.headers.get("retry-after"))
    try:
        body = parse_json(response.content)
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("type"), str) and error["type"]:
        return GoliveError(error["type"], str(error.get("message", "")), response.status_code, retry_after)
    if isinstance(body, dict) and isinstance(body.get("message"), str):  # API Gateway's own answer, old shape
        message = body["message"]
        if response.status_code == 403:
            message += " (API Gateway: send the API key in the x-api-key header; check the URL and its stage)"
        error_type = GATEWAY_ERROR_TYPES.get(response.status_code, f"http_{response.status_code}")
        if response.status_code == 429 and message == "Limit Exceeded":  # what API Gateway says of a used-up quota
            error_type = "quota_exceeded"
        return GoliveError(error_type, message, response.status_code, retry_after)
    return GoliveError(
        GATEWAY_ERROR_TYPES.get(response.status_code, f"http_{response.status_code}"),
        response.text[:300] or response.reason_phrase,
        response.status_code,
        retry_after,
    )
