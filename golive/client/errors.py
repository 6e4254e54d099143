"""The client's errors, and how an error answer becomes one: golive's body shape, API Gateway's own, or none."""

from __future__ import annotations

import html
import re
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
    location = response.headers.get("location")
    if response.is_redirect and location:  # redirects are not followed: a POST would be resent as a GET
        return GoliveError(
            f"http_{response.status_code}",
            f"{response.reason_phrase}: the server redirects to {_absolute(response, location)}; "
            "use that URL (its scheme, host and stage) as base_url",
            response.status_code,
        )
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
    # neither golive's body nor API Gateway's (a proxy's page, another server): a 500 here is that server's bug,
    # not API Gateway failing to invoke the function, so it is not named (and retried as) bad_gateway
    status = response.status_code
    return GoliveError(
        "server_error" if status == 500 else GATEWAY_ERROR_TYPES.get(status, f"http_{status}"),
        readable_text(response) or response.reason_phrase,
        status,
        retry_after,
    )


def _absolute(response: httpx.Response, location: str) -> str:
    try:
        return str(response.request.url.join(location))
    except RuntimeError:  # a response built without its request
        return location


MESSAGE_CHARS = 200


def readable_text(response: httpx.Response) -> str:
    """An error page's text for a message: tags, scripts and styles left out, whitespace collapsed, cut short."""
    text = response.text
    if "html" in response.headers.get("content-type", "") or text.lstrip().startswith("<"):
        text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", text)
        text = html.unescape(re.sub(r"(?s)<[^>]*>", " ", text))
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


_TIMEOUT_PHASES: dict[type[httpx.RequestError], tuple[str, str]] = {
    httpx.ConnectTimeout: ("connect", "could not connect within {} s"),
    httpx.ReadTimeout: ("read", "the server did not answer within {} s"),
    httpx.WriteTimeout: ("write", "could not send the request within {} s"),
    httpx.PoolTimeout: ("pool", "no free connection within {} s"),
}


def error_from_exception(exc: httpx.RequestError) -> GoliveError:
    """A request that got no usable answer: `connection_error` (no answer: retried; a timeout says which and
    how long), or `bad_response` (an answer whose Content-Encoding does not decode: not retried)."""
    reason = str(exc).strip()
    if isinstance(exc, httpx.DecodingError):
        return GoliveError(
            "bad_response",
            f"the server's answer could not be decoded ({reason or type(exc).__name__}); check its "
            "Content-Encoding, or a proxy between that rewrites it",
        )
    phase = _TIMEOUT_PHASES.get(type(exc))
    if phase:
        try:
            limit = exc.request.extensions.get("timeout", {}).get(phase[0])
        except RuntimeError:  # raised without its request
            limit = None
        said = phase[1].format(f"{limit:g}") if isinstance(limit, int | float) else f"{phase[0]} timed out"
        reason = f"{said} (the client's timeout per attempt){f'; {reason}' if reason else ''}"
    return GoliveError("connection_error", f"{type(exc).__name__}: {reason or 'no reason given'}")
