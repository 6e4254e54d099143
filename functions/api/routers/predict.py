"""POST /v1/predict: classify one text or a list, in input order, each prediction with a signed id for feedback."""

from __future__ import annotations

import time

import numpy as np
from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from functions.api.capture import capture_texts
from functions.api.dependencies import Services, get_services
from functions.api.warmup import ModelWakingUp
from functions.common.limits import check_texts
from functions.common.predictions import top_labels
from golive.classification_metrics import softmax
from golive.contracts.schemas import COMMON_ERRORS, Prediction, PredictRequest, PredictResponse, error_responses

router = APIRouter(prefix="/v1", tags=["predict"])

# what a route that runs the model can answer besides 200: bad input, and a failing SageMaker endpoint
MODEL_ERRORS = error_responses(*COMMON_ERRORS, 422, 429, 502, 503, 504)


async def run_model(
    services: Services, texts: list[str], max_texts: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Check the texts, run the model off the event loop, record telemetry and the log line: what every
    route that classifies shares. Returns (logits, probabilities), one row per text in input order.
    `max_texts`: a route's own batch limit, where it is lower than GOLIVE_MAX_TEXTS."""
    settings, backend = services.settings, services.backend
    check_texts(texts, settings.max_texts if max_texts is None else max_texts, settings.max_chars)
    started = time.perf_counter()
    try:
        logits = await backend.predict(texts)  # only the model call leaves the event loop
    except ModelWakingUp as exc:  # 503 + Retry-After; counted on its own, not as a backend error
        services.telemetry.record_model_waking_up()
        services.logger.info("model waking up", extra={"retry_after_s": exc.retry_after})
        raise
    latency_ms = (time.perf_counter() - started) * 1000
    probs = softmax(logits)

    labels = backend.manifest.labels
    predicted = [labels[i] for i in probs.argmax(axis=1)]
    services.telemetry.record_prediction(latency_ms, predicted, probs.max(axis=1).tolist(), [len(t) for t in texts])
    log = {
        "batch_size": len(texts),
        "latency_ms": round(latency_ms, 2),
        "labels": predicted,
        "model_version": backend.manifest.version_id,
    }
    if settings.log_texts:
        log["texts"] = texts
    services.logger.info("predicted", extra=log)
    return logits, probs


async def issue_prediction_ids(services: Services, probs: np.ndarray, texts: list[str]) -> list[str]:
    """A signed id for each row's best label, in input order, and with capture on each text kept under its id:
    what every route that answers predictions shares, so feedback works the same for all of them."""
    prediction_ids = [services.prediction_ids.issue(int(row.argmax())) for row in probs]
    if services.settings.capture_texts:  # a store call: off the event loop, like the model call
        await run_in_threadpool(capture_texts, services, prediction_ids, texts)
    return prediction_ids


@router.post("/predict", response_model=PredictResponse, response_model_exclude_none=True, responses=MODEL_ERRORS)
async def predict(body: PredictRequest, services: Services = Depends(get_services)) -> PredictResponse:
    texts = body.texts()
    _, probs = await run_model(services, texts)
    labels = services.backend.manifest.labels
    predictions = []
    for row, prediction_id in zip(probs, await issue_prediction_ids(services, probs, texts)):
        best = int(row.argmax())
        prediction = Prediction(prediction_id=prediction_id, label=labels[best], score=float(row[best]))
        if body.top_k:
            prediction.top_k = top_labels(row, labels, body.top_k)
        predictions.append(prediction)
    return PredictResponse(model_version=services.backend.manifest.version_id, predictions=predictions)
