"""The retraining trigger: EventBridge invokes it on the schedule and when the online-accuracy or label-drift alarm
goes to ALARM (infra/constructs/retrain_trigger.py); it decides whether to start the training pipeline, in order:

1. skip when an execution is RUNNING, or one started less than `min_interval_hours` ago (whatever started it and
   however it ended: a pipeline that fails at once is not restarted in a loop);
2. count the labelled rows of the feedback exports that ran after the last SUCCEEDED execution's start (every
   export when there is none), from their `summary.json`; skip below `min_new_labels`. A failed or stopped run
   trained nothing, so its data still counts as new; a successful one used it, promoted or not;
3. else start the pipeline with `PipelineInput(trigger, feedback_uri=s3://<data bucket>/feedback-exports/)`.

Each decision is one JSON line on stdout (`{"retrain": {...}}`, fields Logs Insights reads as they are) and the
handler's result: started or skipped, the reason, the counts. The execution is named after the trigger's kind and
the start of the current `min_interval_hours` window (`alarm-20261124T0000Z`): two alarms going off together
invoke the function twice at once, both see nothing running, and Step Functions starts the one name only once.

boto3, the standard library and the contracts (golive/contracts/retraining.py, feedback_exports.py): the function
ships these files and nothing else.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from golive.contracts import retraining
from golive.contracts.feedback_exports import EXPORT_PREFIX, SUMMARY_FILE, ExportSummary, PipelineInput

# S3 lists LastModified to the second and clocks differ a little: a summary last written this long before the last
# run's start cannot be from an export that ran after it, so it is not read
LISTING_MARGIN = timedelta(minutes=5)
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
    succeeded = latest_execution(sfn, settings.state_machine_arn, "SUCCEEDED")
    since = succeeded["startDate"] if succeeded else None
    count, unreadable = new_labels(s3, settings.data_bucket, since)
    counts: dict[str, Any] = {
        "new_labels": count,
        "min_new_labels": settings.min_new_labels,
        "unreadable_summaries": unreadable,
    }
    if count < settings.min_new_labels:
        after = f"since {since.isoformat()}" if since else "in all exports (no run has succeeded yet)"
        message = f"{count} new labelled rows {after}; at least {settings.min_new_labels} start a run"
        return Decision("skipped", "too_few_labels", message, trigger, **counts)
    return start(sfn, settings, trigger, now, counts)


def latest_execution(sfn: Any, state_machine_arn: str, status: str | None = None) -> dict | None:
    """The newest execution, with `status` if given (ListExecutions lists the newest first), or None."""
    arguments: dict[str, Any] = {"stateMachineArn": state_machine_arn, "maxResults": 1}
    if status:
        arguments["statusFilter"] = status
    executions = sfn.list_executions(**arguments)["executions"]
    return executions[0] if executions else None


def new_labels(s3: Any, bucket: str, since: datetime | None) -> tuple[int, tuple[str, ...]]:
    """Labelled rows of the exports that ran after `since` (all of them when None), and the summaries that could
    not be read."""
    count, unreadable = 0, []
    for key in summary_keys(s3, bucket, since):
        summary = read_summary(s3, bucket, key)
        if summary is None:
            unreadable.append(key)
        elif since is None or exported_at(summary) > since:
            count += summary.rows
    return count, tuple(unreadable)


def summary_keys(s3: Any, bucket: str, since: datetime | None) -> Iterator[str]:
    """Every export's summary under EXPORT_PREFIX, but those last written well before `since`."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=EXPORT_PREFIX):
        for item in page.get("Contents", []):
            if item["Key"].endswith(f"/{SUMMARY_FILE}") and (
                since is None or item["LastModified"] > since - LISTING_MARGIN
            ):
                yield item["Key"]


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


def execution_name(trigger: str, now: datetime, interval_hours: int) -> str:
    """`<kind>-<start of the current min-interval window, UTC>`: `schedule-20261124T0000Z`, `alarm-...`."""
    window = interval_hours * 3600
    start = datetime.fromtimestamp(now.timestamp() // window * window, UTC)
    return f"{trigger.split(':', 1)[0]}-{start:%Y%m%dT%H%MZ}"


def start(sfn: Any, settings: Settings, trigger: str, now: datetime, counts: dict) -> Decision:
    name = execution_name(trigger, now, settings.min_interval_hours)
    pipeline_input = PipelineInput(trigger=trigger, feedback_uri=settings.feedback_uri).to_json()
    try:
        sfn.start_execution(stateMachineArn=settings.state_machine_arn, name=name, input=pipeline_input)
    except sfn.exceptions.ExecutionAlreadyExists:
        message = f"execution {name} was started in this {settings.min_interval_hours} h window by another trigger"
        return Decision("skipped", "already_started", message, trigger, name, **counts)
    message = f"started {name}: {counts['new_labels']} new labelled rows (at least {settings.min_new_labels})"
    return Decision("started", "started", message, trigger, name, **counts)
