"""The HTTP API's request and response bodies, and the GPU endpoint's: one schema that the API serves, the
endpoint container speaks, the API's sagemaker backend sends and golive.client reads."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool
from pydantic_core import PydanticCustomError

# `inputs` is declared in full (length, count, non-blank) by functions.common.limits, from the settings


def _json_integer(value: Any) -> Any:
    """A JSON Schema integer: 3 or 3.0, never true or "3" (pydantic's lax mode takes those, strict mode refuses 3.0)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise PydanticCustomError("int_type", "Input should be a valid integer")


TopK = Annotated[int, Field(ge=1), BeforeValidator(_json_integer)]  # in this order the schema says `minimum: 1`


class PredictRequest(BaseModel):
    """`{"inputs": "text"}` or `{"inputs": ["a", "b"]}`, the Hugging Face inputs, plus our own `top_k`."""

    model_config = ConfigDict(extra="forbid")

    inputs: str | list[str] = Field(..., description="one text, or a list of texts")
    top_k: TopK | None = Field(
        None, description="also return the k most likely labels with their scores (all of them when k is larger)"
    )

    def texts(self) -> list[str]:
        return [self.inputs] if isinstance(self.inputs, str) else list(self.inputs)


class EndpointRequest(PredictRequest):
    """What the GPU endpoint takes: the API's request, and whether to return the raw scores."""

    return_logits: StrictBool = Field(False, description="add each prediction's logits, in label order")


class ClassifyParameters(BaseModel):
    """The Hugging Face text-classification parameters (huggingface_hub's `text_classification`)."""

    model_config = ConfigDict(extra="forbid")

    top_k: TopK | None = Field(
        None,
        description="only the k most likely labels (default: all labels; a k "
        "larger than the number of labels gives all)",
    )
    function_to_apply: Literal["softmax", "sigmoid", "none"] | None = Field(
        None,
        description="how logits become scores: softmax (the default for this single-label classifier), "
        "sigmoid (each label on its own), or none (the raw logits)",
    )


class ClassifyOptions(BaseModel):
    """The options of Hugging Face's older Inference API; accepted so its clients work, and without effect
    here: nothing is cached, and the model is always loaded."""

    model_config = ConfigDict(extra="forbid")

    use_cache: StrictBool | None = None
    wait_for_model: StrictBool | None = None


class ClassifyRequest(BaseModel):
    """The Hugging Face text-classification request: `{"inputs": ..., "parameters": {...}}`."""

    model_config = ConfigDict(extra="forbid")

    inputs: str | list[str] = Field(..., description="one text, or a list of texts")
    parameters: ClassifyParameters | None = None
    options: ClassifyOptions | None = None

    def texts(self) -> list[str]:
        return [self.inputs] if isinstance(self.inputs, str) else list(self.inputs)


# /v1/classify's prediction ids, comma-separated in input order: Hugging Face's answer body has no place for them
PREDICTION_IDS_HEADER = "X-Prediction-Ids"


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
    logits: list[float] | None = Field(None, description="raw scores in label order, when asked for")


class EndpointResponse(BaseModel):
    model_version: str
    predictions: list[EndpointPrediction]


class ExplainRequest(BaseModel):
    """`{"inputs": "text"}`: one text (an explanation costs a model call on one row per token)."""

    model_config = ConfigDict(extra="forbid")

    inputs: str = Field(..., description="one text")


class AttributedToken(BaseModel):
    token: str = Field(..., description="the token as the tokenizer wrote it (`##` starts a word's continuation)")
    start: int = Field(..., description="the token was read from the input's characters [start, end)")
    end: int
    attribution: float = Field(
        ...,
        description="how much the label's probability drops when the model does not see "
        "this token: positive pushed towards the label, negative away from it",
    )


class ExplainResponse(BaseModel):
    model_version: str
    label: str
    score: float = Field(..., description="the label's probability for the whole text")
    method: Literal["occlusion"] = Field("occlusion", description="leave-one-token-out, in one batched model call")
    tokens: list[AttributedToken] = Field(..., description="the text's tokens in order ([CLS]/[SEP] left out)")


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prediction_id: str = Field(
        ...,
        min_length=1,
        max_length=256,
        description="the `prediction_id` /v1/predict returned (signed by this deployment)",
    )
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


_ERROR_STATUSES = {
    409: "conflicts with what was recorded before (feedback with another label for this prediction)",
    413: "the request body is over the size limit",
    422: "the request is invalid; `error.message` says what to fix",
    429: "throttled: retry after `Retry-After` seconds",
    500: "a bug of ours, logged on our side",
    501: "this deployment cannot do that (e.g. /v1/explain where the model runs on a SageMaker endpoint)",
    502: "the model endpoint failed, or answered something unexpected",
    503: "not available now (model endpoint down or starting, signing keys unreadable): retry after `Retry-After` "
    "seconds; without `Retry-After` no retry can help (the endpoint's `model_failed`: its model did not load)",
    504: "the model endpoint did not answer in time",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses a route can return, all with the one error body."""
    return {
        status: {
            "model": ErrorResponse,
            "description": _ERROR_STATUSES[status],
            **({"headers": _RETRY_AFTER} if status in (429, 503) else {}),
        }
        for status in statuses
    }


# every route: a body over the limit is refused before routing (413), and our own bugs are 500s
COMMON_ERRORS = (413, 500)
