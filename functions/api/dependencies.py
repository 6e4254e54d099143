"""What the routes need, built once per process and handed out through FastAPI's dependencies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request

from functions.api.backends import Backend
from functions.api.feedback_store import FeedbackStore
from functions.api.prediction_ids import PredictionIds
from functions.api.settings import Settings
from functions.api.telemetry import Telemetry

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger


@dataclass
class Services:
    settings: Settings
    backend: Backend
    telemetry: Telemetry
    feedback: FeedbackStore
    logger: Logger
    prediction_ids: PredictionIds


async def get_services(request: Request) -> Services:
    # async: FastAPI would run a plain `def` dependency on its thread pool, one thread hop per request
    return request.app.state.services
