"""What the app must know about sitting behind an API Gateway REST API: its public URLs carry the stage.

A REST API's default URL is https://{id}.execute-api.{region}.amazonaws.com/{stage}/..., but the event's
`path` leaves the stage out, and Mangum hands the app that path with an empty root path. Links the app
builds (the docs page's openapi.json and assets, the OpenAPI `servers` entry Swagger UI's "Try it out"
calls) would then miss the stage and get 403 from API Gateway. This puts the stage back as the ASGI
root path, which FastAPI and Starlette use for every URL they build.
"""

from __future__ import annotations

from golive.contracts.routes import API_KEY_HEADER, PUBLIC_ROUTES


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


# --- what API Gateway asks of callers, declared in the OpenAPI document ----------------------------------------

SECURITY_SCHEMES = {
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": API_KEY_HEADER,
        "description": "the client's API key (outputs ApiKeyId* of the golive-<env>-api stack; "
        "`aws apigateway get-api-key --include-value --api-key <id>`)",
    },
    # the form API Gateway itself exports for these authorizers; Swagger UI cannot sign SigV4 requests
    "sigv4": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "x-amazon-apigateway-authtype": "awsSigv4",
        "description": "a SigV4 signature (service execute-api) by a principal allowed execute-api:Invoke",
    },
    "cognito": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "x-amazon-apigateway-authtype": "cognito_user_pools",
        "description": "a token of the API's Cognito user pool (an access token when scopes are required)",
    },
}
AUTHORIZER_SCHEMES = {"none": (), "iam": ("sigv4",), "cognito": ("cognito",)}
GATEWAY_ERRORS = {
    403: "API Gateway refused the request: no or unknown API key, or credentials the authorizer rejects",
    429: "API Gateway throttled the request (the key's or the stage's rate, or its daily quota): retry after "
    "`Retry-After` seconds when it is given",
}


def declare_security(document: dict, api_key_required: bool, authorizer: str) -> None:
    """Declare on every operation but the public ones what API Gateway requires (the key, and the authorizer's
    credentials), and the 403 and 429 it answers, so clients and Swagger UI's "Authorize" send what is needed."""
    schemes = (("apiKey",) if api_key_required else ()) + AUTHORIZER_SCHEMES[authorizer]
    if not schemes:
        return
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update({name: SECURITY_SCHEMES[name] for name in schemes})
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    retry_after = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}
    for path, operations in document.get("paths", {}).items():
        if path in PUBLIC_ROUTES:
            continue
        for operation in operations.values():
            operation["security"] = [{name: [] for name in schemes}]
            responses = operation.setdefault("responses", {})
            responses.setdefault("403", {"description": GATEWAY_ERRORS[403], "content": error})
            responses.setdefault("429", {"description": GATEWAY_ERRORS[429], "content": error, "headers": retry_after})
