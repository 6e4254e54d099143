"""The two places feedback is read from for an export, each giving the same `Feedback` rows to one join
(functions/common/feedback_export.py): `golive serve`'s local SQLite store (read-only) and the deployed DynamoDB
feedback table (golive/contracts/feedback_table.py: feedback keyed by prediction id, its text by `text#<id>`).

A window is [since, until) on when the feedback was received (UTC); `until` None: up to now.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from functions.common.feedback_export import Feedback
from golive.contracts.feedback_table import TEXT_KEY_PREFIX, TTL_ATTRIBUTE
from golive.errors import UserError

BATCH_GET_LIMIT = 100  # keys per DynamoDB BatchGetItem
BATCH_GET_ATTEMPTS = 5  # throttled keys come back unprocessed: asked for again, with a growing pause


def stamp(moment: datetime) -> str:
    """A time as the API stores `received_at` (UTC, to the second), so stored strings compare in time order."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def in_window(received_at: str, since: datetime, until: datetime | None) -> bool:
    moment = received_time(received_at)
    return moment >= since and (until is None or moment < until)


def received_time(received_at: str) -> datetime:
    """A stored `received_at` as a time; one without a zone is UTC (as --since reads it). ValueError if not a time."""
    moment = datetime.fromisoformat(received_at)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read_local(db: Path, since: datetime, until: datetime | None = None) -> list[Feedback]:
    """Feedback received in the window in a local store, in the order it was stored, each with its captured
    text if any."""
    if not db.is_file():
        raise UserError(
            f"no feedback database at {db}; `golive serve` keeps one at .golive/feedback.sqlite3 "
            "(GOLIVE_FEEDBACK_DB), with texts when GOLIVE_CAPTURE_TEXTS is on"
        )
    try:
        with sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True) as conn:
            found = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "feedback" not in found:
                raise UserError(f"{db} is not a golive feedback database: it has no feedback table")
            texts = "c.text, c.expires_at" if "captured_texts" in found else "NULL, NULL"
            join = (
                "LEFT JOIN captured_texts c ON c.prediction_id = f.prediction_id" if "captured_texts" in found else ""
            )
            rows = conn.execute(
                f"SELECT f.prediction_id, f.label, f.model_version, f.received_at, {texts} FROM feedback f {join} ORDER BY f.rowid"
            ).fetchall()
    except sqlite3.DatabaseError as exc:
        raise UserError(f"{db} is not a readable SQLite database ({exc})") from exc
    feedback = [_local_row(db, row) for row in rows]
    return [row for row in feedback if in_window(row.received_at, since, until)]


def _local_row(db: Path, row: tuple) -> Feedback:
    """A row as golive serve writes it, or a UserError naming the row and what is wrong with it (a hand edit, another
    tool): read as it is, a NULL label or a BLOB text would reach the training data, an odd time stop the export."""
    prediction_id, label, model_version, received_at, text, expires_at = row
    problem = next(
        (
            f"{name} is {_sql_kind(value)}, not text"
            for name, value in [
                ("prediction_id", prediction_id),
                ("label", label),
                ("model_version", model_version),
                ("received_at", received_at),
            ]
            if not isinstance(value, str)
        ),
        None,
    )
    if text is not None and not isinstance(text, str):
        problem = f"its captured text is {_sql_kind(text)}, not text"
    if expires_at is not None and not isinstance(expires_at, int):
        problem = f"its captured text's expires_at is {_sql_kind(expires_at)}, not a whole number of epoch seconds"
    if problem is None:
        try:
            received_time(received_at)
        except ValueError:
            problem = f"received_at {received_at!r} is not an ISO 8601 time such as 2026-01-31T12:00:00+00:00"
    if problem:
        raise UserError(
            f"{db}: feedback {prediction_id!r} is not as golive serve writes it: {problem}; "
            "correct that row or delete it"
        )
    return Feedback(*row)


def _sql_kind(value: object) -> str:
    kinds = {type(None): "NULL", int: "a number", float: "a number", bytes: "a BLOB"}
    return kinds.get(type(value), repr(value))


def read_table(client: Any, table: str, since: datetime, until: datetime | None = None) -> list[Feedback]:
    """Feedback received in the window in the DynamoDB table, oldest first (the same second: by prediction id, as
    DynamoDB keeps no order), each with its captured text if the table still holds one: a Scan for the feedback
    items (filtered by `received_at`, which text items lack), then the texts of just those predictions by key.
    botocore's errors are the caller's to explain."""
    feedback = sorted(_scan_feedback(client, table, since, until), key=lambda item: (item[3], item[0]))
    texts = _get_texts(client, table, [item[0] for item in feedback])
    rows = []
    for prediction_id, label, model_version, received_at in feedback:
        text = texts.get(prediction_id)
        rows.append(
            Feedback(
                prediction_id,
                label,
                model_version,
                received_at,
                text["text"]["S"] if text else None,
                int(text[TTL_ATTRIBUTE]["N"]) if text and TTL_ATTRIBUTE in text else None,
            )
        )
    return rows


def _scan_feedback(client: Any, table: str, since: datetime, until: datetime | None) -> Iterator[tuple[str, ...]]:
    names = {"#id": "prediction_id", "#label": "label", "#version": "model_version", "#at": "received_at"}
    values = {":since": {"S": stamp(since)}}
    condition = "#at >= :since"
    if until is not None:
        values[":until"] = {"S": stamp(until)}
        condition += " AND #at < :until"
    pages = client.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression=condition,
        ProjectionExpression="#id, #label, #version, #at",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )
    for page in pages:
        for item in page["Items"]:
            fields = (item["prediction_id"]["S"], item["label"]["S"], item["model_version"]["S"])
            received_at = item["received_at"]["S"]
            if in_window(received_at, since, until):  # the stored string, read as a time: the filter's own check
                yield (*fields, received_at)


def _get_texts(client: Any, table: str, prediction_ids: list[str]) -> dict[str, dict]:
    """prediction id -> its `text#` item, for those the table holds. Keys still unprocessed after every attempt
    are an error, never texts quietly taken for missing."""
    found: dict[str, dict] = {}
    for start in range(0, len(prediction_ids), BATCH_GET_LIMIT):
        keys = [
            {"prediction_id": {"S": TEXT_KEY_PREFIX + pid}} for pid in prediction_ids[start : start + BATCH_GET_LIMIT]
        ]
        request: dict = {
            table: {
                "Keys": keys,
                "ProjectionExpression": "#id, #text, #expires",
                "ExpressionAttributeNames": {"#id": "prediction_id", "#text": "text", "#expires": TTL_ATTRIBUTE},
            }
        }
        for attempt in range(BATCH_GET_ATTEMPTS):
            answer = client.batch_get_item(RequestItems=request)
            for item in answer["Responses"].get(table, []):
                found[item["prediction_id"]["S"].removeprefix(TEXT_KEY_PREFIX)] = item
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(0.05 * 2**attempt)
        if request:
            left = len(request[table]["Keys"])
            raise UserError(
                f"DynamoDB left {left} captured texts unread after {BATCH_GET_ATTEMPTS} attempts (throttled); "
                "nothing was written: run the export again"
            )
    return found
