"""The error contract, case by case: every error (ours, FastAPI's, Starlette's) is a 4xx with the body
`{"error": {"type", "message"}}`, is counted in the error metrics, and is a status the OpenAPI document
declares for that route. The same table runs through `golive serve`'s app and through the Lambda handler
with real API Gateway events."""

from __future__ import annotations

import json
import sys

import pytest
from fastapi.testclient import TestClient

from functions.api.local import create_local_app
from functions.api.settings import Settings
from tests.conftest import LambdaContext, api_event, fresh_lambda_module

JSON = "application/json"
LIMITS = {"max_texts": 8, "max_chars": 200, "max_body_bytes": 4096}

CASES = [
    # (method, path, raw body, content type, status, error type, message fragment)
    ("POST", "/v1/predict", '{"inputs": ""}', JSON, 422, "empty_text", "`inputs` is empty"),
    ("POST", "/v1/predict", '{"inputs": "", "top_k": null}', JSON, 422, "empty_text", "`inputs` is empty"),
    ("POST", "/v1/predict", '{"inputs": " \\t\\n\\u3000"}', JSON, 422, "empty_text", "`inputs` is empty"),
    ("POST", "/v1/predict", '{"inputs": ["ok", "   "]}', JSON, 422, "empty_text", "`inputs[1]` is empty"),
    ("POST", "/v1/predict", '{"inputs": []}', JSON, 422, "invalid_request", "`inputs` is an empty list"),
    ("POST", "/v1/predict", '{"inputs": [1, "x"]}', JSON, 422, "invalid_request", "`inputs[0]` must be a string"),
    ("POST", "/v1/predict", '{"inputs": 42}', JSON, 422, "invalid_request", "`inputs` must be a string or a list"),
    ("POST", "/v1/predict", '{"inputs": null}', JSON, 422, "invalid_request", "`inputs` must be a string or a list"),
    ("POST", "/v1/predict", '{"inputs": {"text": "x"}}', JSON, 422, "invalid_request", "`inputs` must be a string"),
    ("POST", "/v1/predict", '{"input": "x"}', JSON, 422, "invalid_request", "unknown field `input`"),
    (
        "POST",
        "/v1/predict",
        '{"inputs": "x", "parameters": {}}',
        JSON,
        422,
        "invalid_request",
        "unknown field `parameters`; remove it; Hugging Face's request shape",
    ),
    ("POST", "/v1/predict", '{"inputs": "x", "top_k": 0}', JSON, 422, "invalid_request", "`top_k` must be at least 1"),
    (
        "POST",
        "/v1/predict",
        '{"inputs": "x", "top_k": "two"}',
        JSON,
        422,
        "invalid_request",
        "`top_k` must be an integer",
    ),
    (
        "POST",
        "/v1/predict",
        '{"inputs": "x", "top_k": true}',
        JSON,
        422,
        "invalid_request",
        "`top_k` must be an integer",
    ),
    (
        "POST",
        "/v1/predict",
        '{"inputs": "x", "top_k": 1.5}',
        JSON,
        422,
        "invalid_request",
        "`top_k` must be an integer",
    ),
    ("POST", "/v1/predict", "{bad json", JSON, 422, "invalid_request", "request body is not valid JSON"),
    ("POST", "/v1/predict", '["x"]', JSON, 422, "invalid_request", "request body must be a JSON object"),
    ("POST", "/v1/predict", "", JSON, 422, "invalid_request", "request body is required"),
    (
        "POST",
        "/v1/predict",
        json.dumps({"inputs": ["t"] * 9}),
        JSON,
        422,
        "too_many_texts",
        "9 texts in one request; send at most 8",
    ),
    (
        "POST",
        "/v1/predict",
        json.dumps({"inputs": "x" * 201}),
        JSON,
        422,
        "text_too_long",
        "201 characters; the limit is 200",
    ),
    ("POST", "/v1/predict", json.dumps({"inputs": ["y" * 150] * 30}), JSON, 413, "body_too_large", "over 4096 bytes"),
    ("POST", "/v1/predict", '{"inputs": ""}', "text/plain", 422, "empty_text", "`inputs` is empty"),
    # half a character: JSON lets a string escape a lone surrogate, which no tokenizer can take
    ("POST", "/v1/predict", '{"inputs": "x\\udbb1"}', JSON, 422, "invalid_text", "lone UTF-16 surrogate"),
    ("POST", "/v1/predict", '{"inputs": ["fine", "\\udc00y"]}', JSON, 422, "invalid_text", "`inputs[1]` holds a lone"),
    (
        "POST",
        "/v1/predict",
        '{"\\udbb1": 1, "inputs": "x"}',
        JSON,
        422,
        "invalid_request",
        "request body holds a lone UTF-16 surrogate",
    ),
    ("POST", "/v1/predict", b'{"inputs": "caf\xe9"}', JSON, 422, "invalid_request", "request body is not valid UTF-8"),
    # a surrogate encoded as UTF-8 bytes: Python's JSON reader lets it through ("surrogatepass"), the check does not
    (
        "POST",
        "/v1/predict",
        b'{"inputs": ["ok", "\xed\xae\xb1"]}',
        JSON,
        422,
        "invalid_text",
        "`inputs[1]` holds a lone",
    ),
    ("POST", "/v1/predict", "[" * 3000, JSON, 422, "invalid_request", "nested too deeply"),
    ("POST", "/v1/classify", '{"inputs": ""}', JSON, 422, "empty_text", "`inputs` is empty"),
    (
        "POST",
        "/v1/classify",
        '{"inputs": "x", "parameters": {"top_k": 0}}',
        JSON,
        422,
        "invalid_request",
        "`parameters.top_k` must be at least 1",
    ),
    (
        "POST",
        "/v1/classify",
        '{"inputs": "x", "parameters": {"top_k": true}}',
        JSON,
        422,
        "invalid_request",
        "`parameters.top_k` must be an integer",
    ),
    (
        "POST",
        "/v1/classify",
        '{"inputs": "x", "parameters": {"function_to_apply": "relu"}}',
        JSON,
        422,
        "invalid_request",
        "`parameters.function_to_apply` must be one of 'softmax', 'sigmoid' or 'none'",
    ),
    (
        "POST",
        "/v1/classify",
        '{"inputs": "x", "parameters": {"truncation": true}}',
        JSON,
        422,
        "invalid_request",
        "unknown field `parameters.truncation`",
    ),
    (
        "POST",
        "/v1/classify",
        '{"inputs": "x", "options": {"wait_for_model": "yes"}}',
        JSON,
        422,
        "invalid_request",
        "`options.wait_for_model` must be true or false",
    ),
    ("POST", "/v1/classify", '{"inputs": "x\\ud800"}', JSON, 422, "invalid_text", "lone UTF-16 surrogate"),
    (
        "POST",
        "/v1/feedback",
        '{"prediction_id": "made-up", "label": "positive"}',
        JSON,
        422,
        "unknown_prediction_id",
        "is not a prediction id issued by this deployment",
    ),
    (
        "POST",
        "/v1/feedback",
        '{"prediction_id": "0123456789abcdef0123456789abcdef.1", "label": "negative"}',
        JSON,
        422,
        "unknown_prediction_id",
        "is not a prediction id issued by this deployment",
    ),
    (
        "POST",
        "/v1/feedback",
        '{"prediction_id": "x\\udbb1", "label": "negative"}',
        JSON,
        422,
        "invalid_request",
        "`prediction_id` holds a lone UTF-16 surrogate",
    ),
    ("POST", "/v1/feedback", '{"prediction_id": "made-up"}', JSON, 422, "invalid_request", "`label` is required"),
    (
        "POST",
        "/v1/feedback",
        '{"prediction_id": "x", "label": "positive", "extra": 1}',
        JSON,
        422,
        "invalid_request",
        "unknown field `extra`",
    ),
    ("GET", "/nowhere", None, None, 404, "not_found", "no route GET /nowhere"),
    ("POST", "/v2/predict", '{"inputs": "x"}', JSON, 404, "not_found", "no route POST /v2/predict"),
    ("GET", "/v1/predict", None, None, 405, "method_not_allowed", "GET is not allowed on /v1/predict; use POST"),
    ("DELETE", "/v1/feedback", None, None, 405, "method_not_allowed", "use POST"),
    ("POST", "/v1/health", "{}", JSON, 405, "method_not_allowed", "POST is not allowed on /v1/health; use GET"),
]
IDS = [f"{i}-{case[0]} {case[1]} {case[5]}" for i, case in enumerate(CASES)]


