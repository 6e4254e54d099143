"""The routes API Gateway passes on from anyone: no API key, no authorizer. infra's API stack builds its keyless
methods from this list, and the app declares every other route keyed in its OpenAPI document."""

from __future__ import annotations

API_KEY_HEADER = "x-api-key"  # where API Gateway reads a client's key
# the app answers these to GET only, read-only, no model call, safe to cache; every other route needs the key
PUBLIC_ROUTES = ("/v1/health", "/docs", "/docs/assets/{name}", "/openapi.json")
