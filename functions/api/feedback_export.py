"""Feedback as training data: each feedback row joined with its prediction's captured (redacted) text, as JSONL
that `golive train --data` reads as is (text, label; plus prediction_id, model_version, received_at).

What cannot become a training row is left out and counted, never dropped silently: feedback with no captured
text (capture was off, or the text is gone: SQLite deletes expired texts on its next write, DynamoDB's TTL
within days), with an expired text still stored, or on a text that other feedback labels differently
(conflicting); a second feedback row for the same prediction id or the same text and label (duplicate).
Reads the local store (`golive serve`'s SQLite, functions/api/feedback_store.py) read-only.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from golive.errors import UserError

REASONS = {  # why a feedback row was left out, as the summary says it
    "no_text": "no captured text",
    "expired": "captured text expired",
    "conflicting": "conflicting labels for the same text",
    "duplicate": "duplicate (same prediction id, or same text and label)",
}


@dataclass(frozen=True)
class Feedback:
    """One feedback row and its captured text, if any (text None: none captured)."""

    prediction_id: str
    label: str
    model_version: str
    received_at: str  # ISO 8601, UTC
    text: str | None
    expires_at: int | None  # epoch seconds


@dataclass(frozen=True)
class TrainingRow:
    text: str
    label: str
    prediction_id: str
    model_version: str
    received_at: str


@dataclass
class ExportResult:
    rows: list[TrainingRow]
    left_out: Counter[str] = field(default_factory=Counter)

    def summary(self, out: str) -> str:
        lines = [f"exported {len(self.rows)} labelled texts to {out}"]
        if self.left_out:
            lines.append(f"left out {sum(self.left_out.values())} feedback rows:")
            lines += [f"  {self.left_out[reason]:>7}  {REASONS[reason]}" for reason in REASONS if self.left_out[reason]]
        else:
            lines.append("left out no feedback rows")
        return "\n".join(lines)


def training_rows(feedback: Iterable[Feedback], now: float | None = None) -> ExportResult:
    """The rows to train on, oldest feedback first (received in the same second: in the order given), and how many
    feedback rows were left out and why."""
    now = time.time() if now is None else now
    result = ExportResult(rows=[])
    seen_ids: set[str] = set()
    by_text: dict[str, list[Feedback]] = {}
    for row in sorted(feedback, key=lambda f: f.received_at):  # stable: ties keep the store's order
        if row.prediction_id in seen_ids:
            result.left_out["duplicate"] += 1
            continue
        seen_ids.add(row.prediction_id)
        if row.text is None:
            result.left_out["no_text"] += 1
        elif row.expires_at is not None and row.expires_at <= now:
            result.left_out["expired"] += 1
        else:
            by_text.setdefault(row.text, []).append(row)
    for text, rows in by_text.items():
        if len({r.label for r in rows}) > 1:
            result.left_out["conflicting"] += len(rows)
            continue
        first = rows[0]
        result.left_out["duplicate"] += len(rows) - 1
        result.rows.append(TrainingRow(text, first.label, first.prediction_id, first.model_version, first.received_at))
    return result


def read_local(db: Path, since: datetime) -> list[Feedback]:
    """Feedback received at or after `since` (UTC) in a local store, in the order it was stored, each with its
    captured text if any."""
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
    return [Feedback(*row) for row in rows if datetime.fromisoformat(row[3]) >= since]


def write_jsonl(rows: list[TrainingRow], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as stream:
        for row in rows:
            stream.write(json.dumps(asdict(row), ensure_ascii=False) + "\n")
