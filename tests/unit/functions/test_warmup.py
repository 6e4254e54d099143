"""A scale-to-zero endpoint waking up, end to end: the Lambda (Mangum, recorded API Gateway events) on the
`sagemaker` backend, its own sagemaker-runtime client driven by botocore's Stubber with the answers SageMaker
gives an inference component at zero copies; then golive.client and Hugging Face's InferenceClient against
a real uvicorn server in the same state."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from functions.api.backends import GATEWAY_BUDGET_S, SageMakerBackend
from functions.api.main import build_services, create_app
from functions.api.settings import Settings
from functions.api.telemetry import PrometheusTelemetry
from functions.api.warmup import ModelWakingUp
from golive.contracts import telemetry
from tests.conftest import LambdaContext, api_event, fresh_lambda_module, running_server

ENDPOINT, COMPONENT = "golive-staging", "golive-staging-model"
# what InvokeEndpoint answers for an inference component with no copies (AWS's scale-to-zero announcement and
# notebooks); ModelNotReadyException (429) is the service model's answer for a model still loading
NO_CAPACITY = (
    "Inference Component has no capacity to process this request. ApplicationAutoScaling may be "
    "in-progress (if configured) or try to increase the capacity by invoking "
    "UpdateInferenceComponentRuntimeConfig API."
)
INVOKE = {
    "EndpointName": ENDPOINT,
    "InferenceComponentName": COMPONENT,
    "ContentType": "application/json",
    "Accept": "application/json",
    "Body": ANY,
}


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def asleep(stubber: Stubber, code: str = "ValidationError") -> None:
    status, message = (400, NO_CAPACITY) if code == "ValidationError" else (429, "Model is not ready")
    stubber.add_client_error(
        "invoke_endpoint",
        service_error_code=code,
        service_message=message,
        http_status_code=status,
        expected_params=INVOKE,
    )


def awake(stubber: Stubber, n_texts: int = 1) -> None:
    data = json.dumps(
        {
            "model_version": "gpu",
            "predictions": [{"label": "positive", "score": 0.9, "logits": [-1.0, 1.2]} for _ in range(n_texts)],
        }
    ).encode()
    stubber.add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(data), len(data)), "ContentType": "application/json"},
        expected_params=INVOKE,
    )


def emf_docs(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{") and '"_aws"' in line]


def metric_names(stdout: str) -> list[str]:
    return [m["Name"] for doc in emf_docs(stdout) for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]


def metric_values(stdout: str, name: str) -> list[float]:
    """Every value of one metric in the EMF lines (a line holds one value, or a list of them)."""
    values = []
    for doc in emf_docs(stdout):
        if name in {m["Name"] for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}:
            value = doc[name]
            values += value if isinstance(value, list) else [value]
    return values


@pytest.fixture()
def sagemaker_env(handmade_bundle, tmp_path, monkeypatch):
    for name, value in {
        "GOLIVE_BACKEND": "sagemaker",
        "GOLIVE_ENDPOINT_NAME": ENDPOINT,
        "GOLIVE_INFERENCE_COMPONENT_NAME": COMPONENT,
        "GOLIVE_EXPECTED_WARMUP_SECONDS": "240",
        "GOLIVE_MODEL_DIR": str(handmade_bundle),
        "GOLIVE_FEEDBACK_DB": str(tmp_path / "f.sqlite3"),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("version", ["rest_v1", "http_v2"])
def test_asleep_then_503_with_retry_after_then_awake_then_200(sagemaker_env, version, capsys):
    import sys

    module = fresh_lambda_module()
    try:
        backend = module.app.state.services.backend
        clock = backend.warmup.clock = FakeClock()
        stubber = Stubber(backend.client)  # the Lambda's own sagemaker-runtime client

        def call(path: str, body: dict) -> tuple[int, dict, dict]:
            response = module.handler(api_event(version, "POST", path, body), LambdaContext())
            return response["statusCode"], response.get("headers") or {}, json.loads(response["body"])

        with stubber:
            asleep(stubber)  # the component is at zero copies
            status, headers, body = call("/v1/predict", {"inputs": "hello"})
            assert status == 503
            assert headers["retry-after"] == "240"  # nothing measured yet: the configured expectation
            assert body["error"]["type"] == "model_waking_up" and "waking up" in body["error"]["message"]
            assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}
            names = metric_names(capsys.readouterr().out)
            assert telemetry.MODEL_WAKING_UP in names and telemetry.BACKEND_ERRORS not in names

            clock.now += 100
            asleep(stubber, "ModelNotReadyException")  # a copy is placed, the model still loading
            status, headers, body = call("/v1/classify", {"inputs": "hello"})  # Hugging Face's route too
            assert (status, headers["retry-after"], body["error"]["type"]) == (503, "140", "model_waking_up")

            clock.now += 50
            awake(stubber, 2)
            status, _, body = call("/v1/predict", {"inputs": ["hello", "again"]})
            assert status == 200 and [p["label"] for p in body["predictions"]] == ["positive", "positive"]
            out = capsys.readouterr().out
            assert telemetry.MODEL_WAKING_UP in metric_names(out)  # the 429 one, flushed later
            assert backend.warmup.last_measured_s == 150
            assert metric_values(out, telemetry.WAKE_UP_SECONDS) == [150]  # first 503 to first answer, once
            units = {
                m["Name"]: m.get("Unit")
                for doc in emf_docs(out)
                for d in doc["_aws"]["CloudWatchMetrics"]
                for m in d["Metrics"]
            }
            assert units[telemetry.WAKE_UP_SECONDS] == "Seconds"

            clock.now += 10
            awake(stubber)  # an ordinary success: nothing woke, nothing to measure
            status, _, _ = call("/v1/predict", {"inputs": "hello"})
            names = metric_names(capsys.readouterr().out)
            assert status == 200 and telemetry.PREDICTIONS in names and telemetry.WAKE_UP_SECONDS not in names

            clock.now += 3600  # asleep again, later: the estimate is now what this instance measured
            asleep(stubber)
            status, headers, _ = call("/v1/predict", {"inputs": "hello"})
            assert (status, headers["retry-after"]) == (503, "150")
            assert telemetry.WAKE_UP_SECONDS not in metric_names(capsys.readouterr().out)
        stubber.assert_no_pending_responses()
    finally:
        sys.modules.pop("functions.lambda_handler", None)


def test_other_validation_errors_are_not_a_wake_up(sagemaker_env):
    module = fresh_lambda_module()
    stubber = Stubber(module.app.state.services.backend.client)
    stubber.add_client_error(
        "invoke_endpoint",
        service_error_code="ValidationError",
        http_status_code=400,
        service_message="Endpoint golive-staging of account 123456789012 not found.",
    )
    with stubber:
        response = module.handler(api_event("rest_v1", "POST", "/v1/predict", {"inputs": "x"}), LambdaContext())
    assert json.loads(response["body"])["error"]["type"] == "endpoint_missing"


def backend_with(handmade_bundle, **settings) -> tuple[SageMakerBackend, Stubber, FakeClock, list[float]]:
    clock, slept = FakeClock(), []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    s = Settings(
        backend="sagemaker",
        endpoint_name=ENDPOINT,
        inference_component_name=COMPONENT,
        model_dir=str(handmade_bundle),
        **settings,
    )
    client = boto3.client("sagemaker-runtime", region_name="us-east-1")
    return SageMakerBackend(s, client=client, clock=clock, sleep=sleep), Stubber(client), clock, slept


def test_waiting_for_warmup_retries_until_awake(handmade_bundle):
    backend, stubber, _, slept = backend_with(handmade_bundle, wait_for_warmup_seconds=10)
    with stubber:
        asleep(stubber)
        asleep(stubber, "ModelNotReadyException")
        awake(stubber)
        logits = backend.predict_logits(["hello"])
    assert logits.shape == (1, 2) and slept == [2.0, 2.0]
    assert backend.warmup.last_measured_s == 4.0


def test_each_wake_up_is_reported_once_and_a_stale_one_not_at_all(handmade_bundle):
    """A caller that gave up on the 503 and came back long after: the endpoint woke (maybe slept and woke again)
    at some unknown time in between, so the success measures nothing, rather than a wake-up of hours."""
    backend, stubber, clock, _ = backend_with(handmade_bundle, expected_warmup_seconds=300)
    reported: list[float] = []
    backend.on_wake_up = reported.append
    with stubber:
        asleep(stubber)
        with pytest.raises(ModelWakingUp):
            backend.predict_logits(["hello"])
        clock.now += 280  # came back after its Retry-After
        awake(stubber)
        awake(stubber)
        backend.predict_logits(["hello"])
        backend.predict_logits(["again"])
        assert reported == [280]

        asleep(stubber)
        with pytest.raises(ModelWakingUp):
            backend.predict_logits(["hello"])
        clock.now += 3 * 3600  # gave up; hours later the endpoint answers
        awake(stubber)
        backend.predict_logits(["hello"])
    assert reported == [280] and backend.warmup.estimate_s == 280 and backend.warmup.asleep_since is None


def test_waiting_gives_up_with_503_before_api_gateway_does(handmade_bundle):
    backend, stubber, clock, slept = backend_with(handmade_bundle, wait_for_warmup_seconds=25)
    with stubber:
        for _ in range(20):
            asleep(stubber)
        started = clock.now
        with pytest.raises(ModelWakingUp) as raised:
            backend.predict_logits(["hello"])
    # the default client may spend 2 x (2 + 10) s on one call: the last try had to fit under API Gateway's 29 s
    assert slept and clock.now - started + backend.worst_call_s <= GATEWAY_BUDGET_S
    assert raised.value.status == 503 and raised.value.retry_after >= 1


def test_wait_for_warmup_is_bounded_by_api_gateway():
    with pytest.raises(ValueError, match="wait_for_warmup_seconds"):
        Settings(wait_for_warmup_seconds=40)


@pytest.fixture()
def waking_server(handmade_bundle, tmp_path):
    """`golive serve`'s app on the sagemaker backend under uvicorn; its runtime client under a Stubber."""
    settings = Settings(
        backend="sagemaker",
        endpoint_name=ENDPOINT,
        inference_component_name=COMPONENT,
        model_dir=str(handmade_bundle),
        feedback_db=str(tmp_path / "f.sqlite3"),
        expected_warmup_seconds=1,
        retry_after_s=1,
    )
    client = boto3.client("sagemaker-runtime", region_name="us-east-1")
    telemetry_sink = PrometheusTelemetry()
    app = create_app(build_services(settings, telemetry_sink, backend=SageMakerBackend(settings, client=client)))
    stubber = Stubber(client)
    with stubber, running_server(app) as url:
        yield url, stubber, telemetry_sink


