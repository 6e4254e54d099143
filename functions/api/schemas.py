"""Request and response bodies. Shared with the GPU endpoint container, so both speak one schema."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PredictRequest(BaseModel):
    """The Hugging Face inference request shape: `{"inputs": "text"}` or `{"inputs": ["a", "b"]}`."""

    model_config = ConfigDict(extra="forbid")

    inputs: str | list[str] = Field(..., description="one text, or a list of texts")
    top_k: int | None = Field(None, ge=1, description="also return the k most likely labels with their scores")

    def texts(self) -> list[str]:
        return [self.inputs] if isinstance(self.inputs, str) else list(self.inputs)


class LabelScore(BaseModel):
    label: str
    score: float


class Prediction(BaseModel):
    prediction_id: str = Field(..., description="send this back to /v1/feedback with the true label")
    label: str
    score: float
    top_k: list[LabelScore] | None = None


class PredictResponse(BaseModel):
    model_version: str
    predictions: list[Prediction]


class EndpointPrediction(BaseModel):
    """What the GPU endpoint returns per text; the API adds the prediction id it hands to clients."""

    label: str
    score: float
    top_k: list[LabelScore] | None = None


class EndpointResponse(BaseModel):
    model_version: str
    predictions: list[EndpointPrediction]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prediction_id: str = Field(..., min_length=1, max_length=128)
    label: str = Field(..., min_length=1, max_length=256, description="the true label")


class FeedbackResponse(BaseModel):
    prediction_id: str
    label: str
    correct: bool
    status: str = Field(..., description="'recorded', or 'already_recorded' for a retry")


class HealthResponse(BaseModel):
    status: str
    model_loaded: bool
    backend: str
    backend_reachable: bool
    model_version: str | None = None
    detail: str | None = None


class ModelInfo(BaseModel):
    backend: str
    manifest: dict[str, Any]
    metrics: dict[str, Any]


class ErrorBody(BaseModel):
    type: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody
