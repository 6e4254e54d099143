"""Text capture (functions.api.capture) through the Lambda (FastAPI via Mangum, real API Gateway events) on the
hand-written bundle: off by default, nothing stored; on, each prediction's redacted text (/v1/predict's and
/v1/classify's) stored under its prediction id until `expires_at`, in SQLite and in DynamoDB (moto); raw texts
never in the log."""

from __future__ import annotations

import io
import json
import sqlite3
import time

import boto3
import pytest
from moto import mock_aws

from functions.api.settings import Settings
from functions.common.settings import SettingsError
from tests.conftest import cold_started_lambda
from tests.unit.functions.test_classify_ids import classify, ids_of
from tests.unit.functions.test_lambda_handler import call

PERSONAL = "mail jane.doe@example.com or call +44 20 7946 0958, card 4111 1111 1111 1111"
REDACTED = "mail [EMAIL] or call [PHONE], card [CARD]"
ORDINARY = "a wonderful film"
DAY = 86_400


def captured_rows(db) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT prediction_id, text, model_version, expires_at FROM captured_texts").fetchall()


@pytest.fixture()
def capturing_lambda(handmade_bundle, tmp_path, monkeypatch):
    monkeypatch.setenv("GOLIVE_CAPTURE_TEXTS", "true")
    monkeypatch.setenv("GOLIVE_CAPTURE_TTL_DAYS", "7")
    yield from cold_started_lambda(handmade_bundle, tmp_path, monkeypatch)


def test_capture_is_off_by_default_and_then_nothing_is_stored(lambda_module, tmp_path):
    assert Settings().capture_texts is False and Settings().capture_ttl_days == 30
    status, _ = call(lambda_module, "http_v2", "POST", "/v1/predict", {"inputs": [PERSONAL, ORDINARY]})
    assert status == 200
    assert captured_rows(tmp_path / "feedback.sqlite3") == []


@pytest.mark.parametrize("version", ["rest_v1", "http_v2"])
def test_capture_on_stores_the_redacted_text_by_prediction_id_and_logs_no_text(capturing_lambda, tmp_path, version):
    stream = io.StringIO()  # the Lambda's Powertools log lines, as CloudWatch would get them
    capturing_lambda.logger.registered_handler.setStream(stream)
    before = int(time.time())
    status, body = call(capturing_lambda, version, "POST", "/v1/predict", {"inputs": [PERSONAL, ORDINARY]})
    assert status == 200
    rows = {row[0]: row[1:] for row in captured_rows(tmp_path / "feedback.sqlite3")}
    ids = [p["prediction_id"] for p in body["predictions"]]
    assert [rows[i][0] for i in ids] == [REDACTED, ORDINARY]
    assert {rows[i][1] for i in ids} == {body["model_version"]}
    assert all(before + 7 * DAY <= rows[i][2] <= int(time.time()) + 7 * DAY for i in ids)

    log = stream.getvalue()
    captured_line = next(json.loads(line) for line in log.splitlines() if '"texts captured"' in line)
    assert captured_line["texts"] == 2 and captured_line["redacted"] == {"EMAIL": 1, "PHONE": 1, "CARD": 1}
    for raw in ("jane.doe@example.com", "7946 0958", "4111 1111", PERSONAL, ORDINARY, REDACTED):
        assert raw not in log

    # feedback on a captured prediction is stored beside its text
    feedback = {"prediction_id": ids[1], "label": "positive"}
    assert call(capturing_lambda, version, "POST", "/v1/feedback", feedback)[1]["status"] == "recorded"


@pytest.mark.parametrize("version", ["rest_v1", "http_v2"])
def test_capture_on_stores_classifys_texts_under_the_ids_of_its_header(capturing_lambda, tmp_path, version):
    """/v1/classify (Hugging Face's shape) captures as /v1/predict does, under the ids its header carries."""
    status, body, headers = classify(capturing_lambda, version, {"inputs": [ORDINARY, PERSONAL]})
    assert status == 200 and len(body) == 2
    ids = ids_of(headers)
    rows = {row[0]: row[1:] for row in captured_rows(tmp_path / "feedback.sqlite3")}
    assert set(rows) == set(ids) and [rows[i][0] for i in ids] == [ORDINARY, REDACTED]
    feedback = {"prediction_id": ids[1], "label": "negative"}
    assert call(capturing_lambda, version, "POST", "/v1/feedback", feedback)[1]["status"] == "recorded"


def test_a_ttl_outside_its_range_names_the_variable(monkeypatch):
    monkeypatch.setenv("GOLIVE_CAPTURE_TTL_DAYS", "0")
    with pytest.raises(SettingsError, match="GOLIVE_CAPTURE_TTL_DAYS"):
        Settings.load()


@pytest.fixture()
def dynamo_lambda(handmade_bundle, tmp_path, monkeypatch, request):
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "GOLIVE_FEEDBACK_TABLE": "golive-feedback",
        "GOLIVE_SIGNING_KEY_FILE": str(tmp_path / "signing.key"),
        "GOLIVE_CAPTURE_TEXTS": request.param,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName="golive-feedback",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "prediction_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "prediction_id", "AttributeType": "S"}],
        )
        yield from cold_started_lambda(handmade_bundle, tmp_path, monkeypatch)


def table_items() -> list[dict]:
    return boto3.client("dynamodb").scan(TableName="golive-feedback")["Items"]


@pytest.mark.parametrize("dynamo_lambda", ["true"], indirect=True)
def test_dynamodb_keeps_redacted_texts_with_an_expiry_beside_feedback(dynamo_lambda):
    texts = [PERSONAL] + [f"{ORDINARY} number {i}" for i in range(39)]  # more than one BatchWriteItem (25)
    before = int(time.time())
    status, body = call(dynamo_lambda, "http_v2", "POST", "/v1/predict", {"inputs": texts})
    assert status == 200
    ids = [p["prediction_id"] for p in body["predictions"]]
    feedback = {"prediction_id": ids[0], "label": "negative"}
    assert call(dynamo_lambda, "http_v2", "POST", "/v1/feedback", feedback)[1]["status"] == "recorded"

    items = {item["prediction_id"]["S"]: item for item in table_items()}
    assert set(items) == {f"text#{i}" for i in ids} | {ids[0]}
    assert [items[f"text#{i}"]["text"]["S"] for i in ids] == [REDACTED] + texts[1:]
    expiries = {int(items[f"text#{i}"]["expires_at"]["N"]) for i in ids}
    assert all(before + 30 * DAY <= e <= int(time.time()) + 30 * DAY for e in expiries)
    assert "expires_at" not in items[ids[0]] and items[ids[0]]["label"]["S"] == "negative"  # feedback never expires


@pytest.mark.parametrize("dynamo_lambda", ["false"], indirect=True)
def test_dynamodb_stores_nothing_when_capture_is_off(dynamo_lambda):
    status, _ = call(dynamo_lambda, "http_v2", "POST", "/v1/predict", {"inputs": [PERSONAL, ORDINARY]})
    assert status == 200
    assert table_items() == []
