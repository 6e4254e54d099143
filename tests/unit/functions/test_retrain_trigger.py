"""The retraining trigger (functions/retrain_trigger/handler.py) against moto's Step Functions and S3: a real state
machine (a Pass state; moto's interpreter runs it to SUCCEEDED where a test needs a finished run, or leaves every
execution RUNNING where one must run), feedback-export summaries in the data bucket as the export job writes them
(golive/contracts/feedback_exports.py), and the handler invoked with the events EventBridge sends, creating its own
boto3 clients. Only the clock is given: moto stamps executions with the real time, and "25 hours later" is `now`.

One gap of moto 5.2.1 is bridged (`second_start_works`): its interpreter fails any StartExecution of a state
machine that has already run an execution ("cannot pickle '_thread.RLock'": it deep-copies the state machine with
its executions' live worker threads; getmoto/moto#10077, fixed upstream by #10093, which leaves the executions out
of that copy, as the bridge does)."""

from __future__ import annotations

import contextlib
import copy
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from unittest import mock

import boto3
import pytest
from moto import mock_aws
from moto.stepfunctions.parser import models as parser_models

from functions.retrain_trigger import handler as trigger
from golive.contracts import retraining
from golive.contracts.feedback_exports import PipelineInput, export_folder

REGION = "us-east-1"
BUCKET = "golive-dev-data"
SCHEDULED = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
EXPORTS = f"s3://{BUCKET}/feedback-exports/"


def alarm_event(name: str, state: str = "ALARM") -> dict:
    detail = {"alarmName": name, "state": {"value": state}, "previousState": {"value": "OK"}}
    return {"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change", "detail": detail}


class Aws:
    """moto's Step Functions with the training state machine, and the data bucket."""

    def __init__(self) -> None:
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.s3 = boto3.client("s3", region_name=REGION)
        role = boto3.client("iam", region_name=REGION).create_role(RoleName="pipeline", AssumeRolePolicyDocument="{}")
        definition = {"StartAt": "Train", "States": {"Train": {"Type": "Pass", "End": True}}}
        self.arn = self.sfn.create_state_machine(
            name="golive-dev-training", definition=json.dumps(definition), roleArn=role["Role"]["Arn"]
        )["stateMachineArn"]
        self.s3.create_bucket(Bucket=BUCKET)

    def run(self, name: str, wait: bool = True, pipeline_input: PipelineInput | None = None) -> datetime:
        """Start an execution (by hand: `{}` unless given); with `wait`, until moto's interpreter ends it. Its start
        time."""
        started = (pipeline_input or PipelineInput()).to_json()
        arn = self.sfn.start_execution(stateMachineArn=self.arn, name=name, input=started)["executionArn"]
        deadline = time.monotonic() + 10
        while wait and self.sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
            assert time.monotonic() < deadline, "moto's interpreter did not end the execution"
            time.sleep(0.02)
        return self.sfn.describe_execution(executionArn=arn)["startDate"]

    def export(self, exported_at: datetime, rows: int, day: int = 1) -> None:
        summary = {
            "exported_at": exported_at.isoformat(),
            "since": "2026-11-01T00:00:00+00:00",
            "until": "2026-11-02T00:00:00+00:00",
            "rows": rows,
            "left_out": {"no_text": 3},
        }
        folder = export_folder(datetime(2026, 11, day).date())
        self.put(f"{folder}summary.json", json.dumps(summary))
        if rows:  # as the export job: a day with no labelled rows is its summary alone
            self.put(f"{folder}feedback.jsonl", '{"text": "ok", "label": "pos"}\n')

    def put(self, key: str, body: str) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode())

    def executions(self) -> list[dict]:
        return self.sfn.list_executions(stateMachineArn=self.arn)["executions"]

    def pipeline_input(self, name: str) -> dict:
        arn = next(e["executionArn"] for e in self.executions() if e["name"] == name)
        return json.loads(self.sfn.describe_execution(executionArn=arn)["input"])


@contextlib.contextmanager
def second_start_works() -> Iterator[None]:
    """moto's fix (#10093): the snapshot StartExecution takes of the state machine leaves its executions out."""

    def snapshot(state_machine, memo=None):
        return copy.deepcopy(state_machine, {**(memo or {}), id(state_machine.executions): []})

    with mock.patch.object(parser_models, "copy", SimpleNamespace(deepcopy=snapshot)):
        yield


@pytest.fixture()
def aws(monkeypatch):
    """Runs executions to their end (moto's interpreter)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), second_start_works():
        yield configured(Aws(), monkeypatch)


@pytest.fixture()
def aws_running(monkeypatch):
    """Leaves every execution RUNNING (moto without its interpreter), until stopped."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield configured(Aws(), monkeypatch)


