"""The serving API: every route through FastAPI's TestClient, bad inputs, feedback idempotency, limits."""

from __future__ import annotations

import json

import boto3
import numpy as np
import pytest
from fastapi.testclient import TestClient
from moto import mock_aws

from functions.api.feedback_store import DynamoFeedbackStore
from functions.api.local import create_local_app
from functions.api.main import build_services, create_app
from functions.api.settings import Settings
from functions.api.telemetry import PrometheusTelemetry
from golive import bundle
from golive.onnx_classifier import OnnxClassifier


@pytest.fixture()
def settings(tiny_bundle, tmp_path) -> Settings:
    return Settings(
        model_dir=str(tiny_bundle),
        feedback_db=str(tmp_path / "feedback.sqlite3"),
        max_texts=8,
        max_chars=200,
        max_body_bytes=4096,
    )


@pytest.fixture()
def client(settings) -> TestClient:
    return TestClient(create_local_app(settings))


def test_predict_one_text_and_a_list_in_input_order(client, tiny_bundle):
    texts = ["a wonderful, moving film", "cold food and rude staff", "it was fine", "never again"]
    expected = OnnxClassifier.from_bundle(tiny_bundle).predict_proba(texts)
    response = client.post("/v1/predict", json={"inputs": texts})
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == bundle.read_manifest(tiny_bundle).version_id
    labels = bundle.read_manifest(tiny_bundle).labels
    assert [p["label"] for p in body["predictions"]] == [labels[i] for i in expected.argmax(1)]
    assert np.allclose([p["score"] for p in body["predictions"]], expected.max(1), atol=1e-6)
    assert len({p["prediction_id"] for p in body["predictions"]}) == 4
    ids = client.app.state.services.prediction_ids
    assert all(ids.verify(p["prediction_id"]).label_index == labels.index(p["label"]) for p in body["predictions"])
    assert "top_k" not in body["predictions"][0]

    single = client.post("/v1/predict", json={"inputs": texts[0]}).json()
    assert len(single["predictions"]) == 1 and single["predictions"][0]["label"] == body["predictions"][0]["label"]


def test_top_k_lists_labels_by_score(client):
    prediction = client.post("/v1/predict", json={"inputs": "great", "top_k": 5}).json()["predictions"][0]
    scores = [item["score"] for item in prediction["top_k"]]
    assert len(scores) == 2 and scores == sorted(scores, reverse=True)  # k over the labels: all of them, as in HF
    assert prediction["top_k"][0]["label"] == prediction["label"]
    assert sum(scores) == pytest.approx(1.0, abs=1e-5)
    # a JSON Schema integer may be written 2.0; true or "2" are not integers
    assert (
        len(client.post("/v1/predict", json={"inputs": "great", "top_k": 1.0}).json()["predictions"][0]["top_k"]) == 1
    )


def test_feedback_is_stored_once_per_prediction(client, settings):
    prediction = client.post("/v1/predict", json={"inputs": "lovely"}).json()["predictions"][0]
    first = client.post(
        "/v1/feedback", json={"prediction_id": prediction["prediction_id"], "label": prediction["label"]}
    )
    assert first.status_code == 200 and first.json() == {
        "prediction_id": prediction["prediction_id"],
        "label": prediction["label"],
        "correct": True,
        "status": "recorded",
    }
    retry = client.post(
        "/v1/feedback", json={"prediction_id": prediction["prediction_id"], "label": prediction["label"]}
    )
    assert retry.status_code == 200 and retry.json()["status"] == "already_recorded"
    other = "negative" if prediction["label"] == "positive" else "positive"
    conflict = client.post("/v1/feedback", json={"prediction_id": prediction["prediction_id"], "label": other})
    assert conflict.status_code == 409 and "already recorded" in conflict.json()["error"]["message"]
    metrics = client.get("/metrics").text
    assert 'golive_feedback_total{correct="true"} 1.0' in metrics  # the retry was not counted again

    import sqlite3

    rows = sqlite3.connect(settings.feedback_db).execute("SELECT prediction_id, label FROM feedback").fetchall()
    assert rows == [(prediction["prediction_id"], prediction["label"])]


