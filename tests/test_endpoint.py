"""The GPU endpoint's container on CPU: SageMaker's contract, micro-batching, errors and CPU fallback."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
from fastapi.testclient import TestClient

from functions.endpoint.app import create_app
from functions.endpoint.batcher import MicroBatcher
from functions.endpoint.model import choose_providers, choose_variant
from functions.endpoint.settings import SAGEMAKER_MAX_PAYLOAD_BYTES, EndpointSettings
from golive import bundle
from golive.onnx_classifier import OnnxClassifier
from tests.conftest import REPO, free_port, wait_ready

TEXTS = [
    "a lovely hotel",
    "rude staff and a cold room",
    "fine",
    "the best pasta I have had in years, truly",
    "never again",
    "ok I guess",
    "the view from the balcony was stunning at sunset",
    "noisy",
]


# --- the batcher on its own: answers go to the right callers ------------------------------------------------


def test_batcher_routes_each_callers_rows_back_under_concurrency():
    calls = []

    def predict(texts):  # one row per text that encodes the text itself, so a mix-up shows
        calls.append(len(texts))
        return np.array([[float(t.split("-")[0]), float(t.split("-")[1])] for t in texts])

    batcher = MicroBatcher(predict, max_batch_size=16, max_wait_ms=20)

    async def caller(i: int):
        texts = [f"{i}-{j}" for j in range(1 + i % 3)]
        rows = await batcher.submit(texts)
        return i, rows

    async def run():
        return await asyncio.gather(*(caller(i) for i in range(60)))

    try:
        for i, rows in asyncio.run(run()):
            assert rows.tolist() == [[float(i), float(j)] for j in range(1 + i % 3)]
    finally:
        batcher.close()
    assert max(calls) > 1, "no requests were merged"
    assert sum(calls) == sum(1 + i % 3 for i in range(60))
    assert batcher.stats.batches == len(calls)


def test_batcher_gives_every_caller_in_a_failed_batch_the_error_and_keeps_working():
    def predict(texts):
        if "boom" in texts:
            raise RuntimeError("model failed")
        return np.ones((len(texts), 2))

    batcher = MicroBatcher(predict, max_batch_size=8, max_wait_ms=30)

    async def run():
        return await asyncio.gather(batcher.submit(["boom"]), batcher.submit(["fine"]), return_exceptions=True)

    try:
        results = asyncio.run(run())
        assert all(isinstance(r, RuntimeError) for r in results)
        assert asyncio.run(batcher.submit(["fine again"])).shape == (1, 2)
    finally:
        batcher.close()


def test_unbatched_setting_sends_one_request_per_model_call():
    sizes = []
    batcher = MicroBatcher(lambda texts: sizes.append(len(texts)) or np.ones((len(texts), 2)), 1, 0)

    async def run():
        await asyncio.gather(*(batcher.submit([str(i)]) for i in range(10)))

    try:
        asyncio.run(run())
    finally:
        batcher.close()
    assert sizes == [1] * 10


# --- providers and variants ------------------------------------------------------------------------------


def test_cpu_fallback_when_onnx_runtime_has_no_gpu_provider(caplog):
    with caplog.at_level(logging.WARNING, logger="golive.endpoint"):
        assert choose_providers("auto", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert "running on CPU" in caplog.text
    assert choose_providers("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"]) == [
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]
    assert choose_providers(
        "tensorrt", ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    ) == ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers("cpu", ["CUDAExecutionProvider", "CPUExecutionProvider"]) == ["CPUExecutionProvider"]


def test_variant_is_fp16_on_a_gpu_and_the_bundle_default_on_cpu(tiny_bundle):
    manifest = bundle.read_manifest(tiny_bundle)
    assert choose_variant("auto", True, manifest) == "fp16"
    assert choose_variant("auto", False, manifest) == manifest.default_variant == "int8"
    assert choose_variant("fp32", True, manifest) == "fp32"
    with pytest.raises(ValueError, match="int8"):
        EndpointSettings(model_variant="int8", provider="cuda")


# --- the app in process: contract and bad input -------------------------------------------------------------


def test_ping_is_503_until_the_model_is_loaded_and_warmed(tiny_bundle):
    app = create_app(EndpointSettings(model_dir=str(tiny_bundle)))
    cold = TestClient(app)  # no lifespan: the model has not started loading
    assert cold.get("/ping").status_code == 503 and cold.get("/ping").json()["status"] == "loading"
    refused = cold.post("/invocations", json={"inputs": "hi"})
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
    with TestClient(app) as client:
        body = wait_ready(client)
        assert body["provider"] == "CPUExecutionProvider" and body["variant"] == "int8"
        assert body["batches"] >= 0 and body["model_version"] == bundle.read_manifest(tiny_bundle).version_id


def test_ping_reports_a_model_that_failed_to_load(tmp_path):
    with TestClient(create_app(EndpointSettings(model_dir=str(tmp_path)))) as client:
        deadline = time.monotonic() + 10
        while client.get("/ping").json()["status"] == "loading" and time.monotonic() < deadline:
            time.sleep(0.05)
        response = client.get("/ping")
        assert response.status_code == 503
        assert response.json()["status"] == "failed" and "manifest" in response.json()["detail"]


@pytest.fixture(scope="module")
def endpoint(tiny_bundle):
    with TestClient(create_app(EndpointSettings(model_dir=str(tiny_bundle), max_texts=8, max_chars=100))) as client:
        wait_ready(client)
        yield client


def test_invocations_answer_in_the_api_schema_in_input_order(endpoint, tiny_bundle):
    response = endpoint.post("/invocations", json={"inputs": TEXTS[:3], "top_k": 2})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = OnnxClassifier.from_bundle(tiny_bundle).predict_proba(TEXTS[:3])
    labels = bundle.read_manifest(tiny_bundle).labels
    assert len(body["predictions"]) == 3
    for prediction, row in zip(body["predictions"], expected):
        assert prediction["label"] == labels[int(row.argmax())]
        assert prediction["score"] == pytest.approx(float(row.max()), abs=1e-5)
        assert [s["label"] for s in prediction["top_k"]] == [labels[i] for i in np.argsort(-row, kind="stable")]
    single = endpoint.post("/invocations", json={"inputs": "just one"}).json()
    assert len(single["predictions"]) == 1 and "top_k" not in single["predictions"][0]


def test_invocations_return_the_logits_when_asked(endpoint, tiny_bundle):
    """The API's SageMaker backend asks for logits: Hugging Face clients may want sigmoid or raw scores."""
    expected = OnnxClassifier.from_bundle(tiny_bundle).predict_logits(TEXTS[:3])
    body = endpoint.post("/invocations", json={"inputs": TEXTS[:3], "return_logits": True}).json()
    assert np.allclose([p["logits"] for p in body["predictions"]], expected, atol=1e-5)
    assert "logits" not in endpoint.post("/invocations", json={"inputs": "x"}).json()["predictions"][0]
    refused = endpoint.post("/invocations", json={"inputs": "x", "return_logits": "yes"})
    assert refused.status_code == 422 and "`return_logits` must be true or false" in refused.json()["error"]["message"]


