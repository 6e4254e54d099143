"""The daily feedback export: an EventBridge schedule invokes this Lambda, which exports the feedback received
since the last export, joined with its captured texts, into the data bucket (golive/contracts/feedback_exports.py):

    feedback-exports/<day>/feedback.jsonl   the labelled texts, as `golive feedback export` writes them
    feedback-exports/<day>/summary.json     ExportSummary: the window, the rows, what was left out and why

A window ends at the UTC midnight before the run (the scheduled event's `time`; now when invoked by hand) and
starts where the newest export ended (the first export takes all feedback before it); <day> is its last day.
The summary is written last, so a folder without one is an export that did not finish: the next run does that
window again. An event whose window is already exported (a retry, or a run by hand the same day) changes nothing.
A window with no rows gets a summary and no rows file (`golive train` refuses empty data files).

boto3 (the runtime's own), the standard library, the shared join (functions/common) and the core's contracts:
nothing else ships with it (infra/assets/feedback_export.py).
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3

from functions.common.feedback_export import jsonl, training_rows
from functions.common.feedback_sources import read_table, stamp
from golive.contracts.feedback_exports import EXPORT_PREFIX, ROWS_FILE, SUMMARY_FILE, ExportSummary, export_folder

TABLE_VARIABLE = "GOLIVE_FEEDBACK_TABLE"
BUCKET_VARIABLE = "GOLIVE_EXPORT_BUCKET"
FIRST_SINCE = datetime(1970, 1, 1, tzinfo=UTC)  # the first export takes every feedback row received before it

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)


def handler(event: dict, context: Any, dynamodb: Any = None, s3: Any = None) -> dict:
    """Export the window this event closes; returns the summary written (or why nothing was)."""
    table, bucket = os.environ[TABLE_VARIABLE], os.environ[BUCKET_VARIABLE]
    dynamodb = dynamodb or boto3.client("dynamodb")
    s3 = s3 or boto3.client("s3")
    ran_at = datetime.fromisoformat(event["time"]) if event.get("time") else datetime.now(UTC)
    until = ran_at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    newest = newest_export(s3, bucket)
    if newest is not None and datetime.fromisoformat(newest.until) >= until:
        logger.info(json.dumps({"message": "already exported", "until": stamp(until), "newest": newest.until}))
        return {"exported": False, "reason": f"feedback before {stamp(until)} is already exported"}
    since = datetime.fromisoformat(newest.until) if newest else FIRST_SINCE
    result = training_rows(read_table(dynamodb, table, since, until))
    summary = ExportSummary(
        exported_at=stamp(datetime.now(UTC)),
        since=stamp(since),
        until=stamp(until),
        rows=len(result.rows),
        left_out=result.left_out_by_reason(),
    )
    folder = export_folder((until - timedelta(seconds=1)).date())
    if result.rows:
        s3.put_object(Bucket=bucket, Key=folder + ROWS_FILE, Body=jsonl(result.rows), ContentType="application/jsonl")
    s3.put_object(Bucket=bucket, Key=folder + SUMMARY_FILE, Body=summary.to_json(), ContentType="application/json")
    logger.info(
        json.dumps({"message": "exported", "folder": f"s3://{bucket}/{folder}", **json.loads(summary.to_json())})
    )
    return {"exported": True, "folder": f"s3://{bucket}/{folder}", "summary": json.loads(summary.to_json())}


def newest_export(s3: Any, bucket: str) -> ExportSummary | None:
    """The summary of the latest finished export (the newest day folder that has one), if any."""
    days = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=EXPORT_PREFIX):
        for item in page.get("Contents", []):
            folder, _, name = item["Key"].removeprefix(EXPORT_PREFIX).partition("/")
            if name == SUMMARY_FILE and _is_day(folder):
                days.append(date.fromisoformat(folder))
    if not days:
        return None
    body = s3.get_object(Bucket=bucket, Key=export_folder(max(days)) + SUMMARY_FILE)["Body"].read()
    return ExportSummary.from_json(body.decode("utf-8"))


def _is_day(folder: str) -> bool:
    """A folder the export wrote (YYYY-MM-DD), not one somebody else put under the prefix."""
    try:
        return date.fromisoformat(folder).isoformat() == folder
    except ValueError:
        return False
