"""POST /v1/classify: Hugging Face's text-classification request and answer, so its clients work unchanged.

Request: `{"inputs": "text" | ["a", "b"], "parameters": {"top_k": k, "function_to_apply": ...}}`.
Answer: one list of `{"label", "score"}` per text, highest score first, inside a list: `[[...]]` for one
text too. That is what Hugging Face's Inference API answers, and what `huggingface_hub.InferenceClient.
text_classification` parses (it takes the first inner list; a flat list would lose every label but one).
Defaults as in Hugging Face's task spec: every label (`top_k` limits them; a larger k gives them all, as
the transformers pipeline does), scores by softmax. No prediction ids here: that shape has no place for
them, so clients that send feedback use /v1/predict.
"""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, Depends

from functions.api.dependencies import Services, get_services
from functions.api.routers.predict import MODEL_ERRORS, run_model
from functions.common.predictions import top_labels
from golive.contracts.schemas import ClassifyRequest, LabelScore

router = APIRouter(prefix="/v1", tags=["hugging face"])


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -logits))  # 1 / (1 + e^-x) without overflow for large |x|


@router.post(
    "/classify",
    response_model=list[list[LabelScore]],
    responses=MODEL_ERRORS,
    summary="Classify (Hugging Face text-classification shape)",
)
async def classify(body: ClassifyRequest, services: Services = Depends(get_services)) -> list[list[LabelScore]]:
    logits, probs = await run_model(services, body.texts())
    parameters = body.parameters
    function = (parameters.function_to_apply if parameters else None) or "softmax"
    scores = probs if function == "softmax" else sigmoid(logits) if function == "sigmoid" else logits
    top_k = parameters.top_k if parameters else None
    labels = services.backend.manifest.labels
    return [top_labels(row, labels, top_k) for row in scores]
