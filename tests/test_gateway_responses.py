"""API Gateway's own errors (missing key, throttling, quota, timeouts, a function it could not invoke) in the API's
error shape: the gateway responses as synthesised, their Velocity templates rendered the way API Gateway renders
them, and golive.client reading what they say, in the new shape and the old one."""

from __future__ import annotations

import json

import httpx
import pytest

from golive.client import Client, GoliveError, error_from_response, retryable
from infra.constructs.gateway_responses import GATEWAY_ERRORS, MESSAGE_VARIABLE
from tests.conftest import running_server

# what API Gateway may put in $context.error.message, quotes, newlines and all (it substitutes the JSON-quoted form)
SAMPLE_MESSAGES = [
    "Forbidden",
    "Too Many Requests",
    "Limit Exceeded",
    "Internal server error",
    "Unauthorized",
    "User: arn:aws:sts::123456789012:assumed-role/app/i-0abc is not authorized to perform: execute-api:Invoke on "
    "resource: arn:aws:execute-api:us-east-1:123456789012:abc123/dev/POST/v1/predict with an explicit deny",
    "The request signature we calculated does not match.\n\nThe Canonical String was\n'POST\n/dev/v1/predict\n\"x\"'",
    "Jeton expiré \u2014 \\ \t \u0000 \U0001f600",
]
# what the client does with each: its type, and whether it retries
CLIENT_VIEW = {
    "forbidden": False,
    "unauthorized": False,
    "bad_request": False,
    "throttled": True,
    "quota_exceeded": False,
    "body_too_large": False,
    "gateway_timeout": True,
    "bad_gateway": True,
}


def render(template: str, message: str) -> str:
    """API Gateway's rendering of these templates: `$context.error.messageString` is the message, JSON-quoted."""
    return template.replace(MESSAGE_VARIABLE, json.dumps(message))


def gateway_responses(template) -> dict[str, dict]:
    return {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in template.find_resources("AWS::ApiGateway::GatewayResponse").values()
    }


def test_every_gateway_error_answers_the_error_shape_for_any_message(synthesized):
    deployed = gateway_responses(synthesized["dev"]["api"])
    assert set(deployed) == {e.response_type for e in GATEWAY_ERRORS}
    assert gateway_responses(synthesized["prod"]["api"]) == deployed
    assert {
        "DEFAULT_4XX",
        "DEFAULT_5XX",
        "INVALID_API_KEY",
        "MISSING_AUTHENTICATION_TOKEN",
        "THROTTLED",
        "QUOTA_EXCEEDED",
        "REQUEST_TOO_LARGE",
        "INTEGRATION_TIMEOUT",
        "WAF_FILTERED",
    } <= set(deployed)
    for error in GATEWAY_ERRORS:
        props = deployed[error.response_type]
        template = props["ResponseTemplates"]["application/json"]
        # the only Velocity in it is the message variable, so rendering it by substitution is rendering it
        assert template.replace(MESSAGE_VARIABLE, "").count("$") == 0 and "#" not in template
        assert props["ResponseParameters"]["gatewayresponse.header.Content-Type"] == "'application/json'"
        assert props.get("StatusCode") == (str(error.status) if error.status else None)
        for message in SAMPLE_MESSAGES:
            body = json.loads(render(template, message))
            assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}
            assert body["error"]["type"] == error.error_type and body["error"]["type"] in CLIENT_VIEW
            assert body["error"]["message"] == (message if error.message is None else error.message)


