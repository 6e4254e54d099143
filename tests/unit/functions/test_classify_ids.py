"""/v1/classify's prediction ids through the Lambda (FastAPI via Mangum, recorded API Gateway events) on the
hand-written bundle: Hugging Face's body unchanged, one signed id per text in the `X-Prediction-Ids` header that
/v1/feedback takes (and refuses once changed or forged), and the header kept within API Gateway's limits by a
lower batch limit for this route where GOLIVE_MAX_TEXTS is raised."""

from __future__ import annotations

import json
import secrets

import pytest

from functions.api.prediction_ids import KeyRing, PredictionIds
from functions.api.routers.classify import IDS_HEADER_BYTES
from golive import bundle
from golive.contracts.schemas import PREDICTION_IDS_HEADER
from tests.conftest import LambdaContext, api_event, cold_started_lambda
from tests.unit.functions.test_lambda_handler import call

VERSIONS = ["rest_v1", "http_v2"]
TEXTS = ["a wonderful film", "awful and rude", "great"]
GATEWAY_HEADER_BYTES = 10_240  # API Gateway's quota on an API's headers, names and line ends included


def classify(module, version: str, body) -> tuple[int, object, dict[str, str]]:
    """Status, body and headers (names in lower case) of the Lambda's answer, as API Gateway would pass them on."""
    answer = module.handler(api_event(version, "POST", "/v1/classify", body), LambdaContext())
    headers = {name.lower(): value for name, value in (answer.get("headers") or {}).items()}
    for name, values in (answer.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = ",".join(values)
    return answer["statusCode"], json.loads(answer["body"]), headers


def ids_of(headers: dict[str, str]) -> list[str]:
    return headers[PREDICTION_IDS_HEADER.lower()].split(",")


def tamper_label(prediction_id: str) -> str:
    kid, label, rest = prediction_id.split(".", 2)
    return f"{kid}.{1 - int(label)}.{rest}"


@pytest.mark.parametrize("version", VERSIONS)
def test_classify_keeps_hugging_faces_body_and_gives_a_signed_id_per_text_for_feedback(
    lambda_module, handmade_bundle, version
):
    status, body, headers = classify(lambda_module, version, {"inputs": TEXTS, "parameters": {"top_k": 1}})
    assert status == 200
    assert [[set(item) for item in row] for row in body] == [[{"label", "score"}]] * 3  # the body is unchanged
    ids = ids_of(headers)
    labels = bundle.read_manifest(handmade_bundle).labels
    # in input order: each id names the label its text's row ranks first
    assert [labels[int(pid.split(".")[1])] for pid in ids] == [row[0]["label"] for row in body]
    assert len(set(ids)) == 3

    feedback = {"prediction_id": ids[1], "label": body[1][0]["label"]}
    assert call(lambda_module, version, "POST", "/v1/feedback", feedback) == (
        200,
        {**feedback, "correct": True, "status": "recorded"},
    )

    forged = PredictionIds(KeyRing([secrets.token_bytes(32)]), ids[0].split(".", 4)[4]).issue(0)
    for bad in (tamper_label(ids[0]), forged, ids[2] + "x"):
        status, error = call(
            lambda_module, version, "POST", "/v1/feedback", {"prediction_id": bad, "label": "positive"}
        )
        assert status == 422 and error["error"]["type"] == "unknown_prediction_id", error


def test_one_text_gets_one_id(lambda_module):
    status, body, headers = classify(lambda_module, "http_v2", {"inputs": "lovely"})
    assert status == 200 and len(body) == 1 and len(ids_of(headers)) == 1


def test_a_refused_request_gets_no_ids(lambda_module):
    status, body, headers = classify(lambda_module, "http_v2", {"inputs": ["fine", "  "]})
    assert status == 422 and body["error"]["type"] == "empty_text"
    assert PREDICTION_IDS_HEADER.lower() not in headers


@pytest.fixture()
def wide_lambda(handmade_bundle, tmp_path, monkeypatch):
    """A deployment that raised GOLIVE_MAX_TEXTS to its ceiling: more ids than API Gateway's headers can hold."""
    monkeypatch.setenv("GOLIVE_MAX_TEXTS", "1024")
    yield from cold_started_lambda(handmade_bundle, tmp_path, monkeypatch)


@pytest.mark.parametrize("version", VERSIONS)
def test_the_ids_header_stays_within_api_gateways_limit_at_the_routes_own_batch_limit(wide_lambda, version):
    answer = wide_lambda.handler(api_event(version, "GET", "/openapi.json"), LambdaContext())
    schemas = json.loads(answer["body"])["components"]["schemas"]
    [limit] = [s["maxItems"] for s in schemas["ClassifyRequest"]["properties"]["inputs"]["anyOf"] if "maxItems" in s]
    [predict_limit] = [
        s["maxItems"] for s in schemas["PredictRequest"]["properties"]["inputs"]["anyOf"] if "maxItems" in s
    ]
    assert predict_limit == 1024 and 64 <= limit < 1024  # only /v1/classify is bounded by its header

    texts = [f"text number {i}" for i in range(limit)]
    status, body, headers = classify(wide_lambda, version, {"inputs": texts})
    assert status == 200 and len(body) == len(ids_of(headers)) == limit
    assert len(headers[PREDICTION_IDS_HEADER.lower()].encode()) <= IDS_HEADER_BYTES
    header_bytes = sum(len(f"{name}: {value}\r\n".encode()) for name, value in headers.items())
    assert header_bytes < GATEWAY_HEADER_BYTES - 1024  # room left for the headers API Gateway adds

    status, error, headers = classify(wide_lambda, version, {"inputs": [*texts, "one more"]})
    assert status == 422 and error["error"]["type"] == "too_many_texts"
    assert f"send at most {limit} per request" in error["error"]["message"]
    assert call(wide_lambda, version, "POST", "/v1/predict", {"inputs": [*texts, "one more"]})[0] == 200


def test_the_openapi_document_declares_the_header(lambda_module):
    answer = lambda_module.handler(api_event("http_v2", "GET", "/openapi.json"), LambdaContext())
    operation = json.loads(answer["body"])["paths"]["/v1/classify"]["post"]
    assert set(operation["responses"]["200"]["headers"]) == {PREDICTION_IDS_HEADER}
    assert PREDICTION_IDS_HEADER in operation["description"] and "/v1/feedback" in operation["description"]


def test_the_longest_id_is_worked_out_without_signing_one():
    """classify's batch bound asks for it per request: the arithmetic must match a real id of the last label."""
    import secrets

    from functions.api.prediction_ids import KeyRing, PredictionIds

    for labels, version in ((2, "20261123-101010-abc123"), (11, "v")):
        ids = PredictionIds(KeyRing([secrets.token_bytes(32)]), version)
        assert ids.longest(labels) == len(ids.issue(labels - 1).encode("utf-8"))
