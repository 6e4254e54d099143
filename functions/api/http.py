"""HTTP plumbing shared by the API and the endpoint container: JSON error bodies, friendly validation
messages, and the request-body guard. One place, so both refuse bad input the same way."""

from __future__ import annotations

import json
from typing import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from functions.api.errors import ApiError

UNION_TAGS = {"str", "list[str]"}  # pydantic names the branches of `str | list[str]` in error locations


def error_response(status: int, type_: str, message: str, retry_after: int | None = None,
                   details: list | None = None) -> JSONResponse:
    body = {"error": {"type": type_, "message": message}}
    if details:
        body["error"]["details"] = details
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return JSONResponse(body, status_code=status, headers=headers)


def describe_validation_error(err: dict) -> str:
    loc = [part for part in err.get("loc", ()) if part != "body" and part not in UNION_TAGS]
    field = loc[0] if loc else ""
    for part in loc[1:]:
        field += f"[{part}]" if isinstance(part, int) else f".{part}"
    kind = err.get("type", "")
    if kind == "json_invalid":
        return f"request body is not valid JSON ({err.get('ctx', {}).get('error', 'parse error')}); send JSON like {{\"inputs\": \"text\"}}"
    if kind == "extra_forbidden":
        return f"unknown field `{field}`; remove it"
    if kind == "missing":
        return f"`{field}` is required" if field else 'request body is required; send JSON like {"inputs": "text"}'
    if kind in ("model_attributes_type", "dict_type"):
        return 'request body must be a JSON object like {"inputs": "text"}'
    if field == "inputs" and kind in ("string_type", "list_type"):
        return "`inputs` must be a string or a list of strings"
    if kind == "string_type":
        return f"`{field}` must be a string"
    return f"`{field}`: {err.get('msg', 'invalid value')}"


LENIENT_CONTENT_TYPES = (b"", b"application/x-www-form-urlencoded", b"text/plain")


class RequestBodyGuard:
    """Refuse bodies over the limit with 413 before the app reads them (streamed bytes count too), and read
    bodies sent without a JSON content type (`curl -d`, many HTTP clients' defaults) as the JSON they are."""

    def __init__(self, app, max_bytes: int, limit_note: str = ""):
        self.app = app
        self.max_bytes = max_bytes
        self.limit_note = limit_note  # where the limit comes from, when it is not ours

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await self._refuse(scope, receive, send)
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if content_type in LENIENT_CONTENT_TYPES and body:
            headers[b"content-type"] = b"application/json"
            scope = {**scope, "headers": list(headers.items())}
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    async def _refuse(self, scope, receive, send):
        response = error_response(413, "body_too_large", f"request body is over {self.max_bytes} bytes{self.limit_note}; "
                                                         "send fewer or shorter texts per request")
        await response(scope, receive, send)


def install_error_handlers(app: FastAPI, record_error: Callable[[int], None], logger) -> None:
    """Client mistakes become 4xx JSON bodies that say what to fix; only our own bugs are 500s."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        record_error(exc.status)
        if exc.status >= 500:
            logger.warning("backend error", extra={"type": exc.type, "status": exc.status})
        return error_response(exc.status, exc.type, exc.message, exc.retry_after)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        record_error(422)
        errors = exc.errors()
        if any(len(e.get("loc", ())) > 3 for e in errors):  # an item of `inputs` is wrong: say which, not the union
            errors = [e for e in errors if len(e.get("loc", ())) > 3 or e.get("loc", ("",))[-1] != "str"]
        messages = list(dict.fromkeys(describe_validation_error(e) for e in errors))
        details = [{"loc": [str(p) for p in e.get("loc", ())], "type": e.get("type")} for e in errors]
        return error_response(422, "invalid_request", "; ".join(messages), details=json.loads(json.dumps(details)))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):  # a bug of ours, never a client mistake
        record_error(500)
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "the server failed on this request; it has been logged")
