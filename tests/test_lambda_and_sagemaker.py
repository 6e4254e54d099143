"""The Lambda handler with real API Gateway v1/v2 events, and the SageMaker backend against moto."""

from __future__ import annotations

import gc
import importlib
import io
import json
import math
import os
import shutil
import subprocess
import sys

import boto3
import pytest
import requests
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber
from fastapi.testclient import TestClient
from moto import mock_aws

from functions.api.backends import SageMakerBackend
from functions.api.main import build_services, create_app
from functions.api.settings import Settings
from functions.api.telemetry import PrometheusTelemetry
from golive import bundle
from golive.errors import UserError
from tests.conftest import REPO, LambdaContext, api_event


@pytest.mark.parametrize("version", ["rest_v1", "http_v2"])
def test_predict_through_mangum_with_real_api_gateway_events(lambda_module, version, capsys):
    response = lambda_module.handler(
        api_event(version, "POST", "/v1/predict", {"inputs": ["great", "awful"]}), LambdaContext()
    )
    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert len(body["predictions"]) == 2
    out = capsys.readouterr().out
    emf = [json.loads(line) for line in out.splitlines() if line.startswith("{") and '"_aws"' in line]
    names = {m["Name"] for doc in emf for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"PredictLatency", "BatchSize", "Predictions", "Confidence", "InputChars", "PredictedLabel"} <= names
    assert all(d["Namespace"] == "golive" for doc in emf for d in doc["_aws"]["CloudWatchMetrics"])
    batch = next(doc for doc in emf if "BatchSize" in doc)
    assert batch["BatchSize"] in (2.0, [2.0])


@pytest.mark.parametrize("version", ["rest_v1", "http_v2"])
def test_logs_carry_the_request_id(lambda_module, version):
    stream = io.StringIO()
    lambda_module.logger.registered_handler.stream = stream
    lambda_module.handler(api_event(version, "POST", "/v1/predict", {"inputs": "fine"}), LambdaContext())
    logs = [json.loads(line) for line in stream.getvalue().splitlines() if '"message":"predicted"' in line]
    assert logs[0]["function_request_id"] == LambdaContext.aws_request_id
    expected = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef" if version == "rest_v1" else "JKJaXmPLvHcESHA="
    assert logs[0]["correlation_id"] == expected


@pytest.mark.parametrize("version", ["rest_v1", "http_v2"])
@pytest.mark.parametrize(
    "method,path,body,status",
    [
        ("GET", "/v1/health", None, 200),
        ("GET", "/v1/model", None, 200),
        ("GET", "/openapi.json", None, 200),
        ("POST", "/v1/predict", "{not json", 422),
        ("POST", "/v1/predict", {"inputs": ""}, 422),
        ("POST", "/v1/feedback", {"prediction_id": "nope", "label": "positive"}, 422),
        ("GET", "/nowhere", None, 404),
    ],
)
def test_routes_and_errors_through_mangum(lambda_module, version, method, path, body, status):
    response = lambda_module.handler(api_event(version, method, path, body), LambdaContext())
    assert response["statusCode"] == status
    if status >= 400 and path != "/nowhere":
        assert "message" in json.loads(response["body"])["error"]


@pytest.mark.parametrize("version,prefix", [("rest_v1", "/prod"), ("http_v2", "")])
def test_docs_links_carry_the_api_gateway_stage(lambda_module, version, prefix):
    """The REST API's public URL is .../prod/docs while the event's path is /docs: the page, its assets and the
    OpenAPI `servers` entry ("Try it out") must point below /prod, or API Gateway answers 403 for them."""
    from functions.api.docs import ASSETS

    page = lambda_module.handler(api_event(version, "GET", "/docs"), LambdaContext())
    assert page["statusCode"] == 200 and page["headers"]["content-type"].startswith("text/html")
    assert f"url: '{prefix}/openapi.json'" in page["body"]
    assert f'src="{prefix}/docs/assets/swagger-ui-bundle.js?v=' in page["body"]
    assert f'href="{prefix}/docs/assets/swagger-ui.css?v=' in page["body"]
    spec = json.loads(lambda_module.handler(api_event(version, "GET", "/openapi.json"), LambdaContext())["body"])
    assert spec.get("servers") == ([{"url": prefix}] if prefix else None)

    script = lambda_module.handler(api_event(version, "GET", "/docs/assets/swagger-ui-bundle.js"), LambdaContext())
    # text, not base64: a REST API without binary media types would hand base64 to the browser as it is
    assert script["statusCode"] == 200 and not script["isBase64Encoded"]
    assert script["body"].encode() == (ASSETS / "swagger-ui-bundle.js").read_bytes()
    assert (
        lambda_module.handler(api_event(version, "GET", "/docs/assets/LICENSE"), LambdaContext())["statusCode"] == 404
    )


