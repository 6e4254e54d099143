"""The API's metrics by name: what functions/api/telemetry.py records, what the monitoring stack's alarms and
dashboard read (CloudWatch), what `golive monitor` reads from `golive serve`'s /metrics (Prometheus) and
what the cost estimate counts (CloudWatch bills custom metrics per name and dimension set)."""

from __future__ import annotations

NAMESPACE = "golive"
SERVICE = "golive-api"  # the `service` dimension of every metric, and Powertools' service name in the Lambda

# CloudWatch, from the Lambda's EMF lines; every metric carries the `service` and `environment` dimensions
LATENCY = "PredictLatency"
BATCH_SIZE = "BatchSize"
PREDICTIONS = "Predictions"
PREDICTED_LABEL = "PredictedLabel"  # with dimension `label`: one metric per label
CONFIDENCE = "Confidence"  # top-label probability, in percent on CloudWatch (0-100), 0-1 in Prometheus
INPUT_CHARS = "InputChars"
FEEDBACK = "Feedback"
FEEDBACK_CORRECT = "FeedbackCorrect"
CLIENT_ERRORS = "ClientErrors"
BACKEND_ERRORS = "BackendErrors"
# 503s answered while the model endpoint wakes from zero (functions/api/warmup.py); not in BackendErrors, so a normal
# wake-up does not read as a failure. What wakes the endpoint is SageMaker's own NoCapacityInvocationFailures.
MODEL_WAKING_UP = "ModelWakingUp"
# seconds from the first 503 while waking to the first answer after it, as one API instance saw it: one datapoint per
# wake-up that instance measured (functions/api/warmup.py); the "wake-up too slow" alarm reads its Maximum
WAKE_UP_SECONDS = "WakeUpSeconds"
# one custom metric each per environment (PredictedLabel adds one per label)
CLOUDWATCH_METRICS = (
    LATENCY,
    BATCH_SIZE,
    PREDICTIONS,
    CONFIDENCE,
    INPUT_CHARS,
    FEEDBACK,
    FEEDBACK_CORRECT,
    CLIENT_ERRORS,
    BACKEND_ERRORS,
    MODEL_WAKING_UP,
    WAKE_UP_SECONDS,
)

# Prometheus, for `golive serve`: family names. A counter is exposed as NAME_total, a histogram as NAME_bucket,
# NAME_sum and NAME_count (prometheus_client's exposition).
PROM_LATENCY = "golive_predict_latency_seconds"  # histogram, seconds per /v1/predict request
PROM_BATCH_SIZE = "golive_batch_size"  # histogram, texts per request
PROM_PREDICTIONS = "golive_predictions"  # counter, label `label`
PROM_CONFIDENCE = "golive_confidence"  # histogram, top-label probability 0-1
PROM_INPUT_CHARS = "golive_input_chars"  # histogram, characters per text
PROM_FEEDBACK = "golive_feedback"  # counter, label `correct` ("true"/"false")
PROM_ERRORS = "golive_errors"  # counter, label `status`
PROM_MODEL_WAKING_UP = "golive_model_waking_up"  # counter: 503s while the model endpoint wakes up
PROM_WAKE_UP_SECONDS = (
    "golive_wake_up_seconds"  # histogram, seconds from the first 503 while waking to the first answer
)
# gauges: the served bundle's baseline, so `golive monitor` needs nothing but the server's URL
PROM_BASELINE_LABEL_SHARE = "golive_baseline_label_share"  # label `label`
PROM_BASELINE_MEAN_CONFIDENCE = "golive_baseline_mean_confidence"
PROM_BASELINE_MEAN_INPUT_CHARS = "golive_baseline_mean_input_chars"
