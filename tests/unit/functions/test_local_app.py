"""`golive serve`'s app (the Lambda's FastAPI app plus Prometheus /metrics) on the hand-written bundle, through
httpx (FastAPI's TestClient): what the API promises besides the Lambda's transport."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from functions.api.local import create_local_app
from functions.api.settings import Settings
from golive import bundle
from golive.contracts import telemetry
from golive.monitoring.local import parse
from golive.onnx_classifier import OnnxClassifier


@pytest.fixture()
def client(handmade_bundle, tmp_path) -> TestClient:
    return TestClient(
        create_local_app(
            Settings(
                model_dir=str(handmade_bundle),
                feedback_db=str(tmp_path / "f.sqlite3"),
                max_texts=8,
                max_chars=200,
                max_body_bytes=4096,
            )
        )
    )


def test_predict_and_classify_agree_with_the_onnx_classifier(client, handmade_bundle):
    texts = ["a wonderful, moving film", "cold food and rude staff", "it was fine"]
    probs = OnnxClassifier.from_bundle(handmade_bundle).predict_proba(texts)
    logits = OnnxClassifier.from_bundle(handmade_bundle).predict_logits(texts)
    body = client.post("/v1/predict", json={"inputs": texts, "top_k": 2}).json()
    assert [p["label"] for p in body["predictions"]] == ["positive", "negative", "positive"]
    for prediction, row in zip(body["predictions"], probs):
        assert [s["score"] for s in prediction["top_k"]] == pytest.approx(sorted(row.tolist(), reverse=True), abs=1e-6)
    # the Hugging Face route: every label by score; `none` gives the raw logits back
    raw = client.post("/v1/classify", json={"inputs": texts, "parameters": {"function_to_apply": "none"}}).json()
    got = [{item["label"]: item["score"] for item in row} for row in raw]
    assert np.allclose([[row["negative"], row["positive"]] for row in got], logits, atol=1e-5)


def test_metrics_carry_every_contract_family_and_the_bundles_baseline(client, handmade_bundle):
    client.post("/v1/predict", json={"inputs": ["great", "awful"]})
    client.post("/v1/predict", json={"inputs": ""})
    text = client.get("/metrics").text
    families = {
        family.name
        for family in text_string_to_metric_families(text)  # `_created`: a timestamp each
        if family.name.startswith("golive_") and not family.name.endswith("_created")
    }
    assert families == {value for name, value in vars(telemetry).items() if name.startswith("PROM_")}
    window, baseline = parse(text)
    assert baseline == bundle.read_metrics(handmade_bundle).baseline.monitored()
    assert window.predictions == {"positive": 1.0, "negative": 1.0}
    assert window.requests == 2.0  # one answered, one refused (422)


@pytest.mark.parametrize(
    "raw,status,error_type,fragment",
    [
        ('{"inputs": ["ok", "   "]}', 422, "empty_text", "`inputs[1]` is empty"),
        ('{"inputs": "x", "top_k": true}', 422, "invalid_request", "`top_k` must be an integer"),
        ('{"inputs": "x\\udbb1"}', 422, "invalid_text", "lone UTF-16 surrogate"),
        (json.dumps({"inputs": ["t"] * 9}), 422, "too_many_texts", "9 texts in one request; send at most 8"),
        (json.dumps({"inputs": ["y" * 150] * 30}), 413, "body_too_large", "over 4096 bytes"),
        ("[" * 3000, 422, "invalid_request", "nested too deeply"),
    ],
)
def test_bad_bodies_get_the_error_shape_and_are_counted(client, raw, status, error_type, fragment):
    response = client.post("/v1/predict", content=raw.encode(), headers={"content-type": "application/json"})
    assert response.status_code == status and response.headers["content-type"] == "application/json"
    assert response.json()["error"]["type"] == error_type and fragment in response.json()["error"]["message"]
    assert f'golive_errors_total{{status="{status}"}} 1.0' in client.get("/metrics").text
    declared = client.get("/openapi.json").json()["paths"]["/v1/predict"]["post"]["responses"][str(status)]
    assert declared["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}


def test_feedback_is_stored_once_in_sqlite(client, tmp_path):
    import sqlite3

    prediction = client.post("/v1/predict", json={"inputs": "awful"}).json()["predictions"][0]
    body = {"prediction_id": prediction["prediction_id"], "label": "positive"}
    assert [client.post("/v1/feedback", json=body).json()["correct"] for _ in range(2)] == [False, False]
    rows = sqlite3.connect(tmp_path / "f.sqlite3").execute("SELECT prediction_id, label FROM feedback").fetchall()
    assert rows == [(prediction["prediction_id"], "positive")]
    assert 'golive_feedback_total{correct="false"} 1.0' in client.get("/metrics").text
