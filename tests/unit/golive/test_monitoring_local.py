"""`golive monitor`'s core (golive.monitoring.local) against `golive serve`'s app under a real uvicorn server
on the hand-written bundle: real HTTP, real Prometheus text."""

from __future__ import annotations

import json

import pytest
import requests

from functions.api.local import create_local_app
from functions.api.settings import Settings
from golive.contracts.alarms import MonitoringSettings
from golive.errors import UserError
from golive.monitoring.local import monitor
from tests.conftest import free_port, running_server

THRESHOLDS = MonitoringSettings(min_feedback=4, min_predictions=4, min_online_accuracy=0.8)


@pytest.fixture()
def url(handmade_bundle, tmp_path):
    app = create_local_app(Settings(model_dir=str(handmade_bundle), feedback_db=str(tmp_path / "f.sqlite3")))
    with running_server(app) as base:
        yield base


def traffic(url: str, texts: list[str], wrong_feedback: int) -> None:
    predictions = requests.post(f"{url}/v1/predict", json={"inputs": texts}, timeout=10).json()["predictions"]
    for i, prediction in enumerate(predictions):
        wrong = "negative" if prediction["label"] == "positive" else "positive"
        label = wrong if i < wrong_feedback else prediction["label"]
        requests.post(
            f"{url}/v1/feedback", json={"prediction_id": prediction["prediction_id"], "label": label}, timeout=10
        ).raise_for_status()


def test_right_answers_are_ok_and_wrong_ones_fire_the_accuracy_alarm(url):
    texts = ["a wonderful, moving film", "great food and lovely staff", "cold food and rude staff", "never again"]
    traffic(url, texts, wrong_feedback=0)
    lines: list[str] = []
    assert monitor(url, THRESHOLDS, fmt="json", out=lines.append) == 0
    report = {c["name"]: c for c in json.loads(lines[-1])["conditions"]}
    assert report["online accuracy"]["state"] == "OK" and report["online accuracy"]["value"] == 1.0
    assert report["label share drift"]["state"] == "OK"  # the baseline's own texts: no drift

    traffic(url, texts, wrong_feedback=4)  # 4 of 8 feedback now says wrong: 0.5 < 0.8
    lines.clear()
    assert monitor(url, THRESHOLDS, out=lines.append) == 1
    accuracy = next(line for line in lines[-1].splitlines() if line.startswith("online accuracy"))
    assert "ALARM" in accuracy and "0.5" in accuracy


def test_watching_reports_the_last_window_only(url):
    texts = ["a wonderful, moving film", "great food and lovely staff", "cold food and rude staff", "never again"]
    traffic(url, texts, wrong_feedback=4)  # before the watch: all wrong
    lines: list[str] = []

    def sleep_then_send_right_answers(_seconds: float) -> None:
        traffic(url, texts, wrong_feedback=0)

    assert (
        monitor(url, THRESHOLDS, watch_s=60, count=1, fmt="json", out=lines.append, sleep=sleep_then_send_right_answers)
        == 0
    )
    window = json.loads(lines[-1])
    assert window["feedback"] == 4 and window["window"].endswith("last 60 s")
    accuracy = next(c for c in window["conditions"] if c["name"] == "online accuracy")
    assert (accuracy["state"], accuracy["value"]) == ("OK", 1.0)  # since the server started it would be 0.5


def test_scrape_mistakes_are_clear_errors(url):
    with pytest.raises(UserError, match="is not an http\\(s\\) URL"):
        monitor("127.0.0.1:8000", THRESHOLDS)
    with pytest.raises(UserError, match="start the server with `golive serve`"):
        monitor(f"http://127.0.0.1:{free_port()}", THRESHOLDS)
    with pytest.raises(UserError, match="answered 404: is this a `golive serve` server"):
        monitor(f"{url}/v1", THRESHOLDS)
