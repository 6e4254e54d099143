"""golive.client against the real app under a real uvicorn server: real HTTP, real retries and waits.

A gate in front of the app (an ASGI middleware, so still real HTTP) records what arrives and can answer the
next requests itself, as API Gateway or a starting model endpoint would: 503 + Retry-After, API Gateway's
own 403/504 bodies, a 500. Everything it does not answer goes to the real app, whose per-request limit is 4.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
import typing

import httpx
import pytest
from fastapi.responses import JSONResponse

from functions.api.local import create_local_app
from functions.api.settings import Settings
from functions.common.http import error_response
from golive import bundle
from golive.client import (
    AsyncClient,
    Client,
    DeadlineExceeded,
    Feedback,
    GoliveError,
    LabelScore,
    Prediction,
    PredictResult,
    error_from_response,
    retry_after_seconds,
)
from golive.onnx_classifier import OnnxClassifier
from tests.conftest import running_server

SERVER_MAX_TEXTS = 4
TEXTS = [
    "a wonderful, moving film",
    "cold food and rude staff",
    "it was fine",
    "never again",
    "loved every minute",
    "the battery died in a day",
    "great value",
    "arrived broken",
    "would buy again",
    "meh",
    "five stars",
]


class Gate:
    """Records (arrival time, path, x-api-key) of each request; answers the queued responses first."""

    def __init__(self, app):
        self.app = app
        self.seen: list[tuple[float, str, str | None]] = []
        self.answers: list = []
        self.api_key: str | None = None  # when set, requests without it get API Gateway's 403

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        key = dict(scope["headers"]).get(b"x-api-key")
        self.seen.append((time.monotonic(), scope["path"], key.decode() if key else None))
        if self.api_key and key != self.api_key.encode():
            return await JSONResponse({"message": "Forbidden"}, 403)(scope, receive, send)
        if self.answers:
            return await self.answers.pop(0)(scope, receive, send)
        await self.app(scope, receive, send)

    def predict_calls(self) -> list[float]:
        return [at for at, path, _ in self.seen if path == "/v1/predict"]


@pytest.fixture(scope="module")
def server(tiny_bundle, tmp_path_factory):
    # fp32: its scores do not depend on which texts share a request (int8's dynamic quantisation does)
    app = create_local_app(
        Settings(
            model_dir=str(tiny_bundle),
            model_variant="fp32",
            max_texts=SERVER_MAX_TEXTS,
            max_chars=200,
            feedback_db=str(tmp_path_factory.mktemp("client") / "feedback.sqlite3"),
        )
    )
    gate = Gate(app)
    with running_server(gate) as url:
        yield url, gate


@pytest.fixture()
def gate(server) -> Gate:
    gate = server[1]
    gate.seen.clear()
    gate.answers.clear()
    gate.api_key = None
    return gate


@pytest.fixture()
def url(server, gate) -> str:
    return server[0]


@pytest.fixture(scope="module")
def expected(tiny_bundle):
    """What the model says for each text, computed in process: the client's answers must match, in order."""
    labels = bundle.read_manifest(tiny_bundle).labels
    probs = OnnxClassifier.from_bundle(tiny_bundle, "fp32").predict_proba(TEXTS)
    return [(labels[row.argmax()], float(row.max())) for row in probs]


def assert_matches(result: PredictResult, expected: list[tuple[str, float]]) -> None:
    assert [p.label for p in result.predictions] == [label for label, _ in expected]
    assert [p.score for p in result.predictions] == pytest.approx([score for _, score in expected], abs=1e-5)


def warming(retry_after: int):
    return error_response(
        503, "model_waking_up", "the model is waking up after a quiet period; retry shortly", retry_after
    )


def test_predict_one_text_and_a_short_list(url, gate, tiny_bundle, expected):
    with Client(url) as api:
        one = api.predict(TEXTS[0])
        few = api.predict(TEXTS[:3])
    assert isinstance(one, PredictResult) and one.model_version == bundle.read_manifest(tiny_bundle).version_id
    assert_matches(one, [expected[0]])
    assert_matches(few, expected[:3])
    assert len({p.prediction_id for p in few.predictions}) == 3
    assert len(gate.predict_calls()) == 2


def test_top_k_is_parsed_into_label_scores(url, tiny_bundle):
    with Client(url) as api:
        prediction = api.predict("great value", top_k=2).predictions[0]
    assert [s.label for s in prediction.top_k][0] == prediction.label
    assert {s.label for s in prediction.top_k} == set(bundle.read_manifest(tiny_bundle).labels)
    assert all(isinstance(s, LabelScore) for s in prediction.top_k)


