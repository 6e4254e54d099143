"""/docs behind API Gateway: the docs page, its assets and the OpenAPI document are keyless GET routes, and the
document declares the API key (and the authorizer's credentials) on every other operation, so Swagger UI's
"Authorize" and other OpenAPI clients send what API Gateway checks. Locally nothing changes: no key.

The document's security is exercised by schemathesis against the app behind a stand-in for API Gateway's key
check (answering the deployed INVALID_API_KEY gateway response): it sends the key where the document says, and
its `ignored_auth` check proves requests without it are refused.
"""

from __future__ import annotations

import collections
import json
import re

import pytest
from fastapi.testclient import TestClient

from functions.api.api_gateway import API_KEY_HEADER, PUBLIC_ROUTES
from functions.api.main import build_services, create_app
from functions.api.settings import Settings
from functions.api.telemetry import PrometheusTelemetry
from infra.constructs.gateway_responses import GATEWAY_ERRORS
from tests.conftest import LambdaContext, api_event, fresh_lambda_module

KEY = "k3y-for-the-fuzzer"
KEYED = {
    ("post", "/v1/predict"),
    ("post", "/v1/classify"),
    ("post", "/v1/explain"),
    ("post", "/v1/feedback"),
    ("get", "/v1/model"),
}


def make_app(tiny_bundle, tmp_path, **settings):
    from aws_lambda_powertools import Logger

    return create_app(
        build_services(
            Settings(
                model_dir=str(tiny_bundle),
                feedback_db=str(tmp_path / "feedback.sqlite3"),
                max_texts=8,
                max_chars=200,
                intra_op_threads=1,
                **settings,
            ),
            PrometheusTelemetry(),
            Logger(service="docs-test", level="ERROR"),
        )
    )


def operations(document: dict) -> dict[tuple[str, str], dict]:
    return {(method, path): op for path, ops in document["paths"].items() for method, op in ops.items()}


def test_locally_the_document_asks_for_no_key(tiny_bundle, tmp_path):
    document = make_app(tiny_bundle, tmp_path).openapi()
    assert "securitySchemes" not in document.get("components", {})
    assert not any("security" in op for op in operations(document).values())


@pytest.mark.parametrize(
    "authorizer,schemes", [("none", {"apiKey"}), ("iam", {"apiKey", "sigv4"}), ("cognito", {"apiKey", "cognito"})]
)
def test_deployed_the_document_declares_the_key_and_the_authorizer_on_every_keyed_operation(
    tiny_bundle, tmp_path, authorizer, schemes
):
    document = make_app(tiny_bundle, tmp_path, api_key_required=True, authorizer=authorizer).openapi()
    declared = document["components"]["securitySchemes"]
    assert set(declared) == schemes
    assert declared["apiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": declared["apiKey"]["description"],
    }
    found = operations(document)
    assert set(found) == KEYED | {("get", "/v1/health")}
    for key, op in found.items():
        if key in KEYED:
            assert op["security"] == [{name: [] for name in schemes}], key  # all of them, together
            assert {"403", "429"} <= set(op["responses"])
            assert op["responses"]["403"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorResponse"
            }
        else:
            assert "security" not in op, key

    from openapi_spec_validator import validate

    validate(document)  # a valid OpenAPI 3.1 document, security requirements and all


def test_the_keyless_routes_are_the_same_in_the_app_and_in_api_gateway(synthesized, tiny_bundle, tmp_path):
    from tests.test_api_auth import methods

    for env in ("dev", "prod"):
        public = sorted(route for route, m in methods(synthesized[env]["api"]).items() if not m.get("ApiKeyRequired"))
        assert public == sorted(f"ANY {path}" for path in PUBLIC_ROUTES)
        variables = next(
            iter(
                synthesized[env]["api"]
                .find_resources(
                    "AWS::Lambda::Function", {"Properties": {"Handler": "functions.lambda_handler.handler"}}
                )
                .values()
            )
        )["Properties"]["Environment"]["Variables"]
        assert variables["GOLIVE_API_KEY_REQUIRED"] == "true" and variables["GOLIVE_AUTHORIZER"] == "none"
    client = TestClient(make_app(tiny_bundle, tmp_path))
    for path in PUBLIC_ROUTES:  # each one a GET the app answers (no model call); other methods get its 405
        url = path.replace("{name}", "swagger-ui.css")
        assert client.get(url).status_code == 200, path
        refused = client.post(url, json={})
        assert refused.status_code == 405 and "GET" in refused.headers["allow"], path
        assert refused.json()["error"]["type"] == "method_not_allowed"


