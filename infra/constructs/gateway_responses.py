"""API Gateway's own errors in the API's error shape, `{"error": {"type", "message"}}`.

API Gateway answers some requests itself, before (or instead of) the function: a missing or unknown API key
(403), throttling and quotas (429), a body over its limit (413), a function that did not answer in 29 s (504),
or could not be invoked at all (500, e.g. throttled at its reserved concurrency). Its default body is
`{"message": "..."}`; these gateway responses give every one of them the app's shape, with a type
golive.client understands and, where waiting helps, `Retry-After`.

The templates are Velocity, with one variable: `$context.error.messageString`, API Gateway's own message,
which it substitutes already JSON-quoted (`"Forbidden"`). Where that message says less than we can, the
template carries a fixed message instead (SigV4's mismatch message, for one, spans lines and quotes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import aws_apigateway as apigw

MESSAGE_VARIABLE = "$context.error.messageString"  # JSON-quoted by API Gateway


@dataclass(frozen=True)
class GatewayError:
    response_type: str  # apigw.ResponseType's name
    status: int | None  # None: the status API Gateway chose (the DEFAULT_* responses cover several)
    error_type: str
    message: str | None  # None: API Gateway's own message
    retry_after_s: int | None = None

    def template(self) -> str:
        message = MESSAGE_VARIABLE if self.message is None else json.dumps(self.message)
        return f'{{"error": {{"type": {json.dumps(self.error_type)}, "message": {message}}}}}'


# a 500 from API Gateway in front of a Lambda proxy: Lambda refused the invocation (AWS Lambda guide, "Handling
# Lambda errors with an API Gateway API"); the app itself answers its own errors in this shape
NO_ANSWER = (
    "API Gateway could not get an answer from the API's function: it is throttled at its reserved "
    "concurrency, or the request is over Lambda's 6 MB payload limit; retry shortly, with a smaller request "
    "if it is a large one"
)

GATEWAY_ERRORS = (
    GatewayError("DEFAULT_4XX", None, "bad_request", None),
    GatewayError("DEFAULT_5XX", None, "bad_gateway", NO_ANSWER),
    GatewayError(
        "INVALID_API_KEY",
        403,
        "forbidden",
        "missing or unknown API key: send your key in the x-api-key header (the ApiKeyId* outputs of the "
        "golive-<env>-api stack name it; `aws apigateway get-api-key --include-value --api-key <id>`)",
    ),
    GatewayError(
        "MISSING_AUTHENTICATION_TOKEN",
        403,
        "forbidden",
        "no route answers this method and path without credentials: check the URL (it includes the "
        "stage, e.g. /dev/v1/predict) and the method; with IAM authorization, sign the request with SigV4",
    ),
    GatewayError("ACCESS_DENIED", 403, "forbidden", None),
    GatewayError(
        "INVALID_SIGNATURE",
        403,
        "forbidden",
        "the request's SigV4 signature does not match: sign it for service execute-api in the API's region "
        "with the caller's current credentials, after the last change to the request",
    ),
    GatewayError(
        "EXPIRED_TOKEN",
        403,
        "forbidden",
        "the request's AWS credentials have expired: refresh them and sign the request again",
    ),
    GatewayError("UNAUTHORIZED", 401, "unauthorized", None),
    GatewayError(
        "WAF_FILTERED",
        403,
        "forbidden",
        "the API's web application firewall (AWS WAF managed rules) blocked this request as a likely "
        "attack; if it is a real one, tell the API's operators (its WAF logs keep the blocked requests)",
    ),
    GatewayError(
        "THROTTLED",
        429,
        "throttled",
        "too many requests: over this API key's or the stage's rate limit; retry after Retry-After seconds",
        retry_after_s=1,
    ),
    GatewayError(
        "QUOTA_EXCEEDED",
        429,
        "quota_exceeded",
        "this API key's daily request quota is used up; it renews at 00:00 UTC (the quota is the usage "
        "plan's: api.quota_per_day, or the client's own, in infra/environments/<env>.json)",
    ),
    GatewayError(
        "REQUEST_TOO_LARGE",
        413,
        "body_too_large",
        "the request body is over API Gateway's 10 MB limit; the API takes at most 1 MB: send fewer texts per request",
    ),
    GatewayError(
        "INTEGRATION_TIMEOUT",
        504,
        "gateway_timeout",
        "the API did not answer within API Gateway's 29 s; retry, or send fewer texts per request",
    ),
    GatewayError("INTEGRATION_FAILURE", None, "bad_gateway", NO_ANSWER),
)


def add_gateway_responses(api: apigw.RestApi) -> None:
    for error in GATEWAY_ERRORS:
        headers = {"Content-Type": "'application/json'"}
        if error.retry_after_s is not None:
            headers["Retry-After"] = f"'{error.retry_after_s}'"
        api.add_gateway_response(
            error.response_type.title().replace("_", ""),
            type=apigw.ResponseType.of(error.response_type),
            status_code=str(error.status) if error.status else None,
            response_headers=headers,
            templates={"application/json": error.template()},
        )
