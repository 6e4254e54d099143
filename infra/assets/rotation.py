"""The signing key's rotation function (functions/rotation/handler.py): its code asset, the handler and the
key contract it imports (boto3 comes with Lambda's Python runtime)."""

from __future__ import annotations

from pathlib import Path

from infra.assets.staging import stage_code

ENTRY = "functions.rotation.handler"
HANDLER = f"{ENTRY}.handler"  # the Lambda's handler setting: module.function


def stage_rotation_code(dest: Path) -> Path:
    stage_code([ENTRY], dest)
    return Path(dest)
