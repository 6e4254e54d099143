"""The retraining trigger's settings, as the stack sets them and the function (functions/retrain_trigger/) reads
them: environment variables, each by the name below. The triggers it names the pipeline's runs after are
`PipelineInput.trigger` values (feedback_exports.py): "schedule" or "alarm:<alarm name>"."""

from __future__ import annotations

STATE_MACHINE_ARN = "GOLIVE_STATE_MACHINE_ARN"  # the training pipeline it starts
DATA_BUCKET = "GOLIVE_DATA_BUCKET"  # where the feedback exports are (feedback_exports.EXPORT_PREFIX)
MIN_INTERVAL_HOURS = "GOLIVE_MIN_INTERVAL_HOURS"  # training.retrain.min_interval_hours
MIN_NEW_LABELS = "GOLIVE_MIN_NEW_LABELS"  # training.retrain.min_new_labels

SCHEDULE = "schedule"
ALARM_PREFIX = "alarm:"


def alarm_trigger(alarm_name: str) -> str:
    """The trigger of a run an alarm started: `alarm:golive-prod-online-accuracy`."""
    return f"{ALARM_PREFIX}{alarm_name}"
