"""The FastAPI application: routers, limits and error handling shared by Lambda and `golive serve`."""

from __future__ import annotations

from fastapi import FastAPI

from functions.api.api_gateway import declare_security
from functions.api.backends import Backend, SageMakerBackend, make_backend
from functions.api.dependencies import Services
from functions.api.docs import install_docs
from functions.api.feedback_store import DynamoFeedbackStore, SqliteFeedbackStore
from functions.api.prediction_ids import ID_PATTERN, KeyRing, PredictionIds
from functions.api.routers import classify, explain, feedback, health, predict
from functions.api.settings import Settings
from functions.api.signing_keys import load_key_ring
from functions.api.telemetry import Telemetry
from functions.common.http import RequestBodyGuard, hugging_face_field_hints, install_error_handlers
from functions.common.limits import declare_limits
from golive.contracts.telemetry import SERVICE


def build_services(
    settings: Settings, telemetry: Telemetry, logger=None, backend: Backend | None = None, keys: KeyRing | None = None
) -> Services:
    """`backend`, `keys`: already built (see `start_backend`, `load_key_ring`); by default they are built here."""
    from aws_lambda_powertools import Logger

    store = (
        DynamoFeedbackStore(settings.feedback_table)
        if settings.feedback_table
        else SqliteFeedbackStore(settings.feedback_db)
    )
    backend = backend or make_backend(settings)
    if isinstance(backend, SageMakerBackend):
        backend.on_wake_up = telemetry.record_wake_up  # each wake-up its WarmupClock measures, once: WakeUpSeconds
    return Services(
        settings=settings,
        backend=backend,
        telemetry=telemetry,
        feedback=store,
        logger=logger or Logger(service=SERVICE),
        prediction_ids=PredictionIds(keys or load_key_ring(settings), backend.manifest.version_id),
    )


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="golive API",
        version="1",
        description="Text classification with the model bundle trained by golive. "
        'Send `{"inputs": "text"}` or `{"inputs": ["a", "b"]}` to /v1/predict (prediction ids '
        "for feedback in the answer), or Hugging Face's text-classification request to /v1/classify (its answer "
        "shape; the prediction ids in the X-Prediction-Ids header).",
        docs_url=None,
        redoc_url=None,  # /docs is served from local files (functions/api/docs.py), not a CDN
    )
    app.state.services = services
    for router in (predict.router, classify.router, explain.router, feedback.router, health.router):
        app.include_router(router)
    install_docs(app)

    settings = services.settings

    def patch(document: dict) -> None:
        _declare_feedback_values(document, services.backend.manifest.labels)
        explain.declare_token_limit(document, explain.token_limit(services))
        classify.declare_batch_limit(document, classify.max_texts(services), settings.max_chars)
        declare_security(document, settings.api_key_required, settings.authorizer)

    declare_limits(app, settings.max_texts, settings.max_chars, patch=patch)
    install_error_handlers(
        app,
        services.telemetry.record_error,
        services.logger,
        field_hints=hugging_face_field_hints("goes to /v1/classify"),
    )
    app.add_middleware(
        RequestBodyGuard, max_bytes=settings.max_body_bytes, record_error=services.telemetry.record_error
    )
    return app


def _declare_feedback_values(document: dict, labels: list[str]) -> None:
    """Feedback takes one of this model's labels and an id in the signed format (functions.api.prediction_ids)."""
    properties = document["components"]["schemas"]["FeedbackRequest"]["properties"]
    properties["label"]["enum"] = list(labels)
    properties["prediction_id"]["pattern"] = ID_PATTERN