def test_a_list_over_the_servers_limit_is_learned_split_and_reassembled_in_order(url, gate, expected):
    with Client(url) as api:  # believes the default limit, 64
        result = api.predict(TEXTS)
        assert api.max_texts == SERVER_MAX_TEXTS  # from the server's 422 too_many_texts
        # the 11 texts were refused once, then sent as 4 + 4 + 3
        assert len(gate.predict_calls()) == 1 + 3
        assert_matches(result, expected)
        gate.seen.clear()
        again = api.predict(TEXTS[:6])
    assert len(gate.predict_calls()) == 2  # 4 + 2: the limit is remembered
    assert_matches(again, expected[:6])


def test_a_client_limit_below_the_servers_splits_without_a_refusal(url, gate, expected):
    with Client(url, max_texts=3) as api:
        result = api.predict(TEXTS)
    assert len(gate.predict_calls()) == 4  # 3 + 3 + 3 + 2
    assert_matches(result, expected)


def test_feedback_is_recorded_once(url, tiny_bundle):
    with Client(url) as api:
        prediction = api.predict("would buy again").predictions[0]
        other = next(label for label in bundle.read_manifest(tiny_bundle).labels if label != prediction.label)
        first = api.feedback(prediction.prediction_id, other)
        repeat = api.feedback(prediction.prediction_id, other)
    assert first == Feedback(prediction_id=prediction.prediction_id, label=other, correct=False, status="recorded")
    assert repeat.status == "already_recorded"


@pytest.mark.parametrize(
    "call,status,error_type,fragment",
    [
        (lambda api: api.feedback("0123", "positive"), 422, "unknown_prediction_id", "prediction"),
        (lambda api: api.predict("x" * 500), 422, "text_too_long", "200"),
        (lambda api: api.predict([]), 422, "invalid_request", "empty"),
        (lambda api: api.predict("fine", top_k=0), 422, "invalid_request", "top_k"),
    ],
)
def test_errors_carry_the_servers_type_message_and_status_and_are_not_retried(
    url, gate, call, status, error_type, fragment
):
    with Client(url) as api, pytest.raises(GoliveError) as raised:
        call(api)
    assert (raised.value.status, raised.value.type) == (status, error_type)
    assert fragment in raised.value.message
    assert len(gate.seen) == 1


def test_feedback_conflict_is_409(url):
    with Client(url) as api:
        prediction_id = api.predict("meh").predictions[0].prediction_id
        api.feedback(prediction_id, "positive")
        with pytest.raises(GoliveError) as raised:
            api.feedback(prediction_id, "negative")
    assert (raised.value.status, raised.value.type) == (409, "feedback_conflict")


def test_the_api_key_goes_in_x_api_key_and_api_gateways_403_is_explained(url, gate):
    gate.api_key = "s3cret"
    with Client(url) as anonymous, pytest.raises(GoliveError) as raised:
        anonymous.predict("fine")
    assert (raised.value.status, raised.value.type) == (403, "forbidden") and "x-api-key" in raised.value.message
    with Client(url, api_key="s3cret") as api:
        assert len(api.predict("fine").predictions) == 1
    assert [key for _, _, key in gate.seen] == [None, "s3cret"]


def test_an_authorizers_credentials_go_with_every_request_and_every_retry(url, gate):
    """headers= (a Cognito token) and auth= (an httpx.Auth, as a SigV4 signer is) reach the server on each attempt."""

    class Signer(httpx.Auth):
        requires_request_body = True

        def auth_flow(self, request):
            request.headers["x-signed-body-bytes"] = str(len(request.content))
            yield request

    seen = []

    async def record(scope, receive, send):
        seen.append(dict(scope["headers"]))
        await gate.app(scope, receive, send)

    gate.answers.append(warming(0))
    gate.answers.append(record)
    with Client(url, api_key="s3cret", headers={"authorization": "eyJ.token"}, auth=Signer(), backoff=0.01) as api:
        assert len(api.predict("fine").predictions) == 1
    assert len(gate.seen) == 2 and [key for _, _, key in gate.seen] == ["s3cret", "s3cret"]
    (headers,) = seen
    assert headers[b"authorization"] == b"eyJ.token" and int(headers[b"x-signed-body-bytes"]) > 0


