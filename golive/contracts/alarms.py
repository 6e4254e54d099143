"""The alarms: their thresholds (set per environment), and the catalogue of alarms the stacks create, which
the cost estimate counts (CloudWatch bills per alarm) and the stacks name their alarms from.

golive.monitoring.conditions computes the same conditions from traffic totals, for `golive monitor`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class MonitoringSettings(BaseModel):
    """Alarm thresholds: the `monitoring` block of infra/environments/<env>.json (infra/config/ reads it), what
    the monitoring and inference stacks set, and what `golive monitor` checks a local server against."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # a threshold of Infinity never fires

    # service health: one datapoint per period; an alarm fires when every one of evaluation_periods breaches
    period_minutes: Literal[1, 5, 15, 60] = 5
    evaluation_periods: int = Field(3, ge=1, le=12)
    api_5xx_rate: float = Field(0.01, gt=0, le=1)  # share of API Gateway requests answered 5XX
    api_latency_p99_ms: float = Field(3000, gt=0, le=29_000)
    lambda_errors: int = Field(5, ge=1)  # per period
    lambda_duration_p99_share: float = Field(0.8, gt=0, le=1)  # of the function's timeout
    # endpoint: these two also roll a blue/green deployment back (1-minute datapoints)
    endpoint_5xx_per_minute: int = Field(1, ge=1)
    endpoint_latency_p99_ms: float = Field(1000, gt=0, le=60_000)  # SageMaker's ModelLatency
    gpu_utilization_percent: float = Field(90, gt=0)  # summed over an instance's GPUs, as SageMaker reports it
    gpu_memory_percent: float = Field(90, gt=0)
    # model quality: from the API's own metrics, compared with the bundle's baseline (metrics.json)
    quality_period_minutes: Literal[60, 180, 360, 720, 1440] = 60
    min_online_accuracy: float = Field(0.8, ge=0, le=1)  # share of feedback that says the prediction was right
    min_feedback: int = Field(20, ge=1)  # ... counted only once a period holds this much feedback
    min_predictions: int = Field(100, ge=1)  # drift signals wait for this many predictions per period
    max_confidence_drop: float = Field(0.10, gt=0, lt=1)  # mean top-label probability below baseline minus this
    max_label_share_drift: float = Field(0.15, gt=0, le=1)  # total variation distance from the baseline shares
    max_input_length_drift: float = Field(0.5, gt=0)  # |mean characters / baseline - 1|
    confidence_anomaly_band: float = Field(2.0, gt=0, le=10)  # standard deviations of CloudWatch's band
    # scale_to_zero: a wake-up (WakeUpSeconds) longer than this many times endpoint.expected_warmup_seconds pages;
    # above 1 so that a normal wake-up, a little over the expectation, does not
    wake_up_too_slow_factor: float = Field(3.0, gt=1, le=20)


@dataclass(frozen=True)
class Alarm:
    """One alarm: its construct id in the stack that creates it, its name after `golive-<env>-`, and how many
    standard alarms CloudWatch bills it as (an anomaly-detection alarm evaluates three metrics)."""

    construct_id: str
    name: str
    billed_as: int = 1


