"""The SageMaker serving contract on FastAPI: `GET /ping` and `POST /invocations`.

The model loads in a background thread so the server answers `/ping` (503, "loading") at once; `/ping`
turns 200 only after the model is loaded and warmed up. Requests use the API's schema, limits and error bodies.

`/ping` answers a status report, `{"status": "loading" | "ready" | "failed", ...}`, at 200 and at 503 alike, not
the error body: SageMaker reads only its status code, and operators read one shape whatever the state (the API's
/v1/health does the same). `/invocations` answers errors in the one error body: 503 `model_not_ready` with
`Retry-After` while loading, 503 `model_failed` without it when loading failed (no retry can help).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from functions.common.errors import ApiError
from functions.common.http import RequestBodyGuard, hugging_face_field_hints, install_error_handlers
from functions.common.limits import check_texts, declare_limits
from functions.common.predictions import top_labels
from functions.endpoint.batcher import MicroBatcher
from functions.endpoint.model import load_classifier, warm_up
from functions.endpoint.settings import SAGEMAKER_MAX_PAYLOAD_BYTES, EndpointSettings
from golive.classification_metrics import softmax
from golive.contracts.schemas import (
    COMMON_ERRORS,
    EndpointPrediction,
    EndpointRequest,
    EndpointResponse,
    error_responses,
)
from golive.errors import UserError
from golive.onnx_classifier import OnnxClassifier

log = logging.getLogger("golive.endpoint")


class ModelState:
    """Loading, ready or failed; what /ping reports and what /invocations waits for."""

    def __init__(self, settings: EndpointSettings):
        self.settings = settings
        self.status = "loading"
        self.detail: str | None = None
        self.classifier: OnnxClassifier | None = None
        self.batcher: MicroBatcher | None = None

    def load(self) -> None:
        try:
            classifier = load_classifier(self.settings)
            warm_up(classifier, self.settings.warmup_batches, self.settings.max_batch_size)
            self.batcher = MicroBatcher(
                lambda texts: classifier.predict_logits(texts, batch_size=self.settings.max_batch_size),
                self.settings.max_batch_size,
                self.settings.max_wait_ms,
            )
            self.classifier = classifier
            self.status = "ready"
        except UserError as exc:  # a missing or unusable bundle: the message says how to fix it, one log line
            log.error("model failed to load from %s: %s", self.settings.model_dir, exc)
            self.status, self.detail = "failed", str(exc)
        except Exception as exc:  # the container stays up to say why; SageMaker sees /ping fail
            log.exception("model failed to load from %s", self.settings.model_dir)
            self.status, self.detail = "failed", f"{type(exc).__name__}: {exc}"

    def describe(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status}
        if self.classifier is not None:
            assert self.batcher is not None and self.classifier.manifest is not None  # load() set them first
            body.update(
                provider=self.classifier.provider,
                variant=self.classifier.variant,
                model_version=self.classifier.manifest.version_id,
                max_batch_size=self.settings.max_batch_size,
                max_wait_ms=self.settings.max_wait_ms,
                **self.batcher.stats.as_dict(),
            )
        if self.detail:
            body["detail"] = self.detail
        return body


def get_state(request: Request) -> ModelState:
    return request.app.state.model


def to_predictions(logits: np.ndarray, labels: list[str], body: EndpointRequest) -> list[EndpointPrediction]:
    """A prediction per row of logits: the best label and its score, with the top_k and logits asked for."""
    predictions = []
    for row, probs in zip(logits, softmax(logits)):
        best = int(probs.argmax())
        prediction = EndpointPrediction(label=labels[best], score=float(probs[best]))
        if body.top_k:
            prediction.top_k = top_labels(probs, labels, body.top_k)
        if body.return_logits:
            prediction.logits = row.tolist()
        predictions.append(prediction)
    return predictions


def create_app(settings: EndpointSettings | None = None) -> FastAPI:
    settings = settings or EndpointSettings.load()
    state = ModelState(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        threading.Thread(target=state.load, name="golive-model-load", daemon=True).start()
        yield
        if state.batcher:
            state.batcher.close()

    app = FastAPI(
        title="golive endpoint",
        version="1",
        lifespan=lifespan,
        description="SageMaker serving container: ONNX Runtime with dynamic micro-batching.",
    )
    app.state.model = state

    @app.get(
        "/ping",
        responses={
            **error_responses(*COMMON_ERRORS),
            503: {"description": "the model is loading, or failed to load (`detail` says why)"},
        },
    )
    def ping(state: ModelState = Depends(get_state)) -> JSONResponse:
        return JSONResponse(state.describe(), status_code=200 if state.status == "ready" else 503)

    @app.post(
        "/invocations",
        response_model=EndpointResponse,
        response_model_exclude_none=True,
        responses=error_responses(*COMMON_ERRORS, 422, 503, 504),
    )
    async def invocations(body: EndpointRequest, state: ModelState = Depends(get_state)) -> EndpointResponse:
        if state.status == "failed":  # it will not become ready: no Retry-After
            raise ApiError(
                503, "model_failed", f"the model failed to load: {state.detail}; fix the bundle and redeploy"
            )
        if state.status != "ready":
            raise ApiError(503, "model_not_ready", f"the model is {state.status}; retry after /ping answers 200", 5)
        assert state.batcher is not None and state.classifier is not None  # "ready": load() set both
        assert state.classifier.manifest is not None  # a classifier loaded from a bundle
        texts = body.texts()
        check_texts(texts, settings.max_texts, settings.max_chars)
        try:
            logits = await asyncio.wait_for(state.batcher.submit(texts), timeout=settings.timeout_s)
        except TimeoutError:
            raise ApiError(504, "model_timeout", f"the model did not answer within {settings.timeout_s:g} s") from None
        predictions = to_predictions(logits, state.classifier.labels, body)
        return EndpointResponse(model_version=state.classifier.manifest.version_id, predictions=predictions)

    declare_limits(app, settings.max_texts, settings.max_chars)
    install_error_handlers(
        app,
        record_error=lambda status: None,
        logger=log,
        field_hints=hugging_face_field_hints(
            'is not taken here: put `top_k` next to `inputs`, e.g. {"inputs": "text", "top_k": 2}'
        ),
    )
    app.add_middleware(
        RequestBodyGuard,
        max_bytes=SAGEMAKER_MAX_PAYLOAD_BYTES,
        limit_note=" (SageMaker InvokeEndpoint's 6 MB payload limit)",
    )
    return app
