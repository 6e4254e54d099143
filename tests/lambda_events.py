"""The Lambda's inputs as API Gateway and the Lambda runtime give them: recorded REST (v1) and HTTP API (v2) events
and a context object. Its own module, free of the project's imports, so a test can measure what the handler
alone loads."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

EVENTS = Path(__file__).parent / "events"


@dataclass
class LambdaContext:
    function_name: str = "golive-api"
    memory_limit_in_mb: int = 2048
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:golive-api"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 25_000


def api_event(
    version: str, method: str, path: str, body: object | None = None, headers: dict[str, str] | None = None
) -> dict:
    """A recorded API Gateway event for `method path`: `body` as JSON, or a str sent as is, or bytes (which
    API Gateway hands over base64-encoded); `headers` replace the recorded ones of the same name."""
    import base64

    event = copy.deepcopy(json.loads((EVENTS / f"apigw_{version}.json").read_text()))
    raw = None if body is None else (body if isinstance(body, (str, bytes)) else json.dumps(body))
    size = len(raw.encode() if isinstance(raw, str) else raw or b"")
    if isinstance(raw, bytes):
        raw = base64.b64encode(raw).decode()
        event["isBase64Encoded"] = True
    if version == "rest_v1":
        event.update(path=path, httpMethod=method, body=raw)
        event["requestContext"].update(httpMethod=method, path=f"/prod{path}")
        event["pathParameters"] = {"proxy": path.lstrip("/")}
        for name, value in (headers or {}).items():
            for key in [k for k in event["headers"] if k.lower() == name.lower()]:
                del event["headers"][key], event["multiValueHeaders"][key]
            event["headers"][name], event["multiValueHeaders"][name] = value, [value]
    else:
        event.update(rawPath=path, body=raw)
        event["requestContext"]["http"].update(method=method, path=path)
        event["headers"]["content-length"] = str(size)
        event["headers"].update({name.lower(): value for name, value in (headers or {}).items()})
    return event
