"""POST /v1/feedback: the true label for a prediction, stored once per prediction id.

Only ids this deployment signed for the model it serves count (functions.api.prediction_ids): anyone
holding an API key could otherwise drive the online-accuracy alarm with made-up predictions."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from functions.api.dependencies import Services, get_services
from functions.api.feedback_store import FeedbackRecord
from functions.api.signing_keys import SigningKeysUnavailable
from functions.common.errors import ApiError
from golive.contracts.schemas import COMMON_ERRORS, FeedbackRequest, FeedbackResponse, error_responses

router = APIRouter(prefix="/v1", tags=["feedback"])


@router.post("/feedback", response_model=FeedbackResponse, responses=error_responses(*COMMON_ERRORS, 409, 422, 503))
def feedback(body: FeedbackRequest, services: Services = Depends(get_services)) -> FeedbackResponse:
    manifest = services.backend.manifest
    try:
        issued = services.prediction_ids.verify(body.prediction_id)
    except SigningKeysUnavailable as exc:
        services.logger.warning("signing keys unavailable", extra={"error": str(exc)})
        raise ApiError(
            503,
            "signing_keys_unavailable",
            "cannot check prediction ids right now; retry shortly",
            services.settings.retry_after_s,
        ) from exc
    if issued is None or issued.label_index >= len(manifest.labels):
        raise ApiError(
            422,
            "unknown_prediction_id",
            f"{body.prediction_id!r} is not a prediction id issued by this deployment (or its signing key "
            "has been rotated out); use the `prediction_id` returned by /v1/predict",
        )
    if issued.model_version != manifest.version_id:
        raise ApiError(
            422,
            "other_model_version",
            f"prediction {body.prediction_id!r} was made by model version {issued.model_version}; this "
            f"deployment serves {manifest.version_id} and takes feedback for its own predictions only",
        )
    if body.label not in manifest.labels:
        raise ApiError(
            422, "unknown_label", f"label {body.label!r} is not one of the model's labels: {', '.join(manifest.labels)}"
        )

    record = FeedbackRecord(body.prediction_id, body.label, manifest.labels[issued.label_index], issued.model_version)
    existing = services.feedback.put_once(record)
    if existing is None:
        services.telemetry.record_feedback(record.correct)
        services.logger.info(
            "feedback recorded", extra={"prediction_id": record.prediction_id, "correct": record.correct}
        )
        status = "recorded"
    elif existing.label == record.label:
        status = "already_recorded"  # a retry: stored and counted once
    else:
        raise ApiError(
            409,
            "feedback_conflict",
            f"feedback for {body.prediction_id} was already recorded with label {existing.label!r}; "
            "each prediction takes one true label",
        )
    return FeedbackResponse(
        prediction_id=record.prediction_id, label=record.label, correct=record.correct, status=status
    )
