"""What `Client` and `AsyncClient` share: their arguments, headers and per-attempt timeouts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from golive import __version__
from golive.client.plans import _Logic
from golive.client.retry import (
    CONNECT_TIMEOUT_S,
    DEFAULT_DEADLINE_S,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_TEXTS,
    DEFAULT_TIMEOUT_S,
)


def checked_base_url(base_url: str) -> httpx.URL:
    """`base_url` as a URL, refused at construction when no request could reach it: a configuration mistake
    that retries would only repeat (`localhost:8000` has no scheme; httpx reads `localhost` as one)."""
    example = "e.g. http://127.0.0.1:8000 or the API's ApiUrl output"
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"base_url is not a valid URL ({exc}; got {base_url!r}); {example}") from None
    if url.scheme not in ("http", "https"):
        raise ValueError(f"base_url needs http:// or https:// (got {base_url!r}); {example}")
    if not url.host:
        raise ValueError(f"base_url names no host (got {base_url!r}); {example}")
    return url


def _http_options(
    base_url: str, api_key: str | None, headers: Mapping[str, str] | None, auth: httpx.Auth | None
) -> dict[str, Any]:
    merged = {"user-agent": f"golive-client/{__version__}", "accept": "application/json", **(headers or {})}
    if api_key:
        merged["x-api-key"] = api_key  # API Gateway's API key header; `golive serve` ignores it
    return {"base_url": checked_base_url(base_url), "headers": merged, "auth": auth}


def _timeout(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=min(CONNECT_TIMEOUT_S, seconds))


class _ClientBase:
    _http_class: type

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        deadline: float = DEFAULT_DEADLINE_S,
        max_texts: int = DEFAULT_MAX_TEXTS,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
    ):
        self._logic = _Logic(timeout, deadline, max_texts, max_attempts, backoff, max_backoff)
        self._http = self._http_class(**_http_options(base_url, api_key, headers, auth))

    @property
    def max_texts(self) -> int:
        """Texts per request: the `max_texts` given, or the server's limit once a request learned it is lower."""
        return self._logic.max_texts