def test_throttling_says_when_to_retry_and_a_used_up_quota_says_when_it_renews(synthesized):
    deployed = gateway_responses(synthesized["dev"]["api"])
    assert deployed["THROTTLED"]["ResponseParameters"]["gatewayresponse.header.Retry-After"] == "'1'"
    assert deployed["THROTTLED"]["StatusCode"] == deployed["QUOTA_EXCEEDED"]["StatusCode"] == "429"
    assert "00:00 UTC" in render(deployed["QUOTA_EXCEEDED"]["ResponseTemplates"]["application/json"], "Limit Exceeded")
    assert "x-api-key" in render(deployed["INVALID_API_KEY"]["ResponseTemplates"]["application/json"], "Forbidden")
    # a 500 of API Gateway's own (Lambda refused the invocation) keeps its status, with the shape and a type
    assert "StatusCode" not in deployed["DEFAULT_5XX"]
    # a stage serves the gateway responses its deployment was made with: the deployment comes after them
    api = synthesized["dev"]["api"]
    (deployment,) = api.find_resources("AWS::ApiGateway::Deployment").values()
    assert set(api.find_resources("AWS::ApiGateway::GatewayResponse")) <= set(deployment["DependsOn"])


@pytest.mark.parametrize("error", GATEWAY_ERRORS, ids=lambda e: e.response_type)
def test_the_client_reads_each_gateway_error_and_retries_only_what_waiting_fixes(error):
    status = error.status or {"DEFAULT_4XX": 400, "DEFAULT_5XX": 500, "INTEGRATION_FAILURE": 500}[error.response_type]
    headers = {"content-type": "application/json"}
    if error.retry_after_s is not None:
        headers["retry-after"] = str(error.retry_after_s)
    response = httpx.Response(status, headers=headers, content=render(error.template(), "Forbidden").encode())
    read = error_from_response(response)
    assert (read.status, read.type) == (status, error.error_type)
    assert read.retry_after == error.retry_after_s
    assert retryable(read) is CLIENT_VIEW[error.error_type]


@pytest.mark.parametrize(
    "status,body,error_type,retried",
    [
        (403, {"message": "Forbidden"}, "forbidden", False),
        (429, {"message": "Too Many Requests"}, "throttled", True),
        (429, {"message": "Limit Exceeded"}, "quota_exceeded", False),
        (500, {"message": "Internal server error"}, "bad_gateway", True),
        (504, {"message": "Endpoint request timed out"}, "gateway_timeout", True),
        (500, {"error": {"type": "internal_error", "message": "a bug of ours"}}, "internal_error", False),
    ],
)
def test_the_client_still_reads_api_gateways_old_bodies(status, body, error_type, retried):
    read = error_from_response(httpx.Response(status, json=body))
    assert (read.status, read.type, retryable(read)) == (status, error_type, retried)


def test_a_function_throttled_at_its_reserved_concurrency_is_ridden_out_and_a_quota_is_not(tiny_bundle, tmp_path):
    """Over real HTTP: API Gateway's 500 (its DEFAULT_5XX response, as deployed) twice, then the app answers; a
    used-up quota fails at once, with the gateway's message."""
    from functions.api.local import create_local_app
    from functions.api.settings import Settings

    by_type = {e.response_type: e for e in GATEWAY_ERRORS}
    queued: list[tuple[int, str]] = [(500, by_type["DEFAULT_5XX"].template())] * 2
    app = create_local_app(Settings(model_dir=str(tiny_bundle), feedback_db=str(tmp_path / "feedback.sqlite3")))
    seen: list[str] = []

    async def gateway(scope, receive, send):
        if scope["type"] == "http":
            seen.append(scope["path"])
            if queued:
                status, template = queued.pop(0)
                await send(
                    {
                        "type": "http.response.start",
                        "status": status,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                return await send(
                    {"type": "http.response.body", "body": render(template, "Internal server error").encode()}
                )
        await app(scope, receive, send)

    with running_server(gateway) as url, Client(url, backoff=0.01, max_backoff=0.05) as api:
        assert len(api.predict("fine").predictions) == 1
        assert seen == ["/v1/predict"] * 3
        queued.append((429, by_type["QUOTA_EXCEEDED"].template()))
        with pytest.raises(GoliveError) as raised:
            api.predict("fine")
    assert (raised.value.status, raised.value.type) == (429, "quota_exceeded") and "00:00 UTC" in raised.value.message
    assert len(seen) == 4  # not retried
