"""Hugging Face clients, unchanged, against /v1/classify: the real `huggingface_hub.InferenceClient` (sync and
async) and plain `requests` in Hugging Face's text-classification shape, against a live `golive serve` app
and through the Lambda handler with real API Gateway events; the prediction ids of its `X-Prediction-Ids`
header taken by /v1/feedback (httpx and golive.client); and /v1/classify on the SageMaker backend."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import math

import boto3
import httpx
import numpy as np
import pytest
import requests
from botocore.response import StreamingBody
from botocore.stub import Stubber
from fastapi.testclient import TestClient

from functions.api.backends import SageMakerBackend
from functions.api.local import create_local_app
from functions.api.main import build_services, create_app
from functions.api.settings import Settings
from functions.api.telemetry import PrometheusTelemetry
from golive import bundle
from golive.classification_metrics import softmax
from golive.client import Client, GoliveError
from golive.contracts.schemas import PREDICTION_IDS_HEADER
from golive.onnx_classifier import OnnxClassifier
from tests.conftest import LambdaContext, api_event, running_server

huggingface_hub = pytest.importorskip("huggingface_hub")
from huggingface_hub import AsyncInferenceClient, InferenceClient  # noqa: E402
from huggingface_hub.utils import _http as hf_http  # noqa: E402

TEXT = "I loved it"


@pytest.fixture(autouse=True)
def hub_online(monkeypatch):
    """The suite runs with HF_HUB_OFFLINE=1 (no Hub downloads); the client must still reach our own URL. Online,
    the client would also fetch a registry from the Hub for its user-agent (and cache it in ~/.cache): give it
    the empty one it falls back to, so the tests call nothing but our API."""
    from huggingface_hub.utils import _detect_agent

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(_detect_agent, "_registry", _detect_agent._EMPTY_REGISTRY)
    monkeypatch.delenv("HF_TOKEN", raising=False)


@pytest.fixture(scope="module")
def expected(tiny_bundle):
    """What the bundle's model gives for TEXT, computed here without the API: raw logits and labels."""
    classifier = OnnxClassifier.from_bundle(tiny_bundle)
    return classifier.predict_logits([TEXT])[0], classifier.labels


def ranked(scores, labels, k=None) -> list[tuple[str, float]]:
    order = np.argsort(-np.asarray(scores), kind="stable")[:k]
    return [(labels[i], float(scores[i])) for i in order]


def as_pairs(elements) -> list[tuple[str, float]]:
    return [(e.label, e.score) for e in elements]


def assert_same(got, want) -> None:
    assert [label for label, _ in got] == [label for label, _ in want]
    assert np.allclose([score for _, score in got], [score for _, score in want], atol=1e-5)


@pytest.fixture(scope="module")
def server(tiny_bundle, tmp_path_factory):
    app = create_local_app(
        Settings(model_dir=str(tiny_bundle), feedback_db=str(tmp_path_factory.mktemp("hf") / "feedback.sqlite3"))
    )
    with running_server(app) as url:
        yield url


def test_inference_client_against_golive_serve(server, expected):
    logits, labels = expected
    client = InferenceClient(model=f"{server}/v1/classify", headers={"x-api-key": "unused-locally"})
    default = client.text_classification(TEXT)
    assert_same(as_pairs(default), ranked(softmax(logits), labels))  # every label, softmax, best first
    assert math.isclose(sum(e.score for e in default), 1.0, abs_tol=1e-5)
    assert_same(as_pairs(client.text_classification(TEXT, top_k=1)), ranked(softmax(logits), labels, 1))
    assert_same(as_pairs(client.text_classification(TEXT, top_k=50)), ranked(softmax(logits), labels))
    sigmoid = 1 / (1 + np.exp(-logits.astype(np.float64)))
    assert_same(as_pairs(client.text_classification(TEXT, function_to_apply="sigmoid")), ranked(sigmoid, labels))
    assert_same(as_pairs(client.text_classification(TEXT, function_to_apply="none")), ranked(logits, labels))

    with pytest.raises(huggingface_hub.errors.HfHubHTTPError) as refused:
        client.text_classification("   ")
    assert refused.value.response.status_code == 422
    assert refused.value.response.json()["error"]["type"] == "empty_text"


def test_async_inference_client_against_golive_serve(server, expected):
    logits, labels = expected

    async def classify():
        async with AsyncInferenceClient(model=f"{server}/v1/classify") as client:
            return await client.text_classification(TEXT, top_k=2, function_to_apply="softmax")

    assert_same(as_pairs(asyncio.run(classify())), ranked(softmax(logits), labels, 2))


