"""The quickstart's main path over real HTTP: train -> export -> evaluate -> serve on localhost."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_quickstart_trains_exports_and_serves_over_http(tiny_base_model, tmp_path):
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "golive.cli", "quickstart", "--base-model", str(tiny_base_model), "--epochs", "1",
           "--out", str(tmp_path / "bundle"), "--port", str(port)]
    log = open(tmp_path / "quickstart.log", "w")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "quickstart.log").read_text()
            try:
                if requests.get(f"{base}/v1/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        else:
            pytest.fail("server did not come up:\n" + (tmp_path / "quickstart.log").read_text())

        docs = requests.get(f"{base}/docs", timeout=5)
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        predicted = requests.post(f"{base}/v1/predict", json={"inputs": ["a lovely hotel", "rude staff"]}, timeout=5)
        assert predicted.status_code == 200
        prediction = predicted.json()["predictions"][0]
        feedback = requests.post(f"{base}/v1/feedback", timeout=5,
                                 json={"prediction_id": prediction["prediction_id"], "label": "positive"})
        assert feedback.status_code == 200
        bad = requests.post(f"{base}/v1/predict", data="{oops", timeout=5)
        assert bad.status_code == 422 and "not valid JSON" in bad.json()["error"]["message"]
        metrics = requests.get(f"{base}/metrics", timeout=5).text
        assert "golive_predictions_total" in metrics and "golive_feedback_total" in metrics
        assert (tmp_path / ".golive" / "feedback.sqlite3").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    output = (tmp_path / "quickstart.log").read_text()
    assert "$ golive train" in output and "$ golive evaluate" in output and "accuracy" in output