def test_golive_client_rides_out_the_warmup(waking_server):
    from golive.client import Client

    url, stubber, sink = waking_server
    asleep(stubber)
    asleep(stubber, "ModelNotReadyException")
    awake(stubber)
    with Client(url, deadline=30) as api:
        result = api.predict("hello")  # two 503s with Retry-After: 1, then the answer
    assert result.predictions[0].label == "positive"
    assert sink.waking_up._value.get() == 2
    # one wake-up measured (real clock: two Retry-After: 1 waits), in `golive serve`'s /metrics histogram
    assert sink.registry.get_sample_value(f"{telemetry.PROM_WAKE_UP_SECONDS}_count") == 1
    assert sink.registry.get_sample_value(f"{telemetry.PROM_WAKE_UP_SECONDS}_sum") >= 1
    stubber.assert_no_pending_responses()


def test_hugging_face_inference_client_raises_on_the_503(waking_server, monkeypatch):
    """huggingface_hub's InferenceClient does not retry a 503: the caller sees it, Retry-After included."""
    import huggingface_hub
    from huggingface_hub import InferenceClient
    from huggingface_hub.utils import _detect_agent

    # as tests/test_hf_compat.py: the suite's no-download guard off for our own URL, and no registry fetched from the Hub
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(_detect_agent, "_registry", _detect_agent._EMPTY_REGISTRY)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    from huggingface_hub.errors import HfHubHTTPError

    url, stubber, _ = waking_server
    asleep(stubber)
    with pytest.raises(HfHubHTTPError) as raised:
        InferenceClient(model=f"{url}/v1/classify").text_classification("hello")
    assert raised.value.response.status_code == 503
    assert raised.value.response.headers["retry-after"] == "1"
    assert raised.value.response.json()["error"]["type"] == "model_waking_up"
