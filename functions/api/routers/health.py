"""GET /v1/health and GET /v1/model."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from functions.api.dependencies import Services, get_services
from golive.contracts.schemas import COMMON_ERRORS, HealthResponse, ModelInfo, error_responses

router = APIRouter(prefix="/v1", tags=["health"])


@router.get(
    "/health",
    response_model=HealthResponse,
    responses={
        **error_responses(*COMMON_ERRORS),
        503: {"model": HealthResponse, "description": "the model backend is not reachable"},
    },
)
def health(services: Services = Depends(get_services)):
    reachable, detail = services.backend.health()
    body = HealthResponse(
        status="ok" if reachable else "unavailable",
        model_loaded=True,
        backend=services.backend.name,
        backend_reachable=reachable,
        model_version=services.backend.manifest.version_id,
        detail=detail,
    )
    return JSONResponse(body.model_dump(), status_code=200 if reachable else 503)


@router.get("/model", response_model=ModelInfo, responses=error_responses(*COMMON_ERRORS))
def model(services: Services = Depends(get_services)) -> ModelInfo:
    return ModelInfo(
        backend=services.backend.name,
        manifest=asdict(services.backend.manifest),
        metrics=services.backend.metrics.to_dict(),
    )
