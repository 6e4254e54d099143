"""The retraining trigger: EventBridge invokes it on the schedule and when the online-accuracy or label-drift alarm
goes to ALARM (infra/constructs/retrain_trigger.py); it decides whether to start the training pipeline, in order:

1. skip when an execution is RUNNING, or one started less than `min_interval_hours` ago (whatever started it and
   however it ended: a pipeline that fails at once is not restarted in a loop);
2. count the labelled rows of the feedback exports that ran after the start of the last SUCCEEDED execution that
   trained on the exports (its input's feedback_uri is the exports' folder; every export counts when none of the
   newest RUNS_LOOKED_AT successful runs did), from their `summary.json`; skip below `min_new_labels`. A failed or
   stopped run trained nothing, nor did a successful one started without the exports (`{}` by hand), so their data
   still counts as new; a successful one on the exports used it, promoted or not;
3. else start the pipeline with `PipelineInput(trigger, feedback_uri=s3://<data bucket>/feedback-exports/)`, or
   without a feedback_uri when no export wrote a row (none yet, or only days without labels: a folder with no
   JSONL fails `golive train --feedback-data`, as SageMaker fails a channel with no data).

Each decision is one JSON line on stdout (`{"retrain": {...}}`, fields Logs Insights reads as they are) and the
handler's result: started or skipped, the reason, the counts. The execution is named after the start of the
current `min_interval_hours` window alone (`retrain-20261124T0000Z`), whatever triggered it: a schedule tick and an
alarm (or two alarms) at once invoke the function twice, both see nothing running, and Step Functions starts the
one name only once; the trigger is in the input.

boto3, the standard library and the contracts (golive/contracts/retraining.py, feedback_exports.py): the function
ships these files and nothing else.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from golive.contracts import retraining
from golive.contracts.feedback_exports import (
    EXPORT_PREFIX,
    ROWS_FILE,
    SUMMARY_FILE,
    ExportSummary,
    PipelineInput,
)

# S3 lists LastModified to the second and clocks differ a little: a summary last written this long before the last
# run's start cannot be from an export that ran after it, so it is not read
LISTING_MARGIN = timedelta(minutes=5)
# the newest successful runs read (DescribeExecution each) to find the last one that trained on the exports: a few
# calls a decision; past them every export counts as new, which starts a run on the exports and so ends the search
RUNS_LOOKED_AT, RUNS_PAGE = 50, 25
VARIABLES = (
    retraining.STATE_MACHINE_ARN,
    retraining.DATA_BUCKET,
    retraining.MIN_INTERVAL_HOURS,
    retraining.MIN_NEW_LABELS,
)


@dataclass(frozen=True)
class Settings:
    state_machine_arn: str
    data_bucket: str
    min_interval_hours: int
    min_new_labels: int

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The stack sets every variable; one missing or not a number is a broken deployment, said as such."""
        environ = os.environ if environ is None else environ
        missing = [name for name in VARIABLES if not environ.get(name)]
        if missing:
            raise RuntimeError(
                f"{', '.join(missing)} not set: the stack sets them (infra/constructs/retrain_trigger.py)"
            )
        try:
            hours, labels = int(environ[retraining.MIN_INTERVAL_HOURS]), int(environ[retraining.MIN_NEW_LABELS])
        except ValueError as exc:
            raise RuntimeError(f"{retraining.MIN_INTERVAL_HOURS} and {retraining.MIN_NEW_LABELS}: {exc}") from None
        return cls(environ[retraining.STATE_MACHINE_ARN], environ[retraining.DATA_BUCKET], hours, labels)

    @property
    def feedback_uri(self) -> str:
        return f"s3://{self.data_bucket}/{EXPORT_PREFIX}"


@dataclass(frozen=True)
class Decision:
    action: str  # "started" or "skipped"
    reason: str  # started, not_a_trigger, running, too_recent, too_few_labels, already_started
    message: str
    trigger: str | None
    execution: str | None = None  # the one started, or the one that made it skip
    new_labels: int | None = None
    min_new_labels: int | None = None
    unreadable_summaries: tuple[str, ...] = ()  # keys of summaries that could not be read (not counted)

    def to_json_dict(self) -> dict:
        """The decision as JSON has it (the handler's result, the log line's fields)."""
        return {**asdict(self), "unreadable_summaries": list(self.unreadable_summaries)}


def handler(event: dict, context: Any, *, sfn: Any = None, s3: Any = None, now: datetime | None = None) -> dict:
    settings = Settings.from_environment()
    decision = decide(
        event,
        settings,
        sfn or boto3.client("stepfunctions"),
        s3 or boto3.client("s3"),
        now or datetime.now(UTC),
    )
    result = decision.to_json_dict()
    print(json.dumps({"retrain": result}), flush=True)
    return result


def trigger_of(event: dict) -> str | None:
    """The event's trigger: `schedule`, `alarm:<name>` for an alarm's change to ALARM, None for anything else."""
    source, kind, detail = event.get("source"), event.get("detail-type"), event.get("detail") or {}
    if source == "aws.events" and kind == "Scheduled Event":
        return retraining.SCHEDULE
    if source == "aws.cloudwatch" and kind == "CloudWatch Alarm State Change" and detail.get("alarmName"):
        if (detail.get("state") or {}).get("value") == "ALARM":
            return retraining.alarm_trigger(detail["alarmName"])
    return None


def decide(event: dict, settings: Settings, sfn: Any, s3: Any, now: datetime) -> Decision:
    trigger = trigger_of(event)
    if trigger is None:
        message = "neither the schedule nor an alarm going to ALARM: nothing to decide"
        return Decision("skipped", "not_a_trigger", message, None)
    running = latest_execution(sfn, settings.state_machine_arn, "RUNNING")
    if running:
        message = f"execution {running['name']} is still running"
        return Decision("skipped", "running", message, trigger, running["name"])
    latest = latest_execution(sfn, settings.state_machine_arn)
    if latest and now - latest["startDate"] < timedelta(hours=settings.min_interval_hours):
        message = (
            f"execution {latest['name']} started at {latest['startDate'].isoformat()}, less than "
            f"{settings.min_interval_hours} h ago"
        )
        return Decision("skipped", "too_recent", message, trigger, latest["name"])
    trained = last_run_on_exports(sfn, settings)
    since = trained["startDate"] if trained else None
    keys, any_rows = list_exports(s3, settings.data_bucket, since)
    count, unreadable = new_labels(s3, settings.data_bucket, keys, since)
    counts: dict[str, Any] = {
        "new_labels": count,
        "min_new_labels": settings.min_new_labels,
        "unreadable_summaries": unreadable,
    }
    if count < settings.min_new_labels:
        after = f"since {since.isoformat()}" if since else "in all exports (no successful run trained on them yet)"
        message = f"{count} new labelled rows {after}; at least {settings.min_new_labels} start a run"
        return Decision("skipped", "too_few_labels", message, trigger, **counts)
    return start(sfn, settings, PipelineInput(trigger, settings.feedback_uri if any_rows else None), now, counts)


def latest_execution(sfn: Any, state_machine_arn: str, status: str | None = None) -> dict | None:
    """The newest execution, with `status` if given (ListExecutions lists the newest first), or None."""
    arguments: dict[str, Any] = {"stateMachineArn": state_machine_arn, "maxResults": 1}
    if status:
        arguments["statusFilter"] = status
    executions = sfn.list_executions(**arguments)["executions"]
    return executions[0] if executions else None


