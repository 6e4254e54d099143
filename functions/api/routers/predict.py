"""POST /v1/predict: classify one text or a list, in input order."""

from __future__ import annotations

import time

import numpy as np
from fastapi import APIRouter, Depends

from functions.api.dependencies import Services, get_services
from functions.api.errors import ApiError
from functions.api.prediction_ids import new_prediction_id
from functions.api.schemas import ErrorResponse, LabelScore, Prediction, PredictRequest, PredictResponse

router = APIRouter(prefix="/v1", tags=["predict"])


def check_limits(texts: list[str], max_texts: int, max_chars: int) -> None:
    """The same limits, and messages, on the API and on the endpoint container."""
    if not texts:
        raise ApiError(422, "invalid_request", "`inputs` is an empty list; send at least one text")
    if len(texts) > max_texts:
        raise ApiError(422, "too_many_texts", f"{len(texts)} texts in one request; send at most {max_texts} "
                                              "per request (split the list)")
    for i, text in enumerate(texts):
        where = "`inputs`" if len(texts) == 1 else f"`inputs[{i}]`"
        if not text.strip():
            raise ApiError(422, "empty_text", f"{where} is empty; send non-empty text")
        if len(text) > max_chars:
            raise ApiError(422, "text_too_long", f"{where} has {len(text)} characters; the limit is "
                                                 f"{max_chars} (longer texts are truncated by the model anyway)")


def top_labels(row: np.ndarray, labels: list[str], k: int) -> list[LabelScore]:
    order = np.argsort(-row, kind="stable")[:k]
    return [LabelScore(label=labels[i], score=float(row[i])) for i in order]


@router.post("/predict", response_model=PredictResponse, response_model_exclude_none=True,
             responses={413: {"model": ErrorResponse}, 422: {"model": ErrorResponse}, 429: {"model": ErrorResponse},
                        502: {"model": ErrorResponse}, 503: {"model": ErrorResponse}, 504: {"model": ErrorResponse}})
async def predict(body: PredictRequest, services: Services = Depends(get_services)) -> PredictResponse:
    texts = body.texts()
    check_limits(texts, services.settings.max_texts, services.settings.max_chars)
    backend = services.backend
    labels = backend.manifest.labels
    started = time.perf_counter()
    probs = await backend.predict(texts)  # only the model call leaves the event loop
    latency_ms = (time.perf_counter() - started) * 1000

    top = probs.argmax(axis=1)
    predictions = []
    for row, best in zip(probs, top):
        prediction = Prediction(prediction_id=new_prediction_id(int(best)), label=labels[best], score=float(row[best]))
        if body.top_k:
            prediction.top_k = top_labels(row, labels, body.top_k)
        predictions.append(prediction)

    predicted = [p.label for p in predictions]
    services.telemetry.record_prediction(latency_ms, predicted, [p.score for p in predictions], [len(t) for t in texts])
    log = {"batch_size": len(texts), "latency_ms": round(latency_ms, 2), "labels": predicted,
           "model_version": backend.manifest.version_id}
    if services.settings.log_texts:
        log["texts"] = texts
    services.logger.info("predicted", extra=log)
    return PredictResponse(model_version=backend.manifest.version_id, predictions=predictions)