@pytest.mark.parametrize(
    "public,path,prefix",
    [
        ("/dev/v1/predict", "/v1/predict", "/dev"),  # execute-api URL: the stage first
        ("/dev/", "/", "/dev"),
        ("/v1/predict", "/v1/predict", ""),  # custom domain without a base path
        (None, "/v1/predict", ""),
        ("/dev/v1/other", "/v1/predict", ""),  # not a suffix: leave the path alone
    ],
)
def test_stage_prefix_from_rest_events(public, path, prefix):
    from functions.api.api_gateway import public_prefix

    assert public_prefix({"path": path, "requestContext": {"path": public}}) == prefix


def test_lambda_refuses_to_start_without_its_feedback_table(tiny_bundle, monkeypatch):
    monkeypatch.setenv("GOLIVE_MODEL_DIR", str(tiny_bundle))
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "golive-api")
    monkeypatch.delenv("GOLIVE_FEEDBACK_TABLE", raising=False)
    sys.modules.pop("functions.lambda_handler", None)
    with pytest.raises(RuntimeError, match="GOLIVE_FEEDBACK_TABLE is not set"):
        importlib.import_module("functions.lambda_handler")
    assert gc.isenabled()  # init pauses the collector; a failed init must not leave it off


def test_a_broken_bundle_fails_init_with_the_loader_threads_error(tiny_bundle, tmp_path, monkeypatch):
    broken = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, broken)
    (broken / "model.int8.onnx").write_bytes(b"not the exported model")
    monkeypatch.setenv("GOLIVE_MODEL_DIR", str(broken))
    monkeypatch.setenv("GOLIVE_FEEDBACK_DB", str(tmp_path / "f.db"))
    sys.modules.pop("functions.lambda_handler", None)
    with pytest.raises(UserError, match="model.int8.onnx"):
        importlib.import_module("functions.lambda_handler")
    assert gc.isenabled()


def test_lambda_import_graph_has_no_torch_or_transformers(tiny_bundle, tmp_path):
    """Nor the test-only clients (huggingface_hub, schemathesis): the cold start pays for every import."""
    code = (
        "import sys, functions.lambda_handler as h; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'transformers', 'huggingface_hub', 'schemathesis', 'hypothesis')); "
        "print('LOADED', bad)"
    )
    env = {
        **os.environ,
        "GOLIVE_MODEL_DIR": str(tiny_bundle),
        "GOLIVE_FEEDBACK_DB": str(tmp_path / "f.db"),
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout


def test_model_loads_once_from_s3_at_cold_start(tiny_bundle, tmp_path, monkeypatch):
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="models")
        tarball = bundle.pack_tarball(tiny_bundle, tmp_path / "model.tar.gz")
        s3.upload_file(str(tarball), "models", "runs/1/output/model.tar.gz")
        monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path / "tmp"))
        settings = Settings(
            model_dir="/nonexistent",
            model_s3_uri="s3://models/runs/1/output/model.tar.gz",
            feedback_db=str(tmp_path / "f.db"),
        )
        client = TestClient(create_app(build_services(settings, PrometheusTelemetry())))
        assert client.post("/v1/predict", json={"inputs": "good"}).status_code == 200
    assert (tmp_path / "tmp" / "golive-model" / bundle.MANIFEST).exists()


# ---------------------------------------------------------------- SageMaker backend


def sagemaker_app(tiny_bundle, tmp_path, client=None) -> TestClient:
    settings = Settings(
        backend="sagemaker", endpoint_name="golive-dev", model_dir=str(tiny_bundle), feedback_db=str(tmp_path / "f.db")
    )
    backend = SageMakerBackend(settings, client=client) if client is not None else None
    return TestClient(create_app(build_services(settings, PrometheusTelemetry(), backend=backend)))


def endpoint_answer(rows: list[dict[str, float]]) -> str:
    """What the endpoint container answers when asked for logits: probabilities `rows`, as logits log(p)."""
    predictions = []
    for scores in rows:
        best = max(scores, key=scores.get)
        predictions.append(
            {
                "label": best,
                "score": scores[best],
                "logits": [math.log(scores[label]) for label in ("negative", "positive")],
            }
        )
    return json.dumps({"model_version": "gpu-1", "predictions": predictions})


