"""/docs from files the app serves itself: Swagger UI works offline, on a laptop and behind API Gateway.

FastAPI's default /docs loads Swagger UI from a CDN, so the page is blank without internet or where a CDN is
blocked. The files come from npm's swagger-ui-dist (Apache-2.0; version, licence and notices beside them in
static/swagger-ui/, refreshed with scripts/vendor_swagger_ui.sh). Every URL in the page starts with the
request's root path, so behind an API Gateway stage (/dev/docs) the page loads /dev/openapi.json.
"""

from __future__ import annotations

import base64
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from functions.common.errors import ApiError

ASSETS = Path(__file__).parent / "static" / "swagger-ui"
SWAGGER_UI_VERSION = (ASSETS / "VERSION").read_text().strip()
DOCS_URL = "/docs"
ASSETS_URL = "/docs/assets"
# what the page loads, and nothing else from that folder
MEDIA_TYPES = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8", "swagger-ui.css": "text/css; charset=utf-8"}
# a data: URL, not a route: API Gateway REST APIs pass binary bodies only for configured media types
FAVICON = "data:image/png;base64," + base64.b64encode((ASSETS / "favicon-32x32.png").read_bytes()).decode()
# validatorUrl None: Swagger UI would otherwise send the schema's URL to validator.swagger.io for a badge
SWAGGER_UI_PARAMETERS = {"validatorUrl": None, "tryItOutEnabled": True, "displayRequestDuration": True}


def install_docs(app: FastAPI) -> None:
    """Serve /docs and its assets. The app must be created with `docs_url=None, redoc_url=None` (ReDoc has no
    offline copy here, and a page that needs a CDN is what this module exists to avoid)."""

    @app.get(DOCS_URL, include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + app.openapi_url,
            title=f"{app.title} - docs",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js?v={SWAGGER_UI_VERSION}",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css?v={SWAGGER_UI_VERSION}",
            swagger_favicon_url=FAVICON,
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )

    @app.get(ASSETS_URL + "/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name not in MEDIA_TYPES:
            raise ApiError(404, "not_found", f"no docs asset {name!r}; the docs page is at {DOCS_URL}")
        # the URL carries the version, so a browser may keep the file until the version changes
        return Response(
            (ASSETS / name).read_bytes(),
            media_type=MEDIA_TYPES[name],
            headers={"Cache-Control": "public, max-age=604800, immutable"},
        )
