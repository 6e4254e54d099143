"""HTTP plumbing shared by the API and the endpoint container: one error body for every error (ours,
FastAPI's and Starlette's), friendly validation messages, and the request-body guard. One place, so
both refuse bad input the same way, and every error is counted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from functions.common.errors import ApiError

UNION_TAGS = {"str", "list[str]"}  # pydantic names the branches of `str | list[str]` in error locations


def printable(text: str) -> str:
    """`text` with lone surrogates (from JSON escapes like "\\udbb1") spelled out, so it can be sent as UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def error_response(
    status: int,
    type_: str,
    message: str,
    retry_after: int | None = None,
    details: list | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, dict[str, Any]] = {"error": {"type": type_, "message": printable(message)}}
    if details:
        body["error"]["details"] = details
    headers = dict(headers or {})
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    return JSONResponse(body, status_code=status, headers=headers or None)


def describe_validation_error(err: dict, content_type: str = "") -> str:
    """What to fix, for one of pydantic's errors; `content_type`: the request's, which decides how FastAPI read
    the body."""
    loc = [part for part in err.get("loc", ()) if part != "body" and part not in UNION_TAGS]
    union = any(part in UNION_TAGS for part in err.get("loc", ()))
    field = loc[0] if loc else ""
    for part in loc[1:]:
        field += f"[{part}]" if isinstance(part, int) else f".{part}"
    kind = err.get("type", "")
    if kind == "json_invalid":
        return f'request body is not valid JSON ({err.get("ctx", {}).get("error", "parse error")}); send JSON like {{"inputs": "text"}}'
    if kind == "extra_forbidden":
        return f"unknown field `{field}`; remove it"
    if kind == "missing":
        return f"`{field}` is required" if field else 'request body is required; send JSON like {"inputs": "text"}'
    if kind == "string_unicode":
        where = f"`{field}`" if field else "request body"
        return f"{where} holds a lone UTF-16 surrogate (an escape like \\udbb1 is half a character); send valid Unicode"
    if kind in ("model_attributes_type", "dict_type"):
        if isinstance(err.get("input"), bytes):  # FastAPI reads a body as JSON only under a JSON content type
            return (
                f"request body was sent with Content-Type: {content_type.split(';')[0].strip()}; send JSON with "
                'Content-Type: application/json, like {"inputs": "text"}'
            )
        return 'request body must be a JSON object like {"inputs": "text"}'
    if field == "inputs" and kind in ("string_type", "list_type"):  # `str | list[str]`, or `str` alone (explain)
        return (
            "`inputs` must be a string or a list of strings"
            if union
            else "`inputs` must be one string (explain takes one text)"
        )
    if kind == "string_type":
        return f"`{field}` must be a string"
    if kind == "int_type":
        return f"`{field}` must be an integer"
    if kind == "bool_type":
        return f"`{field}` must be true or false"
    if kind == "greater_than_equal":
        return f"`{field}` must be at least {err.get('ctx', {}).get('ge')}"
    if kind == "literal_error":
        return f"`{field}` must be one of {err.get('ctx', {}).get('expected')}"
    return f"`{field}`: {err.get('msg', 'invalid value')}"


LENIENT_CONTENT_TYPES = (b"", b"application/x-www-form-urlencoded", b"text/plain")


class RequestBodyGuard:
    """Refuse bodies over the limit with 413 before the app reads them (streamed bytes count too), and read
    bodies sent without a JSON content type (`curl -d`, many HTTP clients' defaults) as the JSON they are."""

    def __init__(self, app, max_bytes: int, limit_note: str = "", record_error: Callable[[int], None] = lambda s: None):
        self.app = app
        self.max_bytes = max_bytes
        self.limit_note = limit_note  # where the limit comes from, when it is not ours
        self.record_error = record_error

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
        self.record_error(413)
        response = error_response(
            413,
            "body_too_large",
            f"request body is over {self.max_bytes} bytes{self.limit_note}; send fewer or shorter texts per request",
        )
        await response(scope, receive, send)


HTTP_ERROR_TYPES = {404: "not_found", 405: "method_not_allowed"}


def describe_http_error(request: Request, exc: HTTPException) -> tuple[int, str, str]:
    """Status, type and message for what Starlette or FastAPI refuse on their own."""
    if exc.status_code == 404:
        # request.url.path is the public path: behind an API Gateway stage it carries the stage (/dev/...)
        root = request.scope.get("root_path", "").rstrip("/")
        return (
            404,
            "not_found",
            f"no route {request.method} {request.url.path}; the routes are listed in {root}/openapi.json",
        )
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        return 405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}; use {allowed}"
    if exc.status_code == 400:  # FastAPI could not read the body; the reason is the exception's cause
        cause = exc.__cause__
        if isinstance(cause, UnicodeDecodeError):
            return (
                422,
                "invalid_request",
                (
                    "request body is not valid UTF-8 (byte "
                    f"{cause.object[cause.start : cause.start + 1]!r} at {cause.start}); send "
                    "JSON encoded as UTF-8"
                ),
            )
        if isinstance(cause, RecursionError):
            return (
                422,
                "invalid_request",
                'request body is nested too deeply to parse; send JSON like {"inputs": "text"}',
            )
        return 422, "invalid_request", 'request body could not be parsed; send JSON like {"inputs": "text"}'
    kind = HTTP_ERROR_TYPES.get(exc.status_code, "http_error")
    return exc.status_code, kind, str(exc.detail)


def hugging_face_field_hints(where: str) -> dict[str, str]:
    """`field_hints` for Hugging Face's request fields (`parameters`, `options`), saying `where` they are taken."""
    hint = f"Hugging Face's request shape (`parameters`, `options`) {where}"
    return {"parameters": hint, "options": hint}


def install_error_handlers(
    app: FastAPI, record_error: Callable[[int], None], logger, field_hints: dict[str, str] | None = None
) -> None:
    """Client mistakes become 4xx JSON bodies that say what to fix; only our own bugs are 500s.

    `field_hints`: what to add when a request carries a field this route does not take (where it belongs).
    """
    field_hints = field_hints or {}

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):  # 404, 405, unreadable bodies
        status, kind, message = describe_http_error(request, exc)
        record_error(status)
        headers = {"Allow": exc.headers["Allow"]} if exc.headers and "Allow" in exc.headers else None
        return error_response(status, kind, message, headers=headers)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        if exc.counted_as_error:
            record_error(exc.status)
        if exc.status >= 500 and exc.counted_as_error:
            logger.warning("backend error", extra={"type": exc.type, "status": exc.status})
        return error_response(exc.status, exc.type, exc.message, exc.retry_after)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        record_error(422)
        errors = exc.errors()
        if any(len(e.get("loc", ())) > 3 for e in errors):  # an item of `inputs` is wrong: say which, not the union
            errors = [e for e in errors if len(e.get("loc", ())) > 3 or e.get("loc", ("",))[-1] != "str"]
        content_type = request.headers.get("content-type", "")
        messages = list(dict.fromkeys(describe_validation_error(e, content_type) for e in errors))
        for e in errors:
            loc = [part for part in e.get("loc", ()) if part != "body"]
            if e.get("type") == "extra_forbidden" and len(loc) == 1 and loc[0] in field_hints:
                messages.append(field_hints[loc[0]])
        details = [{"loc": [printable(str(p)) for p in e.get("loc", ())], "type": e.get("type")} for e in errors]
        return error_response(422, "invalid_request", "; ".join(messages), details=details)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):  # a bug of ours, never a client mistake
        record_error(500)
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "the server failed on this request; it has been logged")