def test_plain_requests_in_the_hugging_face_shape(server, tiny_bundle):
    """A list of texts: one list of {label, score} per text, in input order; one text: a list of one list."""
    texts = ["a wonderful, moving film", "cold food and rude staff", "it was fine"]
    classifier = OnnxClassifier.from_bundle(tiny_bundle)
    logits = classifier.predict_logits(texts)
    response = requests.post(
        f"{server}/v1/classify",
        timeout=30,
        json={"inputs": texts, "parameters": {"top_k": 1, "function_to_apply": "none"}},
    )
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert [len(row) for row in body] == [1, 1, 1]
    for row, want in zip(body, logits):
        assert_same([(item["label"], item["score"]) for item in row], ranked(want, classifier.labels, 1))

    single = requests.post(f"{server}/v1/classify", json={"inputs": texts[0]}, timeout=30).json()
    assert len(single) == 1 and [item["label"] for item in single[0]] == [
        label for label, _ in ranked(logits[0], classifier.labels)
    ]
    # the older Inference API's options are accepted (and have nothing to do here)
    legacy = requests.post(
        f"{server}/v1/classify",
        timeout=30,
        json={"inputs": texts[0], "options": {"wait_for_model": True, "use_cache": False}},
    )
    assert legacy.status_code == 200 and legacy.json() == single


def test_httpx_reads_classifys_ids_header_and_golive_client_sends_feedback_for_one(server):
    """The ids /v1/classify's header carries are /v1/predict's: golive.client's feedback() takes one; a changed
    one is refused."""
    texts = ["a wonderful, moving film", "cold food and rude staff"]
    response = httpx.post(f"{server}/v1/classify", json={"inputs": texts, "parameters": {"top_k": 1}}, timeout=30)
    assert response.status_code == 200
    rows = response.json()
    ids = response.headers[PREDICTION_IDS_HEADER].split(",")
    assert len(ids) == len(rows) == 2
    with Client(server) as api:
        recorded = api.feedback(ids[1], rows[1][0]["label"])
        assert (recorded.prediction_id, recorded.correct, recorded.status) == (ids[1], True, "recorded")
        kid, label, rest = ids[0].split(".", 2)
        with pytest.raises(GoliveError) as refused:
            api.feedback(f"{kid}.{1 - int(label)}.{rest}", rows[0][0]["label"])
    assert (refused.value.status, refused.value.type) == (422, "unknown_prediction_id")


def test_predict_route_keeps_its_richer_answer_and_points_hf_requests_to_classify(server):
    body = requests.post(f"{server}/v1/predict", json={"inputs": TEXT}, timeout=30).json()
    assert set(body) == {"model_version", "predictions"} and "prediction_id" in body["predictions"][0]
    refused = requests.post(f"{server}/v1/predict", json={"inputs": TEXT, "parameters": {}}, timeout=30)
    assert refused.status_code == 422 and "/v1/classify" in refused.json()["error"]["message"]


# --- through the Lambda handler -----------------------------------------------------------------------------


@pytest.fixture()
def lambda_handler(lambda_module):
    return lambda_module.handler


# the URL a client is given: the REST API's stage `prod` is in it (API Gateway drops it from the event's
# `path`); the HTTP API's `$default` stage is not
INVOKE_URLS = {
    "rest_v1": "https://abc123.execute-api.us-east-1.amazonaws.com/prod",
    "http_v2": "https://r3pmxmplak.execute-api.us-east-1.amazonaws.com",
}


def api_gateway_transport(handler, version: str):
    """An httpx2 transport for the Hugging Face client that hands each request to the Lambda handler as the
    API Gateway event it would become (from the recorded events in tests/events), and the answer back."""
    import httpx2

    stage = "/prod" if version == "rest_v1" else ""

    def send(request: httpx2.Request) -> httpx2.Response:
        path = request.url.path.removeprefix(stage)
        headers = {name: value for name, value in request.headers.items() if name.lower() != "content-length"}
        body = request.content.decode() if request.content else None  # JSON text: API Gateway passes it as is
        answer = handler(api_event(version, request.method, path, body, headers=headers), LambdaContext())
        body = answer.get("body") or ""
        content = base64.b64decode(body) if answer.get("isBase64Encoded") else body.encode()
        return httpx2.Response(answer["statusCode"], headers=answer.get("headers") or {}, content=content)

    return httpx2.MockTransport(send)


