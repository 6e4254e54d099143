"""Durable, idempotent feedback storage: one record per prediction id, whatever the retries.

DynamoDB on Lambda (a conditional put: the first write wins, a retry finds it), SQLite locally.

With capture on (functions.api.capture), the same store keeps each prediction's *redacted* text until
`expires_at` (epoch seconds): in DynamoDB as an item keyed `text#<prediction id>` that the table's TTL on
`expires_at` deletes (feedback items have no `expires_at`, so they never expire); in SQLite in its own table,
expired rows deleted on the next write.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from functions.common.sqlite_files import sqlite_store_problem
from golive.contracts.feedback_table import TEXT_KEY_PREFIX, TTL_ATTRIBUTE
from golive.errors import UserError


@dataclass
class FeedbackRecord:
    prediction_id: str
    label: str
    predicted_label: str
    model_version: str

    @property
    def correct(self) -> bool:
        return self.label == self.predicted_label


@dataclass
class CapturedText:
    prediction_id: str
    text: str  # redacted before it gets here (golive.redaction)
    model_version: str
    expires_at: int  # epoch seconds


class FeedbackStore(Protocol):
    def put_once(self, record: FeedbackRecord) -> FeedbackRecord | None:
        """Store the record unless one exists for its prediction id; return the existing one if so."""

    def put_texts(self, texts: list[CapturedText]) -> int:
        """Store the captured texts; return how many could not be stored."""


BATCH_WRITE_LIMIT = 25  # items per DynamoDB BatchWriteItem


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class DynamoFeedbackStore:
    def __init__(self, table_name: str, client=None):
        self.table = table_name
        self._client = client

    @property
    def client(self):
        """Created on first feedback, not at cold start (boto3 costs ~0.1 s to import and set up)."""
        if self._client is None:
            import boto3

            self._client = boto3.client("dynamodb")
        return self._client

    def reconnect(self) -> None:
        """Drop the client (and its connections): the next feedback makes a new one. After a SnapStart restore."""
        self._client = None

    def put_once(self, record: FeedbackRecord) -> FeedbackRecord | None:
        item = {
            "prediction_id": {"S": record.prediction_id},
            "label": {"S": record.label},
            "predicted_label": {"S": record.predicted_label},
            "correct": {"BOOL": record.correct},
            "model_version": {"S": record.model_version},
            "received_at": {"S": _now()},
        }
        try:
            self.client.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(prediction_id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return None
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            old = (
                exc.response.get("Item")
                or self.client.get_item(
                    TableName=self.table, Key={"prediction_id": {"S": record.prediction_id}}, ConsistentRead=True
                )["Item"]
            )
            return FeedbackRecord(
                old["prediction_id"]["S"], old["label"]["S"], old["predicted_label"]["S"], old["model_version"]["S"]
            )

    def put_texts(self, texts: list[CapturedText], attempts: int = 3) -> int:
        requests = [
            {
                "PutRequest": {
                    "Item": {
                        "prediction_id": {"S": TEXT_KEY_PREFIX + t.prediction_id},
                        "text": {"S": t.text},
                        "model_version": {"S": t.model_version},
                        "captured_at": {"S": _now()},
                        TTL_ATTRIBUTE: {"N": str(t.expires_at)},
                    }
                }
            }
            for t in texts
        ]
        left = 0
        for start in range(0, len(requests), BATCH_WRITE_LIMIT):
            batch = requests[start : start + BATCH_WRITE_LIMIT]
            for _ in range(attempts):  # throttled writes come back unprocessed: try those again
                unprocessed = self.client.batch_write_item(RequestItems={self.table: batch}).get("UnprocessedItems", {})
                batch = unprocessed.get(self.table, [])
                if not batch:
                    break
            left += len(batch)
        return left


class SqliteFeedbackStore:
    def __init__(self, path: str):
        problem = sqlite_store_problem(Path(path))
        if problem:
            raise UserError(f"the feedback database {path} {problem}; name a .sqlite3 file (GOLIVE_FEEDBACK_DB)")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        try:
            self.conn = sqlite3.connect(path, check_same_thread=False)
            with self.lock, self.conn:
                self.conn.execute(
                    "CREATE TABLE IF NOT EXISTS feedback (prediction_id TEXT PRIMARY KEY, label TEXT,"
                    " predicted_label TEXT, model_version TEXT, received_at TEXT)"
                )
                self.conn.execute(
                    "CREATE TABLE IF NOT EXISTS captured_texts (prediction_id TEXT PRIMARY KEY, text TEXT,"
                    " model_version TEXT, captured_at TEXT, expires_at INTEGER)"
                )
        except sqlite3.DatabaseError as exc:  # unreadable, locked, read-only: SQLite's words, with the path
            raise UserError(f"cannot use the feedback database {path}: {exc}") from exc

    def put_once(self, record: FeedbackRecord) -> FeedbackRecord | None:
        with self.lock, self.conn:
            cursor = self.conn.execute(
                "INSERT OR IGNORE INTO feedback VALUES (?, ?, ?, ?, ?)",
                (record.prediction_id, record.label, record.predicted_label, record.model_version, _now()),
            )
            if cursor.rowcount:
                return None
            row = self.conn.execute(
                "SELECT prediction_id, label, predicted_label, model_version FROM feedback WHERE prediction_id = ?",
                (record.prediction_id,),
            ).fetchone()
        return FeedbackRecord(*row)

    def put_texts(self, texts: list[CapturedText]) -> int:
        with self.lock, self.conn:
            self.conn.execute("DELETE FROM captured_texts WHERE expires_at <= ?", (int(time.time()),))
            self.conn.executemany(
                "INSERT OR REPLACE INTO captured_texts VALUES (?, ?, ?, ?, ?)",
                [(t.prediction_id, t.text, t.model_version, _now(), t.expires_at) for t in texts],
            )
        return 0