def check_error_body(status: int, body: dict, case) -> None:
    _, _, _, _, expected_status, error_type, fragment = case
    assert status == expected_status, body
    assert set(body) == {"error"} and set(body["error"]) <= {"type", "message", "details"}, body
    assert body["error"]["type"] == error_type
    assert isinstance(body["error"]["message"], str) and fragment in body["error"]["message"], body


@pytest.fixture(scope="module")
def client(tiny_bundle, tmp_path_factory) -> TestClient:
    return TestClient(
        create_local_app(
            Settings(model_dir=str(tiny_bundle), **LIMITS, feedback_db=str(tmp_path_factory.mktemp("fb") / "f.sqlite3"))
        )
    )


def errors_counted(client: TestClient, status: int) -> float:
    prefix = f'golive_errors_total{{status="{status}"}} '
    return sum(
        float(line[len(prefix) :]) for line in client.get("/metrics").text.splitlines() if line.startswith(prefix)
    )


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_error_contract_on_golive_serve(client, case):
    method, path, raw, content_type, status = case[:5]
    before = errors_counted(client, status)
    headers = {"content-type": content_type} if content_type else {}
    content = raw.encode() if isinstance(raw, str) else raw
    response = client.request(method, path, content=content, headers=headers)
    check_error_body(response.status_code, response.json(), case)
    assert response.headers["content-type"] == "application/json"
    assert errors_counted(client, status) == before + 1
    if status == 405:
        assert response.headers["allow"] in ("GET", "POST")

    operation = client.get("/openapi.json").json()["paths"].get(path, {}).get(method.lower())
    if operation is not None:  # a route of ours: the status is declared, with the error body
        declared = operation["responses"][str(status)]
        assert declared["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}


@pytest.fixture(scope="module")
def lambda_handler(tiny_bundle, tmp_path_factory):
    """The Lambda module, imported once with the same limits (in the Lambda, settings come from the environment)."""
    tmp = tmp_path_factory.mktemp("lambda")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GOLIVE_MODEL_DIR", str(tiny_bundle))
        mp.setenv("GOLIVE_FEEDBACK_DB", str(tmp / "feedback.sqlite3"))
        mp.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        for name, value in LIMITS.items():
            mp.setenv(f"GOLIVE_{name.upper()}", str(value))
        yield fresh_lambda_module().handler
        sys.modules.pop("functions.lambda_handler", None)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_error_contract_through_the_lambda(lambda_handler, case, capsys):
    method, path, raw, content_type = case[:4]
    headers = {"Content-Type": content_type} if content_type else None
    response = lambda_handler(api_event("rest_v1", method, path, raw, headers=headers), LambdaContext())
    # behind the REST API's stage (/prod in the event), messages name the path the caller used
    staged = (*case[:6], case[6].replace(f" {path}", f" /prod{path}"))
    check_error_body(response["statusCode"], json.loads(response["body"]), staged)
    if case[5] == "not_found":
        assert "listed in /prod/openapi.json" in json.loads(response["body"])["error"]["message"]
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    counted = [doc["ClientErrors"] for doc in emf if "ClientErrors" in doc]
    assert counted in ([1.0], [[1.0]]), emf  # one EMF ClientErrors datapoint per error
