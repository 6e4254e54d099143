"""The daily export job (functions/feedback_export/handler.py) invoked as EventBridge's schedule invokes it, on
moto's DynamoDB and S3: feedback and captured texts written by the API's own store (functions/api/feedback_store.py)
on two days, exported into the data bucket's dated folders that `golive train` and the retraining trigger read.

The store stamps `received_at` with its clock, and the job's window comes from the scheduled event's `time`: the
test sets both to days of its choosing, so a day's feedback lands in that day's window."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from functions.api import feedback_store
from functions.api.feedback_store import CapturedText, DynamoFeedbackStore, FeedbackRecord
from functions.common import feedback_sources
from functions.common.feedback_export import REASONS
from functions.feedback_export import handler as job
from golive.contracts.feedback_exports import ExportSummary
from golive.contracts.feedback_table import TEXT_KEY_PREFIX, TTL_ATTRIBUTE
from golive.errors import UserError
from training.reading import SkipReport, read_rows

TABLE, BUCKET = "golive-dev-feedback", "golive-dev-data"
WEEK = 7 * 86_400


def scheduled_event(moment: str) -> dict:
    """An EventBridge scheduled event, as the rule delivers it (the fields AWS documents)."""
    return {
        "version": "0",
        "id": "89d1a02d-5ec7-412e-82f5-13505f849b41",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": moment,
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/golive-dev-api-FeedbackExportDaily"],
        "detail": {},
    }


class Api:
    """The API's feedback store on moto's table, its clock set by the test."""

    def __init__(self, monkeypatch):
        self.store = DynamoFeedbackStore(TABLE)
        self.clock = "2026-11-23T09:00:00+00:00"
        monkeypatch.setattr(feedback_store, "_now", lambda: self.clock)
        self.count = 0

    def predict_and_label(self, text: str | None, label: str, at: str, predicted: str = "positive") -> str:
        """A prediction (its text captured unless None) and, at `at`, the client's feedback on it."""
        self.count += 1
        prediction_id = f"p{self.count:03d}.sig"
        if text is not None:
            expires = int(time.time()) + WEEK
            assert self.store.put_texts([CapturedText(prediction_id, text, "v1", expires)]) == 0
        self.clock = at
        assert self.store.put_once(FeedbackRecord(prediction_id, label, predicted, "v1")) is None
        return prediction_id


@pytest.fixture()
def aws(monkeypatch):
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        job.TABLE_VARIABLE: TABLE,
        job.BUCKET_VARIABLE: BUCKET,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "prediction_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "prediction_id", "AttributeType": "S"}],
        )
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield Api(monkeypatch)


def s3_text(key: str) -> str:
    return boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()


