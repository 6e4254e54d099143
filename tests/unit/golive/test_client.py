"""golive.client (real httpx) against `golive serve`'s app under a real uvicorn server, on the hand-written bundle."""

from __future__ import annotations

import asyncio

import pytest

from functions.api.local import create_local_app
from functions.api.settings import Settings
from golive import bundle
from golive.client import AsyncClient, Client, Feedback, GoliveError
from golive.onnx_classifier import OnnxClassifier
from tests.conftest import running_server

TEXTS = [
    "a wonderful, moving film",
    "cold food and rude staff",
    "it was fine",
    "never again",
    "great",
    "an awful, boring plot",
    "hello",
]


@pytest.fixture(scope="module")
def url(handmade_bundle, tmp_path_factory):
    app = create_local_app(
        Settings(
            model_dir=str(handmade_bundle),
            model_variant="fp32",
            max_texts=3,
            max_chars=200,
            feedback_db=str(tmp_path_factory.mktemp("client") / "f.sqlite3"),
        )
    )
    with running_server(app) as base:
        yield base


@pytest.fixture(scope="module")
def expected(handmade_bundle) -> list[tuple[str, float]]:
    probs = OnnxClassifier.from_bundle(handmade_bundle, "fp32").predict_proba(TEXTS)
    return [(["negative", "positive"][i], float(p)) for i, p in zip(probs.argmax(1), probs.max(1))]


def test_a_list_over_the_servers_limit_is_split_and_comes_back_in_order(url, expected, handmade_bundle):
    with Client(url) as api:
        result = api.predict(TEXTS)
        assert api.max_texts == 3  # learned from the server's too_many_texts answer
    assert [(p.label, pytest.approx(p.score, abs=1e-6)) for p in result.predictions] == expected
    assert result.model_version == bundle.read_manifest(handmade_bundle).version_id
    assert len({p.prediction_id for p in result.predictions}) == len(TEXTS)


def test_feedback_and_errors_carry_the_servers_answer(url):
    with Client(url) as api:
        prediction = api.predict("lovely").predictions[0]
        assert api.feedback(prediction.prediction_id, "negative") == Feedback(
            prediction_id=prediction.prediction_id, label="negative", correct=False, status="recorded"
        )
        with pytest.raises(GoliveError) as conflict:
            api.feedback(prediction.prediction_id, "positive")
        with pytest.raises(GoliveError) as too_long:
            api.predict("x" * 201)
    assert (conflict.value.status, conflict.value.type) == (409, "feedback_conflict")
    assert (too_long.value.status, too_long.value.type) == (422, "text_too_long")
    assert "200" in too_long.value.message


def test_the_async_client_gives_the_same_answers(url, expected):
    async def run():
        api = AsyncClient(url)
        try:
            return await api.predict(TEXTS, top_k=2)
        finally:
            await api.aclose()

    result = asyncio.run(run())
    assert [(p.label, pytest.approx(p.score, abs=1e-6)) for p in result.predictions] == expected
    assert all(p.top_k[0].label == p.label for p in result.predictions)
