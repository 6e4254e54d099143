"""POST /v1/explain: one text's label and how much each of its tokens pushed the model to it (golive.explain:
leave-one-token-out in one batched call of the ONNX model this process serves)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from functions.api.backends import OnnxBackend
from functions.api.dependencies import Services, get_services
from functions.common.errors import ApiError
from functions.common.limits import check_texts
from golive.contracts.schemas import COMMON_ERRORS, AttributedToken, ExplainRequest, ExplainResponse, error_responses

router = APIRouter(prefix="/v1", tags=["explain"])


@router.post(
    "/explain",
    response_model=ExplainResponse,
    responses=error_responses(*COMMON_ERRORS, 422, 501),
    summary="Explain one prediction: each token's attribution",
)
async def explain(body: ExplainRequest, services: Services = Depends(get_services)) -> ExplainResponse:
    from golive.explain import TooManyTokens
    from golive.explain import explain as explain_text

    settings, backend = services.settings, services.backend
    check_texts([body.inputs], 1, settings.max_chars)
    if not isinstance(backend, OnnxBackend):
        raise ApiError(
            501,
            "explain_unavailable",
            "this deployment's model runs on a SageMaker endpoint; /v1/explain "
            "runs the model in the API, so it needs the onnx backend",
        )
    started = time.perf_counter()
    try:
        explanation = await run_in_threadpool(
            explain_text, backend.classifier, body.inputs, settings.max_explain_tokens
        )
    except TooManyTokens as exc:
        hint = (
            f" (or have the deployment's GOLIVE_MAX_EXPLAIN_TOKENS raised, up to {exc.model_limit} for this model)"
            if exc.raising_helps
            else ""
        )
        raise ApiError(422, "too_many_tokens", f"`inputs`: {exc}{hint}") from None
    log = {
        "tokens": len(explanation.tokens),
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        "label": explanation.label,
        "model_version": backend.manifest.version_id,
    }
    services.logger.info("explained", extra=log)
    tokens = [
        AttributedToken(token=t.token, start=t.start, end=t.end, attribution=t.attribution) for t in explanation.tokens
    ]
    return ExplainResponse(
        model_version=backend.manifest.version_id, label=explanation.label, score=explanation.score, tokens=tokens
    )


def token_limit(services: Services) -> int:
    """The most tokens /v1/explain takes: the setting, and no more than the served model reads."""
    from golive.explain import token_limit as limit_for

    backend, max_tokens = services.backend, services.settings.max_explain_tokens
    return limit_for(backend.classifier, max_tokens) if isinstance(backend, OnnxBackend) else max_tokens


def declare_token_limit(document: dict, max_tokens: int) -> None:
    """The OpenAPI document says the limit a JSON Schema cannot: tokens, which only the model's tokenizer counts."""
    inputs = document["components"]["schemas"]["ExplainRequest"]["properties"]["inputs"]
    inputs["description"] = (
        f"one text of at most {max_tokens} tokens (about as many words; more is refused with 422 `too_many_tokens`)"
    )
    inputs["x-max-tokens"] = max_tokens