# the API (monitoring stack): client-facing errors, throttles and latency, then capacity
LAMBDA_ERRORS = Alarm("LambdaErrors", "lambda-errors")
LAMBDA_THROTTLES = Alarm("LambdaThrottles", "lambda-throttles")
API_5XX_RATE = Alarm("Api5xxRate", "api-5xx-rate")
API_LATENCY = Alarm("ApiLatency", "api-latency")
LAMBDA_DURATION = Alarm("LambdaDuration", "lambda-duration")
FEEDBACK_THROTTLES = Alarm("FeedbackThrottles", "feedback-table-throttles")
# ... and, with api.capture_texts (the daily feedback export exists only then), the export failing (monitoring
# stack): unnoticed, the feedback it missed expires
FEEDBACK_EXPORT_ERRORS = Alarm("FeedbackExportErrors", "feedback-export-errors")
# model quality, from the API's own metrics (monitoring stack); the last three need the bundle's baseline
ONLINE_ACCURACY = Alarm("OnlineAccuracy", "online-accuracy")
CONFIDENCE_ANOMALY = Alarm("ConfidenceAnomaly", "confidence-anomaly", billed_as=3)
CONFIDENCE_DROP = Alarm("ConfidenceDrop", "confidence-drop")
LABEL_SHARE_DRIFT = Alarm("LabelShareDrift", "label-share-drift")
INPUT_LENGTH_DRIFT = Alarm("InputLengthDrift", "input-length-drift")
# training: what the EventBridge rules could not deliver (monitoring stack)
UNDELIVERED_ALERTS = Alarm("UndeliveredAlerts", "undelivered-alerts")
# ... and, with training.retrain on, the triggers the retraining function could not handle (monitoring stack)
UNDELIVERED_RETRAIN_TRIGGERS = Alarm("UndeliveredRetrainTriggers", "undelivered-retrain-triggers")
# the endpoint: the two that roll a blue/green deployment back (inference stack), then GPU capacity
# (monitoring stack), and the autoscaling maximum when the endpoint can scale
ENDPOINT_5XX = Alarm("Endpoint5xx", "endpoint-5xx-errors")
ENDPOINT_LATENCY = Alarm("EndpointLatency", "endpoint-model-latency")
GPU_UTILIZATION = Alarm("EndpointGpuUtilization", "endpoint-gpu-utilization")
GPU_MEMORY = Alarm("EndpointGpuMemory", "endpoint-gpu-memory")
AT_MAX_INSTANCES = Alarm("EndpointAtMaxInstances", "endpoint-at-max-instances")
# a scale_to_zero endpoint (inference stack): what scales it, not what pages anyone (no notification: waking up
# and going idle are normal): a call refused for lack of capacity wakes it; no call for the idle period empties it
WAKE_FROM_ZERO = Alarm("WakeFromZero", "endpoint-wake-from-zero")
IDLE = Alarm("ScaleInWhenIdle", "endpoint-idle")
# ... and when the API invokes it (monitoring stack): a wake-up the API measured took far longer than expected
WAKE_UP_TOO_SLOW = Alarm("EndpointWakeUpTooSlow", "endpoint-wake-up-too-slow")
# composite: any client-facing alarm of the API or the endpoint
SERVICE_DEGRADED = Alarm("ServiceDegraded", "service-degraded")

API_ALARMS = (
    LAMBDA_ERRORS,
    LAMBDA_THROTTLES,
    API_5XX_RATE,
    API_LATENCY,
    LAMBDA_DURATION,
    FEEDBACK_THROTTLES,
)
FEEDBACK_EXPORT_ALARMS = (FEEDBACK_EXPORT_ERRORS,)
QUALITY_ALARMS = (ONLINE_ACCURACY, CONFIDENCE_ANOMALY, CONFIDENCE_DROP, LABEL_SHARE_DRIFT, INPUT_LENGTH_DRIFT)
TRAINING_ALARMS = (UNDELIVERED_ALERTS,)
RETRAIN_TRIGGER_ALARMS = (UNDELIVERED_RETRAIN_TRIGGERS,)
# with training.retrain.on_alarms, these going to ALARM start the training pipeline (the retraining trigger)
RETRAIN_ON = (ONLINE_ACCURACY, LABEL_SHARE_DRIFT)
ROLLBACK_ALARMS = (ENDPOINT_5XX, ENDPOINT_LATENCY)
ENDPOINT_ALARMS = (*ROLLBACK_ALARMS, GPU_UTILIZATION, GPU_MEMORY)
SCALING_ALARMS = (AT_MAX_INSTANCES,)
SCALE_TO_ZERO_ALARMS = (WAKE_FROM_ZERO, IDLE)
WAKE_UP_ALARMS = (WAKE_UP_TOO_SLOW,)
COMPOSITE_ALARMS = (SERVICE_DEGRADED,)