@mock_aws
def test_feedback_in_dynamodb_is_idempotent(tiny_bundle, tmp_path):
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName="feedback",
        KeySchema=[{"AttributeName": "prediction_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "prediction_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client = TestClient(
        create_local_app(
            Settings(model_dir=str(tiny_bundle), feedback_table="feedback", signing_key_file=str(tmp_path / "keys"))
        )
    )
    assert isinstance(client.app.state.services.feedback, DynamoFeedbackStore)
    prediction = client.post("/v1/predict", json={"inputs": "great"}).json()["predictions"][0]
    body = {"prediction_id": prediction["prediction_id"], "label": "positive"}
    statuses = [client.post("/v1/feedback", json=body).json()["status"] for _ in range(3)]
    assert statuses == ["recorded", "already_recorded", "already_recorded"]
    items = ddb.scan(TableName="feedback")["Items"]
    assert len(items) == 1
    assert items[0]["predicted_label"]["S"] == prediction["label"]
    assert items[0]["correct"]["BOOL"] == (prediction["label"] == "positive")


def test_health_model_openapi_and_docs(client, tiny_bundle):
    health = client.get("/v1/health")
    assert health.status_code == 200
    assert (
        health.json().items()
        >= {"status": "ok", "model_loaded": True, "backend": "onnx", "backend_reachable": True}.items()
    )
    model = client.get("/v1/model").json()
    assert model["manifest"]["version_id"] == bundle.read_manifest(tiny_bundle).version_id
    assert "baseline" in model["metrics"]
    spec = client.get("/openapi.json").json()
    assert {"/v1/predict", "/v1/classify", "/v1/feedback", "/v1/health", "/v1/model"} <= set(spec["paths"])
    assert client.get("/docs").status_code == 200


def test_prometheus_metrics_count_traffic(client):
    client.post("/v1/predict", json={"inputs": ["one", "two", "three"]})
    client.post("/v1/predict", json={"inputs": ""})
    text = client.get("/metrics").text
    assert "golive_batch_size_count 1.0" in text
    assert "golive_predict_latency_seconds_count 1.0" in text
    assert 'golive_errors_total{status="422"} 1.0' in text
    counted = sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("golive_predictions_total"))
    assert counted == 3


def test_texts_are_not_logged_unless_enabled(tiny_bundle, tmp_path):
    import io
    import uuid

    from aws_lambda_powertools import Logger

    secret = "my account number is 12345"
    for log_texts in (False, True):
        stream = io.StringIO()
        logger = Logger(service=f"log-test-{uuid.uuid4().hex}", stream=stream)
        settings = Settings(model_dir=str(tiny_bundle), feedback_db=str(tmp_path / "f.db"), log_texts=log_texts)
        app = create_app(build_services(settings, PrometheusTelemetry(), logger))
        assert TestClient(app).post("/v1/predict", json={"inputs": secret}).status_code == 200
        line = json.loads(stream.getvalue().splitlines()[-1])
        assert line["message"] == "predicted" and line["batch_size"] == 1
        assert (secret in stream.getvalue()) is log_texts


def test_incomplete_bundle_is_refused_at_start(tmp_path):
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "tokenizer.json").write_text("{}")  # an interrupted write: some files, no manifest
    from golive.errors import UserError

    with pytest.raises(UserError, match="not a complete model bundle"):
        create_local_app(Settings(model_dir=str(tmp_path / "half"), feedback_db=str(tmp_path / "f.db")))


@pytest.mark.parametrize(
    "env,message",
    [
        ({"GOLIVE_BACKEND": "gpu"}, "backend"),
        ({"GOLIVE_BACKEND": "sagemaker"}, "GOLIVE_ENDPOINT_NAME must be set"),
        ({"GOLIVE_MAX_TEXTS": "0"}, "max_texts"),
        (
            {"GOLIVE_SAGEMAKER_READ_TIMEOUT_S": "20", "GOLIVE_ENDPOINT_NAME": "e", "GOLIVE_BACKEND": "sagemaker"},
            "over API Gateway's 29 s",
        ),
    ],
)
def test_bad_settings_name_the_variable(monkeypatch, env, message):
    from pydantic import ValidationError

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError, match=message):
        Settings()


def test_settings_read_golive_variables_and_arguments_win(monkeypatch, tiny_bundle):
    monkeypatch.setenv("GOLIVE_MAX_TEXTS", "12")
    monkeypatch.setenv("golive_log_texts", "true")  # any case, as on Lambda's console
    monkeypatch.setenv("GOLIVE_NOT_A_SETTING", "x")  # unknown variables are not ours to refuse
    settings = Settings(model_dir=str(tiny_bundle), max_chars=300)
    assert (settings.max_texts, settings.log_texts, settings.max_chars) == (12, True, 300)
    assert Settings(max_texts=3).max_texts == 3


def test_serve_runs_single_threaded_model_calls_one_more_than_the_cores(monkeypatch):
    from functions.api.local import serving_threads

    monkeypatch.delenv("GOLIVE_INFERENCE_WORKERS", raising=False)
    monkeypatch.delenv("GOLIVE_INTRA_OP_THREADS", raising=False)
    assert serving_threads(cores=4) == {"intra_op_threads": 1, "inference_workers": 5}
    monkeypatch.setenv("golive_inference_workers", "1")  # the environment still decides, in any case
    assert serving_threads(cores=4) == {"intra_op_threads": 1}


def test_model_calls_are_bounded_and_the_server_answers_while_they_run(tiny_bundle, tmp_path):
    """8 concurrent requests, 2 inference workers: at most 2 model calls at once, the rest queue, and the
    event loop stays free (health answers while both workers are busy); every request then succeeds."""
    import threading
    import time

    import requests

    from tests.conftest import running_server

    app = create_local_app(
        Settings(
            model_dir=str(tiny_bundle), feedback_db=str(tmp_path / "f.db"), inference_workers=2, intra_op_threads=1
        )
    )
    backend = app.state.services.backend
    real, lock, release = backend.predict_logits, threading.Lock(), threading.Event()
    running, peak = [0], [0]

    def held_predict(texts):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        release.wait(30)
        try:
            return real(texts)
        finally:
            with lock:
                running[0] -= 1

    backend.predict_logits = held_predict
    with running_server(app) as url:
        results: list[int] = []

        def call(i: int) -> None:
            results.append(
                requests.post(f"{url}/v1/predict", json={"inputs": f"text number {i}"}, timeout=60).status_code
            )

        callers = [threading.Thread(target=call, args=(i,)) for i in range(8)]
        for caller in callers:
            caller.start()
        deadline = time.monotonic() + 30
        while running[0] < 2:
            assert time.monotonic() < deadline, "the model calls never started"
            time.sleep(0.01)
        time.sleep(0.3)  # room for a third call to start, were the pool unbounded
        assert requests.get(f"{url}/v1/health", timeout=10).status_code == 200
        assert running[0] == 2
        release.set()
        for caller in callers:
            caller.join(60)
    assert results == [200] * 8 and peak[0] == 2