def test_through_the_lambda_the_document_declares_the_key_and_docs_are_served(tiny_bundle, tmp_path, monkeypatch):
    """The function as deployed (GOLIVE_API_KEY_REQUIRED from the stack), driven with real API Gateway events."""
    import sys

    for name, value in {
        "GOLIVE_MODEL_DIR": str(tiny_bundle),
        "GOLIVE_FEEDBACK_DB": str(tmp_path / "f.sqlite3"),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "GOLIVE_API_KEY_REQUIRED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    handler = fresh_lambda_module().handler
    try:
        answer = handler(api_event("rest_v1", "GET", "/openapi.json"), LambdaContext())
        document = json.loads(answer["body"])
        assert document["paths"]["/v1/predict"]["post"]["security"] == [{"apiKey": []}]
        assert "security" not in document["paths"]["/v1/health"]["get"]
        page = handler(api_event("rest_v1", "GET", "/docs"), LambdaContext())
        assert page["statusCode"] == 200 and "/prod/openapi.json" in page["body"]  # the recorded event's stage
    finally:
        sys.modules.pop("functions.lambda_handler", None)


class KeyCheck:
    """API Gateway's API key check in front of the app: keyed routes without the key get the deployed
    INVALID_API_KEY gateway response (403, the error shape)."""

    def __init__(self, app):
        self.app = app
        invalid_key = next(e for e in GATEWAY_ERRORS if e.response_type == "INVALID_API_KEY")
        self.refusal = invalid_key.template().encode()
        self.public = [re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", p) + "$") for p in PUBLIC_ROUTES]
        self.seen: collections.Counter = collections.Counter()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            key = dict(scope["headers"]).get(API_KEY_HEADER.encode())
            public = any(p.match(scope["path"]) for p in self.public)
            self.seen["public" if public else "with key" if key == KEY.encode() else "refused"] += 1
            if not public and key != KEY.encode():
                await send(
                    {"type": "http.response.start", "status": 403, "headers": [(b"content-type", b"application/json")]}
                )
                return await send({"type": "http.response.body", "body": self.refusal})
        await self.app(scope, receive, send)


def test_an_openapi_client_sends_the_key_where_the_document_says_and_keyless_calls_are_refused(tiny_bundle, tmp_path):
    schemathesis = pytest.importorskip("schemathesis")
    from schemathesis.config import SchemathesisConfig
    from schemathesis.engine import Status, events, from_schema

    app = make_app(tiny_bundle, tmp_path, api_key_required=True)
    gate = KeyCheck(app)
    config = SchemathesisConfig.from_dict(
        {
            "seed": 20261124,
            "checks": {"enabled": True},
            "generation": {"max-examples": 15, "deterministic": True, "database": "none"},
            "auth": {"openapi": {"apiKey": {"api_key": KEY}}},
            "operations": [
                {
                    "include-path": "/v1/feedback",
                    "checks": {
                        "positive_data_acceptance": {"expected-statuses": ["2xx", "403", "409", "422", "429", "5xx"]}
                    },
                }
            ],  # unsigned ids: see test_api_fuzz
        }
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", gate, config=config)
    cases, failures, errors, checked = 0, [], [], set()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            cases += len(event.recorder.cases)
            for checks in event.recorder.checks.values():
                failures += [
                    f"{event.recorder.label}: {c.name}: {c.failure_info.failure.title}"
                    for c in checks
                    if c.status == Status.FAILURE
                ]
                checked.update(c.name for c in checks)
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            errors.append(repr(getattr(event, "value", None) or getattr(event, "exception", None)))
    assert not errors, errors
    assert not failures, "\n".join(sorted(set(failures)))
    assert cases >= 50 and "ignored_auth" in checked
    # the key went with the generated requests, and schemathesis's probes without it were refused
    assert gate.seen["with key"] > 40 and gate.seen["refused"] >= 4 and gate.seen["public"] > 0, gate.seen