@pytest.mark.parametrize(
    "kwargs, status, message",
    [
        ({"content": b"{oops", "headers": {"content-type": "application/json"}}, 422, "not valid JSON"),
        ({"json": {"inputs": "x", "extra": 1}}, 422, "unknown field `extra`"),
        ({"json": {"inputs": []}}, 422, "empty list"),
        ({"json": {"inputs": ["ok", ""]}}, 422, "`inputs[1]` is empty"),
        ({"json": {"inputs": [1, 2]}}, 422, "must be a string"),
        ({"json": {"inputs": ["t"] * 9}}, 422, "send at most 8"),
        ({"json": {"inputs": "x" * 101}}, 422, "the limit is 100"),
        ({"json": {"inputs": "x", "top_k": 0}}, 422, "top_k"),
        ({"json": ["not", "an", "object"]}, 422, "JSON object"),
        (
            {"content": b'{"inputs": "x\\udbb1"}', "headers": {"content-type": "application/json"}},
            422,
            "lone UTF-16 surrogate",
        ),
        ({"content": b'{"inputs": "\xff"}', "headers": {"content-type": "application/json"}}, 422, "not valid UTF-8"),
        ({"json": {"inputs": "x", "top_k": True}}, 422, "`top_k` must be an integer"),
        (
            {"content": b"x" * (SAGEMAKER_MAX_PAYLOAD_BYTES + 1), "headers": {"content-type": "application/json"}},
            413,
            "6 MB payload limit",
        ),
    ],
)
def test_bad_input_is_a_clear_4xx(endpoint, kwargs, status, message):
    response = endpoint.post("/invocations", **kwargs)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]["message"]


