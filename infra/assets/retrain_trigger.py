"""The retraining trigger's code asset (functions/retrain_trigger/handler.py): the handler and the two contracts it
imports, staged with `infra.assets.staging.stage_code` (boto3 comes with Lambda's Python runtime)."""

from __future__ import annotations

ENTRY = "functions.retrain_trigger.handler"
HANDLER = f"{ENTRY}.handler"  # the Lambda's handler setting: module.function
