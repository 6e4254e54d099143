"""The Lambda entry point on the hand-written bundle: FastAPI through Mangum, fed recorded API Gateway events
(REST v1 and HTTP v2), as API Gateway invokes it."""

from __future__ import annotations

import json

import pytest

from golive import bundle
from golive.contracts import telemetry
from golive.errors import UserError
from golive.onnx_classifier import OnnxClassifier
from tests.conftest import LambdaContext, api_event, fresh_lambda_module

VERSIONS = ["rest_v1", "http_v2"]


def call(module, version: str, method: str, path: str, body=None) -> tuple[int, dict]:
    response = module.handler(api_event(version, method, path, body), LambdaContext())
    return response["statusCode"], json.loads(response["body"])


def emf_documents(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{") and '"_aws"' in line]


@pytest.mark.parametrize("version", VERSIONS)
def test_predict_answers_the_bundles_labels_and_emits_the_contracts_metrics(
    lambda_module, handmade_bundle, version, capsys
):
    texts = ["a wonderful film", "awful and rude", "great"]
    status, body = call(lambda_module, version, "POST", "/v1/predict", {"inputs": texts})
    assert status == 200
    expected = OnnxClassifier.from_bundle(handmade_bundle).predict_proba(texts)  # the Lambda serves int8
    assert [p["label"] for p in body["predictions"]] == ["positive", "negative", "positive"]
    assert [p["score"] for p in body["predictions"]] == pytest.approx(expected.max(1).tolist(), abs=1e-6)
    assert body["model_version"] == bundle.read_manifest(handmade_bundle).version_id

    emf = emf_documents(capsys.readouterr().out)
    names = {m["Name"] for doc in emf for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {
        telemetry.LATENCY,
        telemetry.BATCH_SIZE,
        telemetry.PREDICTIONS,
        telemetry.CONFIDENCE,
        telemetry.INPUT_CHARS,
        telemetry.PREDICTED_LABEL,
    } <= names
    assert {d["Namespace"] for doc in emf for d in doc["_aws"]["CloudWatchMetrics"]} == {telemetry.NAMESPACE}


@pytest.mark.parametrize("version", VERSIONS)
def test_feedback_round_trip_is_idempotent(lambda_module, version):
    _, body = call(lambda_module, version, "POST", "/v1/predict", {"inputs": "lovely"})
    prediction = body["predictions"][0]
    feedback = {"prediction_id": prediction["prediction_id"], "label": "positive"}
    assert call(lambda_module, version, "POST", "/v1/feedback", feedback) == (
        200,
        {**feedback, "correct": True, "status": "recorded"},
    )
    assert call(lambda_module, version, "POST", "/v1/feedback", feedback)[1]["status"] == "already_recorded"
    status, conflict = call(lambda_module, version, "POST", "/v1/feedback", {**feedback, "label": "negative"})
    assert status == 409 and conflict["error"]["type"] == "feedback_conflict"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "method,path,body,status,error_type",
    [
        ("POST", "/v1/predict", "{not json", 422, "invalid_request"),
        ("POST", "/v1/predict", {"inputs": " "}, 422, "empty_text"),
        ("POST", "/v1/predict", {"inputs": "x", "parameters": {}}, 422, "invalid_request"),
        ("POST", "/v1/predict", {"inputs": ["t"] * 65}, 422, "too_many_texts"),
        ("POST", "/v1/predict", {"inputs": "x" * 5001}, 422, "text_too_long"),
        ("POST", "/v1/classify", {"inputs": "x", "parameters": {"function_to_apply": "relu"}}, 422, "invalid_request"),
        ("POST", "/v1/feedback", {"prediction_id": "made-up", "label": "positive"}, 422, "unknown_prediction_id"),
        ("GET", "/nowhere", None, 404, "not_found"),
        ("GET", "/v1/predict", None, 405, "method_not_allowed"),
    ],
)
def test_client_mistakes_are_4xx_in_the_one_error_shape(lambda_module, version, method, path, body, status, error_type):
    got, answer = call(lambda_module, version, method, path, body)
    assert got == status, answer
    assert set(answer) == {"error"} and answer["error"]["type"] == error_type
    assert isinstance(answer["error"]["message"], str) and answer["error"]["message"]


@pytest.mark.parametrize("version", VERSIONS)
def test_health_and_model_describe_the_loaded_bundle(lambda_module, handmade_bundle, version):
    status, health = call(lambda_module, version, "GET", "/v1/health")
    assert status == 200 and health["model_loaded"] and health["backend"] == "onnx"
    assert "int8" in health["detail"]
    status, model = call(lambda_module, version, "GET", "/v1/model")
    assert status == 200 and model["manifest"]["labels"] == ["negative", "positive"]
    assert model["metrics"] == bundle.read_json(handmade_bundle, bundle.METRICS)


def test_a_cold_start_on_an_unfinished_bundle_fails_init_with_a_clear_error(tmp_path, monkeypatch):
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / bundle.TOKENIZER).write_text("{}")  # an interrupted write: files, no manifest
    monkeypatch.setenv("GOLIVE_MODEL_DIR", str(tmp_path / "half"))
    monkeypatch.setenv("GOLIVE_FEEDBACK_DB", str(tmp_path / "f.sqlite3"))
    with pytest.raises(UserError, match="not a complete model bundle"):
        fresh_lambda_module()


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "path,body,headers,status,error_type,message",
    [
        (  # a JSON body under another content type: say which header is wrong, not that the body is
            "/v1/predict",
            '{"inputs": "great"}',
            {"content-type": "application/xml"},
            422,
            "invalid_request",
            "request body was sent with Content-Type: application/xml; send JSON with Content-Type: application/json",
        ),
        (
            "/v1/explain",
            {"inputs": ["good"]},
            {},
            422,
            "invalid_request",
            "`inputs` must be one string (explain takes one text)",
        ),
        # only zero-width and format characters: nothing a tokenizer keeps
        ("/v1/predict", {"inputs": "\u200b"}, {}, 422, "empty_text", "`inputs` is empty or blank"),
        (
            "/v1/predict",
            {"inputs": ["ok", "\ufeff\u2060 \u200d"]},
            {},
            422,
            "empty_text",
            "`inputs[1]` is empty or blank",
        ),
        ("/v1/classify", {"inputs": "\u00ad\u200e"}, {}, 422, "empty_text", "`inputs` is empty or blank"),
        (  # the bundle reads 32 tokens: 33 words are over what the model takes, whatever the setting (64)
            "/v1/explain",
            {"inputs": " ".join(["good"] * 33)},
            {},
            422,
            "too_many_tokens",
            "the text has more than 30 tokens; an explanation takes at most 30 (the model reads at most 32 tokens, "
            "[CLS] and [SEP] included): send a shorter text",
        ),
    ],
)
def test_user_mistakes_are_named_through_api_gateway(
    lambda_module, version, path, body, headers, status, error_type, message
):
    response = lambda_module.handler(api_event(version, "POST", path, body, headers), LambdaContext())
    error = json.loads(response["body"])["error"]
    assert (response["statusCode"], error["type"]) == (status, error_type), error
    assert message in error["message"] and "GOLIVE_MAX_EXPLAIN_TOKENS" not in error["message"]


def test_the_openapi_document_states_the_explain_limit_the_model_allows(lambda_module):
    status, document = call(lambda_module, "rest_v1", "GET", "/openapi.json")
    inputs = document["components"]["schemas"]["ExplainRequest"]["properties"]["inputs"]
    assert status == 200 and inputs["x-max-tokens"] == 30 and "at most 30 tokens" in inputs["description"]


def test_a_cold_start_on_a_hand_edited_manifest_names_the_key(handmade_bundle, tmp_path, monkeypatch):
    import shutil

    shutil.copytree(handmade_bundle, tmp_path / "edited")
    manifest = json.loads((tmp_path / "edited" / bundle.MANIFEST).read_text())
    (tmp_path / "edited" / bundle.MANIFEST).write_text(json.dumps({**manifest, "labels": "negative"}))
    monkeypatch.setenv("GOLIVE_MODEL_DIR", str(tmp_path / "edited"))
    monkeypatch.setenv("GOLIVE_FEEDBACK_DB", str(tmp_path / "f.sqlite3"))
    with pytest.raises(UserError, match=r"manifest.json is not a valid bundle manifest: labels must be a list of at"):
        fresh_lambda_module()
