"""Feedback as training data: each feedback row joined with its prediction's captured (redacted) text, as JSONL
that `golive train --data` reads as is (text, label; plus prediction_id, model_version, received_at).

What cannot become a training row is left out and counted, never dropped silently: feedback with no captured
text (capture was off, or the text is gone: SQLite deletes expired texts on its next write, DynamoDB's TTL
within days), with an expired text still stored, or on a text that other feedback labels differently
(conflicting); a second feedback row for the same prediction id or the same text and label (duplicate).
One join for both readers (functions/common/feedback_sources.py: the local SQLite store, the deployed DynamoDB
table): `golive feedback export` and the scheduled export Lambda (functions/feedback_export) run the same rows.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from functions.common.sqlite_files import is_sqlite_database
from golive.errors import UserError
from golive.json_text import parse_json

EXPORT_KEYS = {"text", "label", "prediction_id"}  # the first line of a previous export has these

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

    def left_out_by_reason(self) -> dict[str, int]:
        """Every reason with its count, zeros included: what an export's summary.json records."""
        return {reason: self.left_out[reason] for reason in REASONS}

    def summary(self, out: str, replaced: bool = False) -> str:
        replacing = " (replaced the previous export)" if replaced else ""
        lines = [f"exported {len(self.rows)} labelled texts to {out}{replacing}"]
        if sum(self.left_out.values()):  # a Counter read for a reason it never saw holds a 0 for it
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


def jsonl(rows: list[TrainingRow]) -> bytes:
    """The rows as JSON Lines, UTF-8: what goes to a file or an S3 object."""
    return "".join(json.dumps(asdict(row), ensure_ascii=False) + "\n" for row in rows).encode("utf-8")


def write_jsonl(rows: list[TrainingRow], out: Path, source: Path | None = None) -> bool:
    """Write the rows to `out`, refusing a destination whose overwrite would lose data: the feedback database read
    (`source`) or any existing file that is not a previous export. True when a previous export was replaced."""
    replaced = check_destination(out, source)
    target = Path(os.path.realpath(out))  # the file written, as checked
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(jsonl(rows))
    os.replace(partial, target)  # the old export stays whole until the new one is
    return replaced


def check_destination(out: Path, source: Path | None = None) -> bool:
    """Refuse an --out that would destroy data; True when `out` is a previous export that will be replaced. `out`
    is checked as the file it names once its missing folders exist (`new/../feedback.sqlite3` included)."""
    given, out = out, Path(os.path.realpath(out))
    if out.is_dir():
        raise UserError(f"--out {given} is a folder: pass a file name, such as {given / 'feedback.jsonl'}")
    if not out.exists():
        return False
    if source is not None and source.exists() and os.path.samefile(out, source):
        raise UserError(
            f"--out {given} is the feedback database being exported (--local {source}): writing there would "
            "destroy it; choose another file, such as feedback.jsonl"
        )
    if is_sqlite_database(out):
        raise UserError(f"--out {given} is a SQLite database: the export would destroy it; choose another file")
    with out.open("rb") as file:
        first_line = file.readline(1 << 20)
    if first_line.strip() and not _is_export_line(first_line):
        raise UserError(
            f"--out {given} exists and is not a previous feedback export; choose another file or move that one away"
        )
    return True


def _is_export_line(line: bytes) -> bool:
    try:
        row = parse_json(line)
    except ValueError:
        return False
    return isinstance(row, dict) and EXPORT_KEYS <= row.keys()
