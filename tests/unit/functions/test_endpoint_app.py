"""The GPU endpoint container's app (SageMaker's /ping and /invocations) on the hand-written bundle, on CPU."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from functions.endpoint import app as endpoint_app
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


def test_huggingfaces_parameters_are_refused_with_where_top_k_goes(endpoint):
    response = endpoint.post("/invocations", json={"inputs": "x", "parameters": {"top_k": 2}})
    message = response.json()["error"]["message"]
    assert response.status_code == 422 and "unknown field `parameters`" in message
    assert 'put `top_k` next to `inputs`, e.g. {"inputs": "text", "top_k": 2}' in message


def failed_endpoint(settings: EndpointSettings) -> tuple[dict, object]:
    """/ping's body and /invocations' answer once the model failed to load."""
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 10
        while client.get("/ping").json()["status"] == "loading" and time.monotonic() < deadline:
            time.sleep(0.02)
        return client.get("/ping").json(), client.post("/invocations", json={"inputs": "hi"})


def test_a_missing_bundle_is_model_failed_not_retryable_and_one_log_line(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="golive.endpoint")
    ping, response = failed_endpoint(EndpointSettings(model_dir=str(tmp_path / "missing")))
    assert ping["status"] == "failed" and "does not exist" in ping["detail"]
    assert response.status_code == 503 and "retry-after" not in response.headers
    error = response.json()["error"]
    assert error["type"] == "model_failed"
    assert error["message"].startswith(f"the model failed to load: model bundle folder {tmp_path / 'missing'} ")
    assert error["message"].endswith("; fix the bundle and redeploy")
    failures = [r for r in caplog.records if "failed to load" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is None  # a user mistake: no traceback
    assert "does not exist" in failures[0].getMessage()


def test_a_bug_while_loading_keeps_its_traceback(tmp_path, caplog, monkeypatch):
    def broken(settings):
        raise RuntimeError("provider exploded")

    monkeypatch.setattr(endpoint_app, "load_classifier", broken)
    caplog.set_level(logging.INFO, logger="golive.endpoint")
    ping, response = failed_endpoint(EndpointSettings(model_dir=str(tmp_path)))
    assert ping["detail"] == "RuntimeError: provider exploded"
    assert response.json()["error"]["type"] == "model_failed"
    failures = [r for r in caplog.records if "failed to load" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is not None