def configured(aws: Aws, monkeypatch, hours: int = 24, labels: int = 500) -> Aws:
    """The variables the stack sets on the function (infra/constructs/retrain_trigger.py)."""
    monkeypatch.setenv(retraining.STATE_MACHINE_ARN, aws.arn)
    monkeypatch.setenv(retraining.DATA_BUCKET, BUCKET)
    monkeypatch.setenv(retraining.MIN_INTERVAL_HOURS, str(hours))
    monkeypatch.setenv(retraining.MIN_NEW_LABELS, str(labels))
    return aws


def decision_logged(capsys) -> dict:
    (line,) = capsys.readouterr().out.splitlines()
    return json.loads(line)["retrain"]


def test_enough_new_labels_after_the_last_successful_run_start_the_pipeline_on_the_exports(aws, capsys):
    started = aws.run("weekly-1", pipeline_input=PipelineInput("schedule", EXPORTS))
    aws.export(started - timedelta(hours=1), rows=400, day=1)  # the last run trained on these
    aws.export(started + timedelta(hours=1), rows=300, day=2)
    aws.export(started + timedelta(hours=2), rows=250, day=3)
    now = (started + timedelta(hours=25)).astimezone(UTC)

    result = trigger.handler(SCHEDULED, None, now=now)

    assert result["action"] == "started", result
    assert result["new_labels"] == 550 and result["min_new_labels"] == 500
    assert result["execution"] == f"retrain-{now:%Y%m%d}T0000Z"
    assert aws.pipeline_input(result["execution"]) == {"trigger": "schedule", "feedback_uri": EXPORTS}
    assert decision_logged(capsys) == result


def test_a_running_execution_skips_whatever_the_labels(aws_running, capsys):
    started = aws_running.run("manual-1", wait=False)
    aws_running.export(started + timedelta(hours=1), rows=10_000)

    result = trigger.handler(SCHEDULED, None, now=started + timedelta(days=3))

    assert (result["action"], result["reason"], result["execution"]) == ("skipped", "running", "manual-1")
    assert len(aws_running.executions()) == 1
    assert decision_logged(capsys)["reason"] == "running"


def test_a_run_started_within_the_minimum_interval_skips_even_when_it_ended(aws_running, capsys):
    started = aws_running.run("manual-1", wait=False)
    (execution,) = aws_running.executions()
    aws_running.sfn.stop_execution(executionArn=execution["executionArn"])  # ABORTED: ended, trained nothing
    aws_running.export(started + timedelta(hours=1), rows=600)

    too_soon = trigger.handler(SCHEDULED, None, now=started + timedelta(hours=23))
    assert (too_soon["action"], too_soon["reason"], too_soon["execution"]) == ("skipped", "too_recent", "manual-1")
    assert "less than 24 h ago" in too_soon["message"]

    # a day later: no run has succeeded, so every export counts as new
    later = trigger.handler(SCHEDULED, None, now=started + timedelta(hours=25))
    assert (later["action"], later["new_labels"]) == ("started", 600)
    assert len(aws_running.executions()) == 2


def test_too_few_new_labels_skip_and_unreadable_summaries_are_named_not_counted(aws, capsys):
    started = aws.run("weekly-1", pipeline_input=PipelineInput("schedule", EXPORTS))
    aws.export(started - timedelta(minutes=30), rows=5_000, day=1)
    aws.export(started + timedelta(hours=3), rows=499, day=2)
    aws.put("feedback-exports/2026-11-03/summary.json", "{not json")
    aws.put("feedback-exports/2026-11-04/summary.json", json.dumps({"exported_at": started.isoformat()}))
    aws.put("feedback-exports/2026-11-05/summary.json", json.dumps({"exported_at": "yesterday", "rows": 9}))

    result = trigger.handler(SCHEDULED, None, now=started + timedelta(hours=30))

    assert (result["action"], result["reason"], result["new_labels"]) == ("skipped", "too_few_labels", 499)
    assert result["unreadable_summaries"] == [
        "feedback-exports/2026-11-03/summary.json",
        "feedback-exports/2026-11-04/summary.json",
        "feedback-exports/2026-11-05/summary.json",
    ]
    assert "499 new labelled rows since" in result["message"] and "at least 500" in result["message"]
    assert len(aws.executions()) == 1
    assert decision_logged(capsys)["new_labels"] == 499


def test_an_alarm_going_to_alarm_starts_a_run_named_after_it_and_other_events_do_nothing(aws, capsys):
    aws.export(datetime.now(UTC), rows=800)
    now = datetime.now(UTC)

    for event in (alarm_event("golive-dev-online-accuracy", state="OK"), {"source": "aws.s3"}, {}):
        result = trigger.handler(event, None, now=now)
        assert (result["action"], result["reason"], result["trigger"]) == ("skipped", "not_a_trigger", None)
    assert not aws.executions()

    result = trigger.handler(alarm_event("golive-dev-online-accuracy"), None, now=now)
    assert (result["action"], result["trigger"]) == ("started", "alarm:golive-dev-online-accuracy")
    assert result["execution"].startswith("retrain-")
    assert aws.pipeline_input(result["execution"])["trigger"] == "alarm:golive-dev-online-accuracy"


