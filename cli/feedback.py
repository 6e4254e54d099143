"""`golive feedback export`: feedback joined with captured texts, as training data (functions/api/feedback_export.py)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path


def utc_date(value: str) -> datetime:
    """YYYY-MM-DD (midnight UTC) or an ISO 8601 time; one without a zone is UTC."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date such as 2026-01-31 (or 2026-01-31T12:00)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def add_feedback(sub) -> None:
    feedback = sub.add_parser("feedback", help="turn client feedback into training data")
    feedback_sub = feedback.add_subparsers(dest="feedback_command", required=True, metavar="ACTION")
    export = feedback_sub.add_parser(
        "export",
        help="feedback joined with its captured, redacted texts, as JSONL that `golive train --data` reads",
    )
    export.add_argument(
        "--local",
        required=True,
        type=Path,
        metavar="DB",
        help="the local feedback database (golive serve's .golive/feedback.sqlite3) (required)",
    )
    export.add_argument(
        "--since", required=True, type=utc_date, help="feedback received on or after this date, UTC (required)"
    )
    export.add_argument("--out", required=True, type=Path, help="the JSONL file to write (required)")
    export.set_defaults(func=_export)


def _export(ns: argparse.Namespace) -> int:
    from functions.api.feedback_export import read_local, training_rows, write_jsonl
    from golive.errors import UserError

    if str(ns.out).startswith("s3:/"):
        raise UserError("--out takes a local path for now; copy the file to S3 with `aws s3 cp` afterwards")
    result = training_rows(read_local(ns.local, ns.since))
    write_jsonl(result.rows, ns.out)
    print(result.summary(str(ns.out)))
    return 0
