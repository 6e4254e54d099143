"""Where predictions come from: ONNX Runtime in this process, or the SageMaker GPU endpoint.

Both give the model's raw scores (logits) in the bundle's label order; the routes turn them into
probabilities, or into what a Hugging Face client asked for (`function_to_apply`).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from functions.api.settings import Settings
from functions.api.warmup import ModelWakingUp, WarmupClock, is_waking_up
from functions.common.errors import ApiError
from golive import bundle

WARMUP_POLL_S = 2.0  # between tries while waiting for a waking endpoint
GATEWAY_BUDGET_S = 28.0  # API Gateway gives up at 29 s: the answer must be on its way before that


class Backend(Protocol):
    name: str
    manifest: bundle.Manifest
    metrics: bundle.BundleMetrics

    def predict_logits(self, texts: list[str]) -> np.ndarray: ...

    async def predict(self, texts: list[str]) -> np.ndarray:
        """`predict_logits` off the event loop, so the server keeps answering while the model runs."""

    def health(self) -> tuple[bool, str | None]: ...


def _s3():
    import boto3

    return boto3.client("s3")


def fetch_bundle(uri: str, dest: Path) -> Path:
    """Download a bundle from `s3://bucket/prefix/` or `s3://bucket/key/model.tar.gz` (once, at cold start)."""
    bucket, _, key = uri[len("s3://") :].partition("/")
    dest.mkdir(parents=True, exist_ok=True)
    s3 = _s3()
    if key.endswith(".tar.gz"):
        tarball = dest / bundle.TARBALL
        s3.download_file(bucket, key, str(tarball))
        bundle.unpack_tarball(tarball, dest)
        tarball.unlink()
        return dest
    prefix = key.rstrip("/") + "/" if key else ""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            name = obj["Key"][len(prefix) :]
            if name and "/" not in name:
                s3.download_file(bucket, obj["Key"], str(dest / name))
    return dest


def resolve_model_dir(settings: Settings) -> Path:
    if settings.model_s3_uri:
        return fetch_bundle(settings.model_s3_uri, Path(tempfile.gettempdir()) / "golive-model")
    return Path(settings.model_dir)


class OnnxBackend:
    name = "onnx"

    def __init__(self, settings: Settings):
        from golive.onnx_classifier import OnnxClassifier

        model_dir = resolve_model_dir(settings)
        self.classifier = OnnxClassifier.from_bundle(
            model_dir, settings.model_variant, intra_op_threads=settings.intra_op_threads
        )
        assert self.classifier.manifest is not None  # from_bundle sets it
        self.manifest = self.classifier.manifest
        self.metrics = bundle.read_metrics(model_dir)
        # a bounded pool: model calls beyond the cores only fight over them (ONNX Runtime's threads spin)
        self._pool = ThreadPoolExecutor(max_workers=settings.inference_workers, thread_name_prefix="golive-onnx")

    def predict_logits(self, texts: list[str]) -> np.ndarray:
        return self.classifier.predict_logits(texts)

    async def predict(self, texts: list[str]) -> np.ndarray:
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(self._pool, self.predict_logits, texts)

    def health(self) -> tuple[bool, str | None]:
        return True, f"onnx runtime on {self.classifier.provider}, {self.classifier.variant}"


class SageMakerBackend:
    """Calls the GPU endpoint; maps each SageMaker failure to the status a client can act on."""

    name = "sagemaker"

    def __init__(
        self,
        settings: Settings,
        client=None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        model_dir = resolve_model_dir(settings)
        self.manifest = bundle.read_manifest(model_dir)  # metadata only: the model runs on the endpoint
        self.metrics = bundle.read_metrics(model_dir)
        self.settings = settings
        self.endpoint = settings.endpoint_name
        self.retry_after = settings.retry_after_s
        self.target = (
            {"InferenceComponentName": settings.inference_component_name} if settings.inference_component_name else {}
        )
        self.warmup = WarmupClock(settings.expected_warmup_seconds, settings.retry_after_s, clock)
        self.on_wake_up: Callable[[float], None] = lambda seconds: None  # build_services: telemetry.record_wake_up
        self.wait_for_warmup_s = settings.wait_for_warmup_seconds
        # the longest one invoke_endpoint call (all botocore attempts) can take: a retry while waiting must fit too
        self.worst_call_s = settings.sagemaker_max_attempts * (
            settings.sagemaker_connect_timeout_s + settings.sagemaker_read_timeout_s
        )
        self.clock, self.sleep = clock, sleep
        self.client = client or self._new_client()
        self._control: Any = None  # a boto3 SageMaker client, made on the first health check

    def _new_client(self):
        import boto3
        from botocore.config import Config

        s = self.settings
        return boto3.client(
            "sagemaker-runtime",
            config=Config(
                connect_timeout=s.sagemaker_connect_timeout_s,
                read_timeout=s.sagemaker_read_timeout_s,
                retries={"mode": "adaptive", "total_max_attempts": s.sagemaker_max_attempts},
            ),
        )

    def reconnect(self) -> None:
        """New AWS clients (new connections, the credentials of now): after a SnapStart restore."""
        self.client = self._new_client()
        self._control = None

    def predict_logits(self, texts: list[str]) -> np.ndarray:
        """One prediction; while the endpoint wakes up, wait and retry for up to `wait_for_warmup_seconds`."""
        body = json.dumps({"inputs": texts, "return_logits": True})
        started = self.clock()
        while True:
            try:
                payload = self._invoke(body)
                break
            except ModelWakingUp:
                now = self.clock()
                pause = min(WARMUP_POLL_S, started + self.wait_for_warmup_s - now)
                if pause <= 0 or now + pause + self.worst_call_s > started + GATEWAY_BUDGET_S:
                    raise
                self.sleep(pause)
        woke_in_s = self.warmup.awake()
        if woke_in_s is not None:
            self.on_wake_up(woke_in_s)
        return self._parse(payload, len(texts))

    def _invoke(self, body: str) -> bytes:
        from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

        try:
            response = self.client.invoke_endpoint(
                EndpointName=self.endpoint,
                ContentType="application/json",
                Accept="application/json",
                Body=body,
                **self.target,
            )
            return response["Body"].read()
        except (ReadTimeoutError, ConnectTimeoutError) as exc:
            raise ApiError(504, "endpoint_timeout", "the model endpoint did not answer in time; try again") from exc
        except EndpointConnectionError as exc:
            raise ApiError(
                503, "endpoint_unreachable", "the model endpoint cannot be reached", self.retry_after
            ) from exc
        except ClientError as exc:
            raise self._map_client_error(exc) from exc

    async def predict(self, texts: list[str]) -> np.ndarray:
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(self.predict_logits, texts)  # waiting on the network: any free thread

    def _map_client_error(self, exc) -> ApiError:
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in ("ThrottlingException", "TooManyRequestsException"):
            return ApiError(
                429,
                "throttled",
                "too many requests to the model endpoint; retry after the given delay",
                self.retry_after,
            )
        if is_waking_up(code, exc.response.get("Error", {}).get("Message", "")):
            self.warmup.asleep()
            return ModelWakingUp(self.warmup.retry_after(), f"SageMaker: {code}")
        if code in ("ServiceUnavailable", "InternalDependencyException") or status in (503, 530):
            return ApiError(
                503, "endpoint_unavailable", "the model endpoint is unavailable; retry shortly", self.retry_after
            )
        if code == "ModelError":
            return ApiError(502, "model_error", "the model endpoint failed on this request")
        if code == "ValidationError" and "not found" in str(exc).lower():
            return ApiError(
                503,
                "endpoint_missing",
                f"the model endpoint {self.endpoint} does not exist or is switched off",
                self.retry_after,
            )
        return ApiError(502, "endpoint_error", f"the model endpoint returned {code or 'an error'}")

    def _parse(self, payload: bytes, expected: int) -> np.ndarray:
        """The endpoint answers in our own schema, each prediction with its logits in label order."""
        n_labels = len(self.manifest.labels)
        try:
            predictions = json.loads(payload)["predictions"]
            if len(predictions) != expected:
                raise ValueError(f"{len(predictions)} predictions for {expected} texts")
            logits = np.array([prediction["logits"] for prediction in predictions], dtype=np.float32)
            if logits.shape != (expected, n_labels):
                raise ValueError(f"logits of shape {logits.shape}, expected {(expected, n_labels)}")
            return logits
        except (ValueError, KeyError, TypeError) as exc:
            raise ApiError(
                502, "bad_endpoint_response", f"the model endpoint sent an unexpected answer ({exc})"
            ) from exc

    def health(self) -> tuple[bool, str | None]:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._control = self._control or boto3.client("sagemaker")
            status = self._control.describe_endpoint(EndpointName=self.endpoint)["EndpointStatus"]
        except (BotoCoreError, ClientError) as exc:
            return False, f"cannot describe endpoint {self.endpoint}: {exc}"
        return status == "InService", f"endpoint {self.endpoint} is {status}"


def make_backend(settings: Settings) -> Backend:
    return OnnxBackend(settings) if settings.backend == "onnx" else SageMakerBackend(settings)


def start_backend(settings: Settings) -> Future:
    """Build the backend on a worker thread; the caller collects it with `.result()` (which re-raises).

    Cold start: hashing the bundle, parsing the tokenizer and building the ONNX Runtime session release
    the GIL, so they run while the caller imports FastAPI (about 0.1 s saved on 2 vCPUs). The modules the
    worker needs are imported here, on the caller's thread: two threads importing at once can deadlock.
    """
    if settings.backend == "onnx":
        import golive.onnx_classifier  # noqa: F401
    else:
        import boto3  # noqa: F401
        import botocore.config  # noqa: F401
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="golive-backend-load")
    future = pool.submit(make_backend, settings)
    pool.shutdown(wait=False)  # the worker finishes its one job and exits
    return future
