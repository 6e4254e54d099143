"""The feedback export function's code (functions/feedback_export/handler.py): its code asset, the handler and
what it imports (the shared join and readers, the core's contracts); boto3 comes with Lambda's Python runtime."""

from __future__ import annotations

from pathlib import Path

from infra.assets.staging import stage_code

ENTRY = "functions.feedback_export.handler"
HANDLER = f"{ENTRY}.handler"  # the Lambda's handler setting: module.function


def stage_export_code(dest: Path) -> Path:
    stage_code([ENTRY], dest)
    return Path(dest)
