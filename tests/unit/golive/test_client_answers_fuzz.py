"""golive.client on answers Hypothesis writes (a server, proxy or gateway that is not golive, or a broken one): any
status, any JSON or bytes, any Retry-After. Each call gives a typed result or a GoliveError, never a KeyError,
TypeError or other exception from parsing the answer. Answers come through real httpx (its MockTransport)."""

from __future__ import annotations

import json

import httpx
from hypothesis import example, given, settings
from hypothesis import strategies as st

from golive.client import Client, GoliveError, PredictResult
from golive.client.models import Feedback
from tests.unit.fuzzing import FUZZ, NESTED_TOO_DEEP, json_values

statuses = st.sampled_from([200, 201, 400, 403, 404, 413, 422, 429, 500, 502, 503, 504])
scalars = st.one_of(st.text(max_size=6), st.integers(), st.floats(), st.booleans(), st.none())
predictions = st.fixed_dictionaries(
    {"prediction_id": scalars, "label": scalars, "score": scalars},
    optional={"top_k": st.one_of(json_values, st.lists(st.fixed_dictionaries({"label": scalars, "score": scalars})))},
)
predict_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"model_version": scalars, "predictions": st.lists(predictions, max_size=3)}),
)
feedback_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"prediction_id": scalars, "label": scalars, "correct": scalars, "status": scalars}),
)
error_bodies = st.fixed_dictionaries({"error": st.one_of(json_values, st.fixed_dictionaries({"type": scalars}))})
retry_after = st.one_of(
    st.none(),
    st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=30),
    st.sampled_from(["²", "Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 07:28:00 -0000", "1e999"]),
)


def answering(status: int, body: bytes, retry: str | None) -> Client:
    """A Client whose every request gets this answer, once (no retries: one answer, one outcome)."""
    headers = [(b"content-type", b"application/json")] + ([(b"retry-after", retry.encode("latin-1"))] if retry else [])
    client = Client("http://golive.test", max_attempts=1, deadline=5)
    client._http = httpx.Client(  # the same httpx client the Client makes, with a transport that answers in-process
        base_url="http://golive.test",
        transport=httpx.MockTransport(lambda request: httpx.Response(status, content=body, headers=headers)),
    )
    return client


def encoded(body) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


@settings(FUZZ, max_examples=100)  # an httpx client an example: about 40 ms each
@given(
    status=statuses,
    body=st.one_of(predict_bodies, error_bodies, st.binary(max_size=20)),
    retry=retry_after,
    texts=st.lists(st.just("a text"), min_size=1, max_size=2),
)
@example(status=400, body={"error": {"type": ""}}, retry=None, texts=["a"]).via("discovered failure")  # "400 : "
# written by hand: RecursionError; OverflowError (float of a 401-digit score); an id that is a number, accepted;
# Retry-After '²' (isdigit(), then float() refuses it) and an HTTP date in -0000 (a time with no zone: TypeError)
@example(status=200, body=NESTED_TOO_DEEP.encode(), retry=None, texts=["a"])
@example(
    status=200,
    body={"model_version": "v1", "predictions": [{"prediction_id": "p", "label": "pos", "score": 10**400}]},
    retry=None,
    texts=["a"],
)
@example(
    status=200,
    body={"model_version": "v1", "predictions": [{"prediction_id": 1, "label": "pos", "score": 0.5}]},
    retry=None,
    texts=["a"],
)
@example(status=429, body={}, retry="²", texts=["a"])
@example(status=503, body={}, retry="Wed, 21 Oct 2015 07:28:00 -0000", texts=["a"])
def test_a_prediction_answer_is_a_typed_result_or_a_golive_error(status, body, retry, texts):
    with answering(status, encoded(body), retry) as api:
        try:
            result = api.predict(texts)
        except GoliveError as exc:
            assert exc.type and isinstance(exc.type, str) and isinstance(exc.message, str)
            return
    assert isinstance(result, PredictResult) and isinstance(result.model_version, str)
    assert len(result.predictions) == len(texts)
    for prediction in result.predictions:
        assert isinstance(prediction.prediction_id, str) and isinstance(prediction.label, str)
        assert isinstance(prediction.score, float)
        for scored in prediction.top_k or ():
            assert isinstance(scored.label, str) and isinstance(scored.score, float)


@settings(FUZZ, max_examples=100)  # an httpx client an example: about 40 ms each
@given(status=statuses, body=st.one_of(feedback_bodies, error_bodies, st.binary(max_size=20)), retry=retry_after)
@example(  # a label that is null, a status that is a number: taken as a Feedback
    status=200, body={"prediction_id": "", "label": None, "correct": False, "status": 0}, retry=None
).via("discovered failure")
def test_a_feedback_answer_is_a_typed_result_or_a_golive_error(status, body, retry):
    with answering(status, encoded(body), retry) as api:
        try:
            result = api.feedback("p1", "pos")
        except GoliveError as exc:
            assert exc.type and isinstance(exc.type, str) and isinstance(exc.message, str)
            return
    assert isinstance(result, Feedback)
    assert isinstance(result.prediction_id, str) and isinstance(result.label, str) and isinstance(result.status, str)
    assert isinstance(result.correct, bool)