def last_run_on_exports(sfn: Any, settings: Settings) -> dict | None:
    """The newest SUCCEEDED execution started on every export (feedback_uri the exports' folder), among the newest
    RUNS_LOOKED_AT successful ones; None when there is none."""
    pages = sfn.get_paginator("list_executions").paginate(
        stateMachineArn=settings.state_machine_arn,
        statusFilter="SUCCEEDED",
        PaginationConfig={"MaxItems": RUNS_LOOKED_AT, "PageSize": RUNS_PAGE},
    )
    for page in pages:
        for execution in page["executions"]:
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            if feedback_uri_of(described.get("input")) == settings.feedback_uri:
                return execution
    return None


def feedback_uri_of(execution_input: str | None) -> str | None:
    """The feedback_uri of an execution's input (`{}` and anything not an object have none), with a final `/`."""
    try:
        uri = json.loads(execution_input or "{}").get("feedback_uri")
    except (ValueError, AttributeError):
        return None
    return uri.rstrip("/") + "/" if isinstance(uri, str) else None


def list_exports(s3: Any, bucket: str, since: datetime | None) -> tuple[list[str], bool]:
    """The exports' summaries but those last written well before `since`, and whether any export wrote a row (a
    ROWS_FILE with bytes, the data a feedback channel trains on: the export job writes one only then)."""
    keys, any_rows = [], False
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=EXPORT_PREFIX):
        for item in page.get("Contents", []):
            if item["Key"].endswith(f"/{SUMMARY_FILE}") and (
                since is None or item["LastModified"] > since - LISTING_MARGIN
            ):
                keys.append(item["Key"])
            any_rows = any_rows or (item["Key"].endswith(f"/{ROWS_FILE}") and item["Size"] > 0)
    return keys, any_rows


def new_labels(s3: Any, bucket: str, keys: list[str], since: datetime | None) -> tuple[int, tuple[str, ...]]:
    """Labelled rows of the exports at `keys` that ran after `since` (all of them when None), and the summaries
    that could not be read."""
    count, unreadable = 0, []
    for key in keys:
        summary = read_summary(s3, bucket, key)
        if summary is None:
            unreadable.append(key)
        elif since is None or exported_at(summary) > since:
            count += summary.rows
    return count, tuple(unreadable)


def read_summary(s3: Any, bucket: str, key: str) -> ExportSummary | None:
    """The summary at `key`, or None when it is not one (not JSON, a field missing, a count that is not one)."""
    try:
        summary = ExportSummary.from_json(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        exported_at(summary)
    except (ValueError, TypeError, KeyError):
        return None
    valid_rows = isinstance(summary.rows, int) and not isinstance(summary.rows, bool) and summary.rows >= 0
    return summary if valid_rows else None


def exported_at(summary: ExportSummary) -> datetime:
    """When the export ran; a time without a zone is UTC (the contract's)."""
    moment = datetime.fromisoformat(summary.exported_at)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def execution_name(now: datetime, interval_hours: int) -> str:
    """`retrain-<start of the current min-interval window, UTC>`: `retrain-20261124T0000Z`, whatever the trigger."""
    window = interval_hours * 3600
    start = datetime.fromtimestamp(now.timestamp() // window * window, UTC)
    return f"retrain-{start:%Y%m%dT%H%MZ}"


def start(sfn: Any, settings: Settings, pipeline_input: PipelineInput, now: datetime, counts: dict) -> Decision:
    name, trigger = execution_name(now, settings.min_interval_hours), pipeline_input.trigger
    try:
        sfn.start_execution(stateMachineArn=settings.state_machine_arn, name=name, input=pipeline_input.to_json())
    except sfn.exceptions.ExecutionAlreadyExists:
        message = f"execution {name} was started in this {settings.min_interval_hours} h window by another trigger"
        return Decision("skipped", "already_started", message, trigger, name, **counts)
    feedback = "and every export" if pipeline_input.feedback_uri else "alone (no export holds a row)"
    message = (
        f"started {name} on the original data {feedback}: {counts['new_labels']} new labelled rows "
        f"(at least {settings.min_new_labels})"
    )
    return Decision("started", "started", message, trigger, name, **counts)
