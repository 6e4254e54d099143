"""POST /v1/feedback: the true label for a prediction, stored once per prediction id."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from functions.api.dependencies import Services, get_services
from functions.api.errors import ApiError
from functions.api.feedback_store import FeedbackRecord
from functions.api.prediction_ids import predicted_index
from functions.api.schemas import ErrorResponse, FeedbackRequest, FeedbackResponse

router = APIRouter(prefix="/v1", tags=["feedback"])


@router.post("/feedback", response_model=FeedbackResponse,
             responses={409: {"model": ErrorResponse}, 422: {"model": ErrorResponse}})
def feedback(body: FeedbackRequest, services: Services = Depends(get_services)) -> FeedbackResponse:
    labels = services.backend.manifest.labels
    index = predicted_index(body.prediction_id)
    if index is None or index >= len(labels):
        raise ApiError(422, "unknown_prediction_id",
                       f"{body.prediction_id!r} is not a prediction id issued by this API; use the `prediction_id` "
                       "returned by /v1/predict")
    if body.label not in labels:
        raise ApiError(422, "unknown_label", f"label {body.label!r} is not one of the model's labels: {', '.join(labels)}")

    record = FeedbackRecord(body.prediction_id, body.label, labels[index], services.backend.manifest.version_id)
    existing = services.feedback.put_once(record)
    if existing is None:
        services.telemetry.record_feedback(record.correct)
        services.logger.info("feedback recorded", extra={"prediction_id": record.prediction_id, "correct": record.correct})
        status = "recorded"
    elif existing.label == record.label:
        status = "already_recorded"  # a retry: stored and counted once
    else:
        raise ApiError(409, "feedback_conflict",
                       f"feedback for {body.prediction_id} was already recorded with label {existing.label!r}; "
                       "each prediction takes one true label")
    return FeedbackResponse(prediction_id=record.prediction_id, label=record.label, correct=record.correct, status=status)