def keys() -> list[str]:
    return sorted(o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_each_run_exports_the_days_since_the_last_one_and_counts_what_it_left_out(aws, tmp_path):
    # day 1 (and a week before it, when nothing was captured yet)
    uncaptured = aws.predict_and_label(None, "positive", "2026-11-16T12:00:00+00:00")
    film = aws.predict_and_label("a wonderful film", "positive", "2026-11-23T09:00:00+00:00")
    email = aws.predict_and_label("write to [EMAIL] about it", "negative", "2026-11-23T09:30:00+00:00")
    dull = [
        aws.predict_and_label("dull and slow", label, "2026-11-23T10:00:00+00:00") for label in ("negative", "positive")
    ]
    again = aws.predict_and_label("a wonderful film", "positive", "2026-11-23T11:00:00+00:00")
    gone = aws.predict_and_label("gone", "negative", "2026-11-23T23:59:59+00:00")
    # DynamoDB's TTL deletes an expired item within days, not at once: this one is past its time, still there
    boto3.client("dynamodb").update_item(
        TableName=TABLE,
        Key={"prediction_id": {"S": TEXT_KEY_PREFIX + gone}},
        UpdateExpression="SET #e = :past",
        ExpressionAttributeNames={"#e": TTL_ATTRIBUTE},
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    late = aws.predict_and_label("arrived after midnight", "positive", "2026-11-24T00:05:00+00:00")

    first = job.handler(scheduled_event("2026-11-24T00:15:00Z"), None)
    assert first["exported"] and first["folder"] == f"s3://{BUCKET}/feedback-exports/2026-11-23/"
    summary = ExportSummary.from_json(s3_text("feedback-exports/2026-11-23/summary.json"))
    assert (summary.since, summary.until) == ("1970-01-01T00:00:00+00:00", "2026-11-24T00:00:00+00:00")
    assert summary.rows == 2 and set(summary.left_out) == set(REASONS)
    assert summary.left_out == {"no_text": 1, "expired": 1, "conflicting": 2, "duplicate": 1}
    assert datetime.fromisoformat(summary.exported_at).tzinfo == UTC
    rows = [json.loads(line) for line in s3_text("feedback-exports/2026-11-23/feedback.jsonl").splitlines()]
    assert [(r["text"], r["label"], r["prediction_id"]) for r in rows] == [
        ("a wonderful film", "positive", film),
        ("write to [EMAIL] about it", "negative", email),
    ]
    assert rows[0]["received_at"] == "2026-11-23T09:00:00+00:00" and rows[0]["model_version"] == "v1"
    assert {uncaptured, again, late, *dull}.isdisjoint(r["prediction_id"] for r in rows)
    assert first["summary"] == json.loads(summary.to_json())

    # a retried or repeated event for the same night changes nothing
    assert job.handler(scheduled_event("2026-11-24T00:16:30Z"), None)["exported"] is False
    assert keys() == ["feedback-exports/2026-11-23/feedback.jsonl", "feedback-exports/2026-11-23/summary.json"]

    # day 2: the next run starts where the first ended, so the feedback after midnight is in it
    more = aws.predict_and_label("a lovely hotel", "positive", "2026-11-24T18:00:00+00:00")
    second = job.handler(scheduled_event("2026-11-25T00:15:00Z"), None)
    summary = ExportSummary.from_json(s3_text("feedback-exports/2026-11-24/summary.json"))
    assert (summary.since, summary.until, summary.rows) == ("2026-11-24T00:00:00+00:00", "2026-11-25T00:00:00+00:00", 2)
    assert summary.left_out == dict.fromkeys(REASONS, 0)
    rows = [json.loads(line) for line in s3_text("feedback-exports/2026-11-24/feedback.jsonl").splitlines()]
    assert [r["prediction_id"] for r in rows] == [late, more] and second["summary"]["rows"] == 2

    # each day's file is what `golive train --data` reads as is
    skipped = SkipReport()
    training = [
        row.text
        for day in ("2026-11-23", "2026-11-24")
        for row in read_rows(f"s3://{BUCKET}/feedback-exports/{day}/feedback.jsonl", None, None, skipped)
    ]
    assert training == ["a wonderful film", "write to [EMAIL] about it", "arrived after midnight", "a lovely hotel"]
    assert skipped.total == 0


def test_a_day_without_labelled_texts_gets_a_summary_and_no_rows_file(aws):
    aws.predict_and_label(None, "positive", "2026-11-23T09:00:00+00:00")  # capture was off
    result = job.handler(scheduled_event("2026-11-24T00:15:00Z"), None)
    assert result["summary"]["rows"] == 0 and result["summary"]["left_out"]["no_text"] == 1
    assert keys() == ["feedback-exports/2026-11-23/summary.json"]  # `golive train` refuses an empty data file
    # a missed night: the next run takes every day since the last export
    aws.predict_and_label("a wonderful film", "positive", "2026-11-25T09:00:00+00:00")
    result = job.handler(scheduled_event("2026-11-27T00:15:00Z"), None)
    assert (result["summary"]["since"], result["summary"]["until"], result["summary"]["rows"]) == (
        "2026-11-24T00:00:00+00:00",
        "2026-11-27T00:00:00+00:00",
        1,
    )
    assert result["folder"].endswith("/feedback-exports/2026-11-26/")


def test_an_unfinished_export_is_done_again_and_foreign_folders_are_ignored(aws):
    film = aws.predict_and_label("a wonderful film", "positive", "2026-11-23T09:00:00+00:00")
    s3 = boto3.client("s3")
    # a run that died between its two writes (no summary), and a folder somebody else put under the prefix
    s3.put_object(Bucket=BUCKET, Key="feedback-exports/2026-11-23/feedback.jsonl", Body=b'{"text": "half"}\n')
    s3.put_object(Bucket=BUCKET, Key="feedback-exports/notes/summary.json", Body=b"not a summary")
    result = job.handler(scheduled_event("2026-11-24T00:15:00Z"), None)
    assert result["exported"] and result["summary"]["since"] == "1970-01-01T00:00:00+00:00"
    assert [
        json.loads(line)["prediction_id"] for line in s3_text("feedback-exports/2026-11-23/feedback.jsonl").splitlines()
    ] == [film]


def test_a_run_by_hand_without_a_time_exports_up_to_last_midnight(aws):
    today = datetime.now(UTC).date().isoformat()
    aws.predict_and_label("a wonderful film", "positive", "2026-01-01T09:00:00+00:00")
    result = job.handler({}, None)  # `aws lambda invoke` with an empty event
    assert result["summary"]["until"] == f"{today}T00:00:00+00:00" and result["summary"]["rows"] == 1


def test_more_texts_than_one_batch_get_are_all_joined(aws):
    ids = [aws.predict_and_label(f"review number {i}", "positive", "2026-11-23T09:00:00+00:00") for i in range(130)]
    result = job.handler(scheduled_event("2026-11-24T00:15:00Z"), None)  # BatchGetItem takes 100 keys at a time
    assert result["summary"]["rows"] == 130 and result["summary"]["left_out"]["no_text"] == 0
    exported = [
        json.loads(line)["prediction_id"] for line in s3_text("feedback-exports/2026-11-23/feedback.jsonl").splitlines()
    ]
    assert exported == sorted(ids)  # received in the same second: by prediction id


def stubbed_table(unprocessed_answers: int) -> tuple[object, Stubber]:
    """A real DynamoDB client whose answers are queued: one feedback item, then BatchGetItem leaving its text
    unprocessed `unprocessed_answers` times (throttling moto never does) before answering it."""
    client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    item = {
        name: {"S": value}
        for name, value in [
            ("prediction_id", "p1"),
            ("label", "positive"),
            ("model_version", "v1"),
            ("received_at", "2026-11-23T09:00:00+00:00"),
        ]
    }
    stubber.add_response("scan", {"Items": [item]})
    key = {"prediction_id": {"S": TEXT_KEY_PREFIX + "p1"}}
    left = {TABLE: {"Keys": [key], "ProjectionExpression": "#id, #text, #expires"}}
    for _ in range(unprocessed_answers):
        stubber.add_response("batch_get_item", {"Responses": {TABLE: []}, "UnprocessedKeys": left})
    text = {**key, "text": {"S": "a wonderful film"}, TTL_ATTRIBUTE: {"N": "4102444800"}}
    stubber.add_response("batch_get_item", {"Responses": {TABLE: [text]}, "UnprocessedKeys": {}})
    stubber.activate()
    return client, stubber


def test_throttled_text_reads_are_retried_and_an_unfinished_read_fails_loudly(monkeypatch):
    pauses: list[float] = []
    monkeypatch.setattr(feedback_sources.time, "sleep", pauses.append)
    since = datetime(2026, 11, 23, tzinfo=UTC)
    client, stubber = stubbed_table(unprocessed_answers=2)
    [row] = feedback_sources.read_table(client, TABLE, since)
    assert (row.text, row.expires_at) == ("a wonderful film", 4_102_444_800) and pauses == [0.05, 0.1]
    stubber.assert_no_pending_responses()
    client, _ = stubbed_table(unprocessed_answers=feedback_sources.BATCH_GET_ATTEMPTS)
    with pytest.raises(UserError, match="left 1 captured texts unread after 5 attempts .* run the export again"):
        feedback_sources.read_table(client, TABLE, since)  # never "no captured text" for a text not read
