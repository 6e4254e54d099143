"""POST /v1/classify: Hugging Face's text-classification request and answer, so its clients work unchanged.

Request: `{"inputs": "text" | ["a", "b"], "parameters": {"top_k": k, "function_to_apply": ...}}`.
Answer: one list of `{"label", "score"}` per text, highest score first, inside a list: `[[...]]` for one
text too. That is what Hugging Face's Inference API answers, and what `huggingface_hub.InferenceClient.
text_classification` parses (it takes the first inner list; a flat list would lose every label but one).
Defaults as in Hugging Face's task spec: every label (`top_k` limits them; a larger k gives them all, as
the transformers pipeline does), scores by softmax.

That body has no place for prediction ids, so they travel in a header, `X-Prediction-Ids`: one id per text,
comma-separated in input order, signed (and, with capture on, the texts kept) by the same code as
/v1/predict's. Hugging Face clients ignore the header; clients that send feedback read it.

API Gateway's quotas allow 10,240 bytes of headers (REST APIs: header names, values and line ends together;
HTTP APIs: the request line and header values). An id is about 80 bytes, so GOLIVE_MAX_TEXTS' ceiling (1024
texts) would not fit: the ids' header is kept to IDS_HEADER_BYTES, and /v1/classify takes at most as many texts
as fit in it (`max_texts`: 100 for a version id of golive's own format and up to 10 labels); the default
GOLIVE_MAX_TEXTS, 64, is below that, so the bound bites only where a deployment raises it.
"""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, Depends, Response

from functions.api.dependencies import Services, get_services
from functions.api.routers.predict import MODEL_ERRORS, issue_prediction_ids, run_model
from functions.common.limits import inputs_schema
from functions.common.predictions import top_labels
from golive.contracts.schemas import PREDICTION_IDS_HEADER, ClassifyRequest, LabelScore

router = APIRouter(prefix="/v1", tags=["hugging face"])

# the ids' header value at most: API Gateway's 10,240 bytes of headers, less 2,240 for the header's name and the
# others of an answer (Content-Type, Content-Length, Date, x-amzn-RequestId, X-Amzn-Trace-Id...: a few hundred)
IDS_HEADER_BYTES = 8000

DESCRIPTION = (
    "Hugging Face's text-classification request and answer (`huggingface_hub.InferenceClient.text_classification` "
    f"works unchanged). The answer's `{PREDICTION_IDS_HEADER}` header holds a signed prediction id per text, "
    "comma-separated in input order: send one back to /v1/feedback with the true label, as with /v1/predict's "
    "`prediction_id`. The ids' header stays under API Gateway's header size limit, so this route takes at most "
    "as many texts as their ids fit in it (the request schema's `maxItems`)."
)
IDS_HEADER_DOC = {
    "description": "one signed prediction id per text, comma-separated, in input order (for /v1/feedback)",
    "schema": {"type": "string"},
}


def max_texts(services: Services) -> int:
    """Texts per request here: GOLIVE_MAX_TEXTS, or fewer where their ids (n ids and n - 1 commas) would
    not fit in IDS_HEADER_BYTES."""
    longest = services.prediction_ids.longest(len(services.backend.manifest.labels))
    return min(services.settings.max_texts, (IDS_HEADER_BYTES + 1) // (longest + 1))


def declare_batch_limit(document: dict, limit: int, max_chars: int) -> None:
    """The request schema states this route's own batch limit (`max_texts`), which the ids' header may make
    lower than the other routes'."""
    document["components"]["schemas"]["ClassifyRequest"]["properties"]["inputs"] = inputs_schema(limit, max_chars)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -logits))  # 1 / (1 + e^-x) without overflow for large |x|


@router.post(
    "/classify",
    response_model=list[list[LabelScore]],
    responses={200: {"headers": {PREDICTION_IDS_HEADER: IDS_HEADER_DOC}}, **MODEL_ERRORS},
    summary="Classify (Hugging Face text-classification shape)",
    description=DESCRIPTION,
)
async def classify(
    body: ClassifyRequest, response: Response, services: Services = Depends(get_services)
) -> list[list[LabelScore]]:
    texts = body.texts()
    logits, probs = await run_model(services, texts, max_texts(services))
    response.headers[PREDICTION_IDS_HEADER] = ",".join(await issue_prediction_ids(services, probs, texts))
    parameters = body.parameters
    function = (parameters.function_to_apply if parameters else None) or "softmax"
    scores = probs if function == "softmax" else sigmoid(logits) if function == "sigmoid" else logits
    top_k = parameters.top_k if parameters else None
    labels = services.backend.manifest.labels
    return [top_labels(row, labels, top_k) for row in scores]