def test_a_schedule_tick_and_an_alarm_at_once_start_one_run(aws_running, capsys):
    """Both invocations pass the checks before either starts (a barrier holds each StartExecution until both got
    there); the second start finds the window's execution already there, whichever trigger it came from."""
    aws_running.export(datetime.now(UTC), rows=600)
    now, both_decided = datetime.now(UTC), threading.Barrier(2, timeout=10)

    def wait_for_the_other(**_) -> None:  # a value returned here would stand in for the call's response
        both_decided.wait()

    def invoke(event: dict) -> dict:
        sfn = boto3.client("stepfunctions", region_name=REGION)
        sfn.meta.events.register("before-call.sfn.StartExecution", wait_for_the_other)
        return trigger.handler(event, None, sfn=sfn, now=now)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(invoke, [SCHEDULED, alarm_event("golive-dev-online-accuracy")]))

    started, skipped = sorted(results, key=lambda result: result["action"] != "started")
    assert (started["action"], skipped["action"], skipped["reason"]) == ("started", "skipped", "already_started")
    assert skipped["execution"] == started["execution"]
    (execution,) = aws_running.executions()
    assert aws_running.pipeline_input(execution["name"])["trigger"] == started["trigger"]


@pytest.mark.parametrize("empty_days", [0, 2], ids=["no exports", "only days without labels"])
def test_with_no_minimum_of_labels_the_schedule_retrains_on_the_original_data_alone(aws, monkeypatch, empty_days):
    """No export holds a row: no feedback channel (a prefix with no JSONL fails `golive train` and the job)."""
    configured(aws, monkeypatch, hours=168, labels=0)
    for day in range(1, empty_days + 1):
        aws.export(datetime.now(UTC), rows=0, day=day)

    result = trigger.handler(SCHEDULED, None, now=datetime.now(UTC))

    assert (result["action"], result["new_labels"]) == ("started", 0)
    assert aws.pipeline_input(result["execution"]) == {"trigger": "schedule"}


def test_feedback_exported_before_the_last_run_is_still_trained_on_when_nothing_new_came(aws, monkeypatch):
    """The pipeline trains on every export, not only the new ones."""
    configured(aws, monkeypatch, hours=24, labels=0)
    started = aws.run("weekly-1", pipeline_input=PipelineInput("schedule", EXPORTS))
    aws.export(started - timedelta(hours=1), rows=400, day=1)
    aws.export(started + timedelta(hours=1), rows=0, day=2)

    result = trigger.handler(SCHEDULED, None, now=started + timedelta(days=7))

    assert (result["action"], result["new_labels"]) == ("started", 0)
    assert aws.pipeline_input(result["execution"]) == {"trigger": "schedule", "feedback_uri": EXPORTS}


def test_a_successful_run_that_trained_on_no_feedback_leaves_the_new_labels_new(aws):
    """A hand-started `{}` run (or one on a single day's folder) after the last run on the exports used none of
    what came since; the labels are counted from the run that trained on the exports."""
    on_exports = aws.run("weekly-1", pipeline_input=PipelineInput("schedule", EXPORTS))
    time.sleep(0.01)
    between = datetime.now(UTC)
    time.sleep(0.01)
    aws.run("by-hand-1")
    aws.run("one-day-1", pipeline_input=PipelineInput("manual", f"{EXPORTS}2026-11-02/"))
    aws.export(on_exports - timedelta(hours=1), rows=5_000, day=1)  # trained on by weekly-1
    aws.export(between, rows=600, day=2)

    result = trigger.handler(SCHEDULED, None, now=datetime.now(UTC) + timedelta(hours=25))

    assert (result["action"], result["new_labels"]) == ("started", 600)


def test_execution_names_are_the_start_of_the_interval_window_whatever_the_trigger():
    now = datetime(2026, 11, 24, 13, 45, tzinfo=UTC)
    assert trigger.execution_name(now, 24) == "retrain-20261124T0000Z"
    assert trigger.execution_name(now, 6) == "retrain-20261124T1200Z"
    assert trigger.execution_name(now + timedelta(hours=11), 24) == "retrain-20261125T0000Z"


def test_a_function_deployed_without_its_settings_says_which_are_missing(monkeypatch):
    for name in trigger.VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(retraining.DATA_BUCKET, BUCKET)
    with pytest.raises(RuntimeError, match=f"{retraining.STATE_MACHINE_ARN}, {retraining.MIN_INTERVAL_HOURS}"):
        trigger.handler(SCHEDULED, None)
    for name in trigger.VARIABLES:
        monkeypatch.setenv(name, "x")
    with pytest.raises(RuntimeError, match=retraining.MIN_INTERVAL_HOURS):
        trigger.handler(SCHEDULED, None)
