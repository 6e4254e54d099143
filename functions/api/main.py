"""The FastAPI application: routers, limits and error handling shared by Lambda and `golive serve`."""

from __future__ import annotations

from fastapi import FastAPI

from functions.api.backends import Backend, make_backend
from functions.api.dependencies import Services
from functions.api.docs import install_docs
from functions.api.feedback_store import DynamoFeedbackStore, SqliteFeedbackStore
from functions.api.http import RequestBodyGuard, install_error_handlers
from functions.api.routers import feedback, health, predict
from functions.api.settings import Settings
from functions.api.telemetry import SERVICE, Telemetry


def build_services(settings: Settings, telemetry: Telemetry, logger=None, backend: Backend | None = None) -> Services:
    """`backend`: one already built (see `start_backend`); by default it is built here."""
    from aws_lambda_powertools import Logger

    store = (DynamoFeedbackStore(settings.feedback_table) if settings.feedback_table
             else SqliteFeedbackStore(settings.feedback_db))
    return Services(settings=settings, backend=backend or make_backend(settings), telemetry=telemetry, feedback=store,
                    logger=logger or Logger(service=SERVICE))


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="golive API",
        version="1",
        description="Text classification with the model bundle trained by golive. "
                    "Send `{\"inputs\": \"text\"}` or `{\"inputs\": [\"a\", \"b\"]}` to /v1/predict.",
        docs_url=None, redoc_url=None,  # /docs is served from local files (functions/api/docs.py), not a CDN
    )
    app.state.services = services
    for router in (predict.router, feedback.router, health.router):
        app.include_router(router)
    install_docs(app)

    install_error_handlers(app, services.telemetry.record_error, services.logger)
    app.add_middleware(RequestBodyGuard, max_bytes=services.settings.max_body_bytes)
    return app
