"""Where labelled feedback lives as training data in the data bucket, and the pipeline's inputs that name it.

Three parts agree on this: the scheduled export job writes one folder per day (its JSONL rows and a summary),
the retraining trigger reads the summaries to count new labelled rows since the last run and starts the
pipeline with `PipelineInput`, and the pipeline hands the exports and the fixed evaluation set to the training
job as channels (`golive train` reads every JSONL file under a channel's folder).

    s3://<data bucket>/feedback-exports/2026-11-24/feedback.jsonl   rows: text, label, prediction_id, ...
    s3://<data bucket>/feedback-exports/2026-11-24/summary.json     ExportSummary
    s3://<data bucket>/eval/                                         the fixed evaluation set (any data file)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date

EXPORT_PREFIX = "feedback-exports/"  # one folder per export day under it
ROWS_FILE = "feedback.jsonl"
SUMMARY_FILE = "summary.json"
EVAL_PREFIX = "eval/"  # the fixed held-out set both champion and challenger are scored on

# the training job's channels (SM_CHANNEL_<NAME> inside the job)
FEEDBACK_CHANNEL = "feedback"  # every export so far
EVAL_CHANNEL = "eval"  # EVAL_PREFIX
CHAMPION_CHANNEL = "champion"  # the serving model's model.tar.gz, when there is one


def export_folder(day: date) -> str:
    """The key prefix of one day's export: `feedback-exports/2026-11-24/`."""
    return f"{EXPORT_PREFIX}{day.isoformat()}/"


@dataclass(frozen=True)
class ExportSummary:
    """What one export wrote and what it left out, by reason (functions' export REASONS keys)."""

    exported_at: str  # ISO 8601, UTC: when the export ran
    since: str  # ISO 8601, UTC: feedback received at or after this
    until: str  # ISO 8601, UTC: ... and before this
    rows: int  # labelled texts written to ROWS_FILE
    left_out: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ExportSummary:
        values = json.loads(text)
        return cls(**{key: values[key] for key in cls.__dataclass_fields__ if key in values})


@dataclass(frozen=True)
class PipelineInput:
    """The training state machine's execution input. Started by hand (`{}`), every field has its default:
    no feedback channel, trigger "manual"."""

    trigger: str = "manual"  # "manual", "schedule" or "alarm:<alarm name>"
    feedback_uri: str | None = None  # s3://<data bucket>/feedback-exports/ when there are exports to train on

    def to_json(self) -> str:
        return json.dumps({key: value for key, value in asdict(self).items() if value is not None}, sort_keys=True)