@mock_aws
def test_sagemaker_backend_maps_endpoint_answers(tiny_bundle, tmp_path):
    assert bundle.read_manifest(tiny_bundle).labels == ["negative", "positive"]
    answer = endpoint_answer([{"positive": 0.9, "negative": 0.1}, {"positive": 0.2, "negative": 0.8}])
    requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results",
        json={
            "results": [
                {
                    "Body": answer,
                    "ContentType": "application/json",
                    "InvokedProductionVariant": "AllTraffic",
                    "CustomAttributes": "",
                }
            ]
        },
    )
    client = sagemaker_app(tiny_bundle, tmp_path)
    response = client.post("/v1/predict", json={"inputs": ["great", "awful"], "top_k": 2})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert [p["label"] for p in predictions] == ["positive", "negative"]
    assert predictions[0]["score"] == pytest.approx(0.9)
    assert predictions[1]["top_k"] == [
        {"label": "negative", "score": pytest.approx(0.8)},
        {"label": "positive", "score": pytest.approx(0.2)},
    ]


@mock_aws
def test_sagemaker_malformed_answer_is_502(tiny_bundle, tmp_path):
    requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results",
        json={
            "results": [
                {
                    "Body": "not json",
                    "ContentType": "text/plain",
                    "InvokedProductionVariant": "AllTraffic",
                    "CustomAttributes": "",
                }
            ]
        },
    )
    response = sagemaker_app(tiny_bundle, tmp_path).post("/v1/predict", json={"inputs": "x"})
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "bad_endpoint_response"


FAULTS = [
    # (error code, HTTP status from SageMaker, our status, our error type, Retry-After expected)
    ("ThrottlingException", 400, 429, "throttled", True),
    ("ModelNotReadyException", 429, 503, "model_waking_up", True),
    ("ServiceUnavailable", 503, 503, "endpoint_unavailable", True),
    ("InternalDependencyException", 530, 503, "endpoint_unavailable", True),
    ("ModelError", 424, 502, "model_error", False),
    ("InternalFailure", 500, 502, "endpoint_error", False),
    ("ValidationError", 400, 503, "endpoint_missing", True),
]


@pytest.mark.parametrize("code,sm_status,status,error_type,retry_after", FAULTS, ids=[f[0] for f in FAULTS])
def test_sagemaker_faults_map_to_statuses(tiny_bundle, tmp_path, code, sm_status, status, error_type, retry_after):
    runtime = boto3.client("sagemaker-runtime", region_name="us-east-1")
    stubber = Stubber(runtime)
    message = "Endpoint golive-dev of account 123456789012 not found." if code == "ValidationError" else "injected"
    stubber.add_client_error(
        "invoke_endpoint", service_error_code=code, service_message=message, http_status_code=sm_status
    )
    with stubber:
        response = sagemaker_app(tiny_bundle, tmp_path, client=runtime).post("/v1/predict", json={"inputs": "x"})
    assert response.status_code == status
    assert response.json()["error"]["type"] == error_type
    assert ("Retry-After" in response.headers) is retry_after


def test_sagemaker_timeout_is_504(tiny_bundle, tmp_path):
    runtime = boto3.client(
        "sagemaker-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )

    def time_out(**kwargs):
        raise ReadTimeoutError(endpoint_url="https://runtime.sagemaker.us-east-1.amazonaws.com")

    runtime.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", time_out)
    response = sagemaker_app(tiny_bundle, tmp_path, client=runtime).post("/v1/predict", json={"inputs": "x"})
    assert response.status_code == 504
    assert response.json()["error"]["type"] == "endpoint_timeout"


@mock_aws
def test_sagemaker_health_reports_endpoint_status(tiny_bundle, tmp_path):
    response = sagemaker_app(tiny_bundle, tmp_path).get("/v1/health")
    assert response.status_code == 503  # no such endpoint in this account
    assert response.json()["backend_reachable"] is False and "golive-dev" in response.json()["detail"]


def test_sagemaker_client_timeouts_stay_under_api_gateway_limit(tiny_bundle):
    backend = SageMakerBackend(Settings(backend="sagemaker", endpoint_name="e", model_dir=str(tiny_bundle)))
    config = backend.client.meta.config
    attempts = config.retries["total_max_attempts"]
    assert config.retries["mode"] == "adaptive"
    assert attempts * (config.connect_timeout + config.read_timeout) < 29
