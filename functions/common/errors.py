"""API errors: each becomes a JSON body `{"error": {"type", "message"}}` with its status code."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, type_: str, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.retry_after = retry_after
