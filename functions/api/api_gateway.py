"""What the app must know about sitting behind an API Gateway REST API: its public URLs carry the stage.

A REST API's default URL is https://{id}.execute-api.{region}.amazonaws.com/{stage}/..., but the event's
`path` leaves the stage out, and Mangum hands the app that path with an empty root path. Links the app
builds (the docs page's openapi.json and assets, the OpenAPI `servers` entry Swagger UI's "Try it out"
calls) would then miss the stage and get 403 from API Gateway. This puts the stage back as the ASGI
root path, which FastAPI and Starlette use for every URL they build.
"""

from __future__ import annotations


def public_prefix(event: dict) -> str:
    """The part of the public path before the event's path: "/dev" on the execute-api URL, "" where the
    two agree (HTTP APIs, custom domains)."""
    context = event.get("requestContext") or {}
    public, path = context.get("path"), event.get("path")
    if not (isinstance(public, str) and isinstance(path, str)) or public == path or not public.endswith(path):
        return ""
    return public[: len(public) - len(path)].rstrip("/")


class StagePrefix:
    """ASGI middleware: set root_path to the stage prefix of a REST API event (Mangum puts the event in the
    scope as `aws.event`); requests from anywhere else pass through unchanged."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        prefix = public_prefix(scope.get("aws.event") or {}) if scope["type"] == "http" else ""
        if prefix:
            # ASGI: `path` includes `root_path`; Starlette strips it again for routing
            scope = {**scope, "root_path": prefix, "path": prefix + scope["path"]}
        await self.app(scope, receive, send)