def test_503_with_retry_after_is_ridden_out_waiting_as_told(url, gate, expected):
    gate.answers += [warming(1), warming(1)]
    with Client(url, backoff=0.01, max_backoff=0.01) as api:  # the waits come from Retry-After, not the backoff
        result = api.predict(TEXTS[:2])
    assert_matches(result, expected[:2])
    arrivals = gate.predict_calls()
    assert len(arrivals) == 3
    assert all(later - earlier >= 1.0 for earlier, later in zip(arrivals, arrivals[1:]))


def test_api_gateway_timeouts_and_bad_gateways_are_retried_but_500_is_not(url, gate):
    gate.answers += [
        JSONResponse({"message": "Endpoint request timed out"}, 504),
        JSONResponse({"message": "Internal server error"}, 502),
    ]
    with Client(url, backoff=0.05) as api:
        assert len(api.predict("fine").predictions) == 1
        assert len(gate.seen) == 3
        gate.answers.append(error_response(500, "internal_error", "the server failed on this request"))
        with pytest.raises(GoliveError) as raised:
            api.predict("fine")
    assert (raised.value.status, raised.value.type) == (500, "internal_error")
    assert len(gate.seen) == 4


def test_the_deadline_stops_retries_it_could_not_wait_for(url, gate):
    gate.answers += [warming(30)] * 3
    started = time.monotonic()
    with Client(url, deadline=2) as api, pytest.raises(DeadlineExceeded) as raised:
        api.predict("fine")
    assert time.monotonic() - started < 30  # it did not sleep the 30 s it could not afford
    assert len(gate.seen) == 1
    assert raised.value.last_error.type == "model_waking_up" and raised.value.status == 503


def test_connection_errors_are_retried_until_the_deadline():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Client(f"http://127.0.0.1:{port}", deadline=1.0, max_attempts=1000, backoff=0.05, max_backoff=0.2) as api:
        with pytest.raises(DeadlineExceeded) as raised:
            api.predict("fine")
    assert raised.value.last_error.type == "connection_error" and raised.value.last_error.status is None


def test_async_client_splits_rides_out_503_and_records_feedback(url, gate, expected):
    async def main():
        gate.answers.append(warming(1))
        async with AsyncClient(url, max_texts=3) as api:
            result, single = await asyncio.gather(api.predict(TEXTS), api.predict(TEXTS[4]))
            feedback = await api.feedback(single.predictions[0].prediction_id, single.predictions[0].label)
            with pytest.raises(GoliveError) as raised:
                await api.feedback("0123", "positive")
        return result, single, feedback, raised.value

    result, single, feedback, error = asyncio.run(main())
    assert_matches(result, expected)
    assert_matches(single, [expected[4]])
    assert feedback.correct and feedback.status == "recorded"
    assert (error.status, error.type) == (422, "unknown_prediction_id")
    assert len(gate.predict_calls()) == 4 + 1 + 1  # 3+3+3+2 and the single text, one of them answered 503 first


def test_client_types_match_the_servers_openapi_schema(server):
    """The client's dataclasses name the same fields, required the same way, as the server's response schemas.
    (Request bodies need no such check: the server forbids unknown fields, so the live tests above would fail.)"""
    spec = server[1].app.openapi()["components"]["schemas"]
    for client_type, schema_name in [
        (Prediction, "Prediction"),
        (PredictResult, "PredictResponse"),
        (LabelScore, "LabelScore"),
        (Feedback, "FeedbackResponse"),
    ]:
        schema = spec[schema_name]
        fields = dataclasses.fields(client_type)
        assert {f.name for f in fields} == set(schema["properties"]), schema_name
        required = {f.name for f in fields if f.default is dataclasses.MISSING}
        assert required == set(schema.get("required", [])), schema_name
        hints = typing.get_type_hints(client_type)
        for name, prop in schema["properties"].items():
            kinds = {p.get("type") for p in prop.get("anyOf", [prop])}
            python = {"string": str, "number": float, "boolean": bool}
            for kind in kinds & set(python):
                assert python[kind] in (typing.get_args(hints[name]) or (hints[name],)), f"{schema_name}.{name}"


@pytest.mark.parametrize(
    "header,seconds", [("7", 7.0), ("", None), ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)]
)
def test_retry_after_takes_seconds_or_an_http_date(header, seconds):
    assert retry_after_seconds(header) == seconds


def test_an_answer_that_is_not_json_still_gives_type_message_and_status():
    error = error_from_response(httpx.Response(502, text="<html>Bad Gateway</html>"))
    assert (error.status, error.type) == (502, "bad_gateway") and "Bad Gateway" in error.message


def test_timeouts_stay_under_api_gateways_limit():
    with pytest.raises(ValueError, match="29"):
        Client("http://127.0.0.1:1", timeout=30)
