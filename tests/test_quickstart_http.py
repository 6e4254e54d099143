"""The quickstart's main path over real HTTP: train -> export -> evaluate -> serve on localhost."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import golive_process

pytestmark = pytest.mark.slow


def test_quickstart_trains_exports_and_serves_over_http(tiny_base_model, tmp_path):
    with golive_process(
        "quickstart",
        "--base-model",
        str(tiny_base_model),
        "--epochs",
        "1",
        "--out",
        str(tmp_path / "bundle"),
        cwd=tmp_path,
        start_timeout=240,
    ) as base:
        docs = requests.get(f"{base}/docs", timeout=5)
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        predicted = requests.post(f"{base}/v1/predict", json={"inputs": ["a lovely hotel", "rude staff"]}, timeout=5)
        assert predicted.status_code == 200
        prediction = predicted.json()["predictions"][0]
        feedback = requests.post(
            f"{base}/v1/feedback", timeout=5, json={"prediction_id": prediction["prediction_id"], "label": "positive"}
        )
        assert feedback.status_code == 200
        bad = requests.post(f"{base}/v1/predict", data="{oops", timeout=5)
        assert bad.status_code == 422 and "not valid JSON" in bad.json()["error"]["message"]
        metrics = requests.get(f"{base}/metrics", timeout=5).text
        assert "golive_predictions_total" in metrics and "golive_feedback_total" in metrics
        assert (tmp_path / ".golive" / "feedback.sqlite3").exists()
    output = (tmp_path / "golive.log").read_text()
    assert "$ golive train" in output and "$ golive evaluate" in output and "accuracy" in output