def test_unknown_routes_and_methods_answer_the_error_body(endpoint):
    for method, path, status in (("GET", "/nowhere", 404), ("GET", "/invocations", 405), ("POST", "/ping", 405)):
        response = endpoint.request(method, path)
        assert response.status_code == status
        assert set(response.json()["error"]) == {"type", "message"}


def test_fp16_variant_runs_and_agrees_with_fp32(tiny_bundle):
    pytest.importorskip("onnx")
    with TestClient(create_app(EndpointSettings(model_dir=str(tiny_bundle), model_variant="fp16"))) as client:
        assert wait_ready(client)["variant"] == "fp16"
        got = client.post("/invocations", json={"inputs": TEXTS, "top_k": 2}).json()["predictions"]
    labels = bundle.read_manifest(tiny_bundle).labels
    fp32 = OnnxClassifier.from_bundle(tiny_bundle, "fp32").predict_proba(TEXTS)
    for prediction, row in zip(got, fp32):
        scores = {s["label"]: s["score"] for s in prediction["top_k"]}
        assert [scores[label] for label in labels] == pytest.approx(row.tolist(), abs=2e-2)


# --- the real server process --------------------------------------------------------------------------------


@pytest.fixture()
def server(tiny_bundle, tmp_path):
    started = []

    def start(**env_overrides) -> str:
        port = free_port()
        env = {
            **os.environ,
            "GOLIVE_ENDPOINT_MODEL_DIR": str(tiny_bundle),
            "GOLIVE_ENDPOINT_HOST": "127.0.0.1",
            "SAGEMAKER_BIND_TO_PORT": str(port),
            **env_overrides,
        }
        log = open(tmp_path / f"serve-{port}.log", "w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "functions.endpoint.serve", "serve"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(proc)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / f"serve-{port}.log").read_text()
            try:
                if requests.get(f"{base}/ping", timeout=2).status_code == 200:
                    return base
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        pytest.fail("endpoint did not become ready:\n" + (tmp_path / f"serve-{port}.log").read_text())

    yield start
    for proc in started:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)


def test_server_process_batches_concurrent_requests_with_the_same_answers_as_unbatched(server, tiny_bundle):
    base = server(
        GOLIVE_ENDPOINT_MODEL_VARIANT="fp32", GOLIVE_ENDPOINT_MAX_BATCH_SIZE="16", GOLIVE_ENDPOINT_MAX_WAIT_MS="50"
    )
    ping = requests.get(f"{base}/ping", timeout=5).json()
    assert ping["provider"] == "CPUExecutionProvider" and ping["variant"] == "fp32"
    before = ping["batches"]
    requests_ = [TEXTS[i % len(TEXTS) : i % len(TEXTS) + 1 + i % 3] for i in range(48)]

    def call(texts):
        response = requests.post(f"{base}/invocations", json={"inputs": texts, "top_k": 2}, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()["predictions"]

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(call, requests_))

    classifier = OnnxClassifier.from_bundle(tiny_bundle, "fp32")
    labels = classifier.labels
    for texts, predictions in zip(requests_, answers):
        assert len(predictions) == len(texts)
        alone = classifier.predict_proba(texts)  # unbatched: this request's texts only
        for prediction, row in zip(predictions, alone):
            scores = {s["label"]: s["score"] for s in prediction["top_k"]}
            assert [scores[label] for label in labels] == pytest.approx(row.tolist(), abs=1e-4)
    stats = requests.get(f"{base}/ping", timeout=5).json()
    assert stats["texts"] - ping["texts"] == sum(len(t) for t in requests_)
    assert stats["batches"] - before < len(requests_), f"requests were not merged: {stats}"
    assert stats["largest_batch"] > 1


def test_serve_refuses_other_commands_and_bad_settings(monkeypatch, capsys):
    from functions.endpoint.serve import main

    assert main(["train"]) == 2
    assert "only serves" in capsys.readouterr().err
    monkeypatch.setenv("GOLIVE_ENDPOINT_MAX_BATCH_SIZE", "0")
    assert main(["serve"]) == 2
    assert "GOLIVE_ENDPOINT_MAX_BATCH_SIZE='0': Input should be greater than or equal to 1" in capsys.readouterr().err
