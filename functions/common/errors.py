"""API errors: each becomes a JSON body `{"error": {"type", "message"}}` with its status code."""

from __future__ import annotations


class ApiError(Exception):
    # False for expected, passing answers that monitoring counts under their own metric (a model waking up),
    # so they do not read as backend errors
    counted_as_error = True

    def __init__(self, status: int, type_: str, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.retry_after = retry_after