@pytest.mark.parametrize("version", ["rest_v1", "http_v2"])
def test_inference_client_through_the_lambda_handler(lambda_handler, expected, version):
    import httpx2

    logits, labels = expected
    hf_http.set_client_factory(
        lambda: httpx2.Client(
            transport=api_gateway_transport(lambda_handler, version),
            event_hooks={"request": [hf_http.hf_request_event_hook]},
        )
    )
    try:
        client = InferenceClient(model=f"{INVOKE_URLS[version]}/v1/classify", headers={"x-api-key": "example-key"})
        assert_same(as_pairs(client.text_classification(TEXT)), ranked(softmax(logits), labels))
        assert_same(
            as_pairs(client.text_classification(TEXT, top_k=1, function_to_apply="none")), ranked(logits, labels, 1)
        )
    finally:
        hf_http.set_client_factory(hf_http.default_client_factory)


@pytest.mark.parametrize("version", ["rest_v1", "http_v2"])
def test_inference_client_parses_the_answer_whose_ids_header_takes_feedback(lambda_handler, expected, version):
    """Through API Gateway and the Lambda: the ids header does not disturb the client, and the id it carries
    is one /v1/feedback accepts."""
    import httpx2

    logits, labels = expected
    answers: list[httpx2.Response] = []
    hf_http.set_client_factory(
        lambda: httpx2.Client(
            transport=api_gateway_transport(lambda_handler, version),
            event_hooks={"request": [hf_http.hf_request_event_hook], "response": [answers.append]},
        )
    )
    try:
        client = InferenceClient(model=f"{INVOKE_URLS[version]}/v1/classify", headers={"x-api-key": "example-key"})
        answer = as_pairs(client.text_classification(TEXT))
    finally:
        hf_http.set_client_factory(hf_http.default_client_factory)
    assert_same(answer, ranked(softmax(logits), labels))
    [prediction_id] = answers[-1].headers[PREDICTION_IDS_HEADER].split(",")
    body = {"prediction_id": prediction_id, "label": answer[0][0]}
    reply = lambda_handler(api_event(version, "POST", "/v1/feedback", body), LambdaContext())
    assert reply["statusCode"] == 200 and json.loads(reply["body"]) == {**body, "correct": True, "status": "recorded"}


@pytest.mark.parametrize("version", ["rest_v1", "http_v2"])
def test_a_list_in_the_hugging_face_shape_through_the_lambda_handler(lambda_handler, tiny_bundle, version):
    texts = ["great", "awful", "fine"]
    logits = OnnxClassifier.from_bundle(tiny_bundle).predict_logits(texts)
    labels = bundle.read_manifest(tiny_bundle).labels
    body = {"inputs": texts, "parameters": {"function_to_apply": "sigmoid"}}
    answer = lambda_handler(api_event(version, "POST", "/v1/classify", body), LambdaContext())
    assert answer["statusCode"] == 200
    rows = json.loads(answer["body"])
    for row, want in zip(rows, logits):
        assert_same([(item["label"], item["score"]) for item in row], ranked(1 / (1 + np.exp(-want)), labels))


# --- on the SageMaker backend: the endpoint is asked for logits -----------------------------------------------


def test_classify_on_the_sagemaker_backend_uses_the_endpoints_logits(tiny_bundle, tmp_path):
    runtime = boto3.client("sagemaker-runtime", region_name="us-east-1")
    answer = json.dumps(
        {"model_version": "gpu-1", "predictions": [{"label": "positive", "score": 0.7, "logits": [-1.25, 2.5]}]}
    ).encode()
    stubber = Stubber(runtime)
    stubber.add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(answer), len(answer)), "ContentType": "application/json"},
        expected_params={
            "EndpointName": "golive-dev",
            "ContentType": "application/json",
            "Accept": "application/json",
            "Body": json.dumps({"inputs": [TEXT], "return_logits": True}),
        },
    )
    settings = Settings(
        backend="sagemaker", endpoint_name="golive-dev", model_dir=str(tiny_bundle), feedback_db=str(tmp_path / "f.db")
    )
    app = create_app(
        build_services(settings, PrometheusTelemetry(), backend=SageMakerBackend(settings, client=runtime))
    )
    with stubber:
        response = TestClient(app).post(
            "/v1/classify", json={"inputs": TEXT, "parameters": {"function_to_apply": "none"}}
        )
    assert response.status_code == 200, response.text
    assert response.json() == [[{"label": "positive", "score": 2.5}, {"label": "negative", "score": -1.25}]]
    stubber.assert_no_pending_responses()
