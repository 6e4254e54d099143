"""The GPU endpoint container's app (SageMaker's /ping and /invocations) on the hand-written bundle, on CPU."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from functions.endpoint.app import create_app
from functions.endpoint.settings import EndpointSettings
from golive import bundle
from golive.onnx_classifier import OnnxClassifier
from tests.conftest import wait_ready

TEXTS = ["a wonderful, moving film", "cold food and rude staff", "it was fine", "never again"]


@pytest.fixture(scope="module")
def endpoint(handmade_bundle):
    with TestClient(create_app(EndpointSettings(model_dir=str(handmade_bundle), max_texts=8, max_chars=100))) as client:
        yield client


def test_ping_turns_ready_with_the_bundles_default_variant_on_cpu(endpoint, handmade_bundle):
    body = wait_ready(endpoint)
    assert (body["provider"], body["variant"]) == ("CPUExecutionProvider", "int8")
    assert body["model_version"] == bundle.read_manifest(handmade_bundle).version_id


def test_invocations_answer_logits_in_input_order(endpoint, handmade_bundle):
    wait_ready(endpoint)
    expected = OnnxClassifier.from_bundle(handmade_bundle).predict_logits(TEXTS)
    body = endpoint.post("/invocations", json={"inputs": TEXTS, "return_logits": True}).json()
    assert [p["label"] for p in body["predictions"]] == ["positive", "negative", "positive", "negative"]
    # the micro-batcher may group rows differently from one call: int8 is quantised per batch
    assert np.allclose([p["logits"] for p in body["predictions"]], expected, atol=0.02)


@pytest.mark.parametrize(
    "payload,status,fragment",
    [
        ({"inputs": ["ok", ""]}, 422, "`inputs[1]` is empty"),
        ({"inputs": ["t"] * 9}, 422, "send at most 8"),
        ({"inputs": "x" * 101}, 422, "the limit is 100"),
        ({"inputs": "x", "return_logits": "yes"}, 422, "`return_logits` must be true or false"),
    ],
)
def test_bad_input_is_a_clear_4xx(endpoint, payload, status, fragment):
    response = endpoint.post("/invocations", json=payload)
    assert response.status_code == status and fragment in response.json()["error"]["message"]


def test_fp16_converted_at_start_agrees_with_fp32(handmade_bundle):
    with TestClient(create_app(EndpointSettings(model_dir=str(handmade_bundle), model_variant="fp16"))) as client:
        assert wait_ready(client)["variant"] == "fp16"
        body = client.post("/invocations", json={"inputs": TEXTS, "return_logits": True}).json()
    fp32 = OnnxClassifier.from_bundle(handmade_bundle, "fp32").predict_logits(TEXTS)
    assert np.allclose([p["logits"] for p in body["predictions"]], fp32, atol=1e-2)
