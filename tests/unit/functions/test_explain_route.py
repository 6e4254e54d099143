"""POST /v1/explain on the hand-written bundle through the API app (FastAPI's TestClient, real ONNX Runtime)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from functions.api.main import build_services, create_app
from functions.api.settings import Settings
from functions.api.telemetry import PrometheusTelemetry


@pytest.fixture()
def client(handmade_bundle, tmp_path) -> TestClient:
    settings = Settings(
        model_dir=str(handmade_bundle), feedback_db=str(tmp_path / "f.sqlite3"), max_chars=200, max_explain_tokens=8
    )
    return TestClient(create_app(build_services(settings, PrometheusTelemetry())))


def test_explain_matches_predict_and_maps_each_token_to_the_text(client):
    text = "Cold food, but LOVELY staff"
    body = client.post("/v1/explain", json={"inputs": text}).json()
    predicted = client.post("/v1/predict", json={"inputs": text}).json()["predictions"][0]
    assert body["label"] == predicted["label"] == "positive"
    assert body["score"] == pytest.approx(predicted["score"], abs=0.02)  # int8: quantised per batch
    assert body["method"] == "occlusion" and body["model_version"]
    assert [text[t["start"] : t["end"]] for t in body["tokens"]] == ["Cold", "food", ",", "but", "LOVELY", "staff"]
    by_word = {text[t["start"] : t["end"]]: t["attribution"] for t in body["tokens"]}
    assert by_word["LOVELY"] > 0 > by_word["Cold"]


@pytest.mark.parametrize(
    "raw,status,error_type,fragment",
    [
        (
            json.dumps({"inputs": "one two three four five six seven eight nine"}),
            422,
            "too_many_tokens",
            "the text has 9 tokens; an explanation takes at most 8 (its cost grows with the square of the length): "
            "send a shorter text (or have the deployment's GOLIVE_MAX_EXPLAIN_TOKENS raised, up to 30 for this model)",
        ),
        (json.dumps({"inputs": ["a", "b"]}), 422, "invalid_request", "`inputs` must be one string (explain takes one"),
        (json.dumps({"inputs": ["good"]}), 422, "invalid_request", "`inputs` must be one string (explain takes one"),
        (json.dumps({"inputs": "   "}), 422, "empty_text", "`inputs` is empty"),
        (json.dumps({"inputs": "x" * 201}), 422, "text_too_long", "the limit is 200"),
        (json.dumps({"inputs": "great", "top_k": 1}), 422, "invalid_request", "unknown field `top_k`"),
    ],
)
def test_refusals_use_the_error_contract_and_are_declared(client, raw, status, error_type, fragment):
    response = client.post("/v1/explain", content=raw.encode(), headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert response.json()["error"]["type"] == error_type and fragment in response.json()["error"]["message"]
    assert str(status) in client.get("/openapi.json").json()["paths"]["/v1/explain"]["post"]["responses"]


def test_the_openapi_document_states_the_limits(client):
    document = client.get("/openapi.json").json()
    inputs = document["components"]["schemas"]["ExplainRequest"]["properties"]["inputs"]
    assert inputs["type"] == "string" and inputs["maxLength"] == 200 and inputs["x-max-tokens"] == 8
    assert "at most 8 tokens" in inputs["description"]
    assert set(document["paths"]["/v1/explain"]["post"]["responses"]) == {"200", "413", "422", "500", "501"}


def test_a_sagemaker_deployment_says_explain_needs_the_onnx_backend(client, handmade_bundle, monkeypatch):
    from functions.api.backends import SageMakerBackend

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the client is built, never called
    settings = Settings(backend="sagemaker", endpoint_name="golive-test", model_dir=str(handmade_bundle))
    client.app.state.services.backend = SageMakerBackend(settings)
    response = client.post("/v1/explain", json={"inputs": "great"})
    assert response.status_code == 501 and response.json()["error"]["type"] == "explain_unavailable"
