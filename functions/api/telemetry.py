"""What the API records about its traffic, for monitoring and finance.

Two sinks with one interface: CloudWatch EMF lines through Powertools on Lambda (no PutMetricData on
the hot path: the log line is the metric), and Prometheus counters/histograms for `golive serve`.
The metric names are the contract with the monitoring stack and `golive monitor`: golive/contracts/telemetry.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from golive.contracts.telemetry import (
    BACKEND_ERRORS,
    BATCH_SIZE,
    CLIENT_ERRORS,
    CONFIDENCE,
    FEEDBACK,
    FEEDBACK_CORRECT,
    INPUT_CHARS,
    LATENCY,
    MODEL_WAKING_UP,
    NAMESPACE,
    PREDICTED_LABEL,
    PREDICTIONS,
    PROM_BASELINE_LABEL_SHARE,
    PROM_BASELINE_MEAN_CONFIDENCE,
    PROM_BASELINE_MEAN_INPUT_CHARS,
    PROM_BATCH_SIZE,
    PROM_CONFIDENCE,
    PROM_ERRORS,
    PROM_FEEDBACK,
    PROM_INPUT_CHARS,
    PROM_LATENCY,
    PROM_MODEL_WAKING_UP,
    PROM_PREDICTIONS,
    PROM_WAKE_UP_SECONDS,
    SERVICE,
    WAKE_UP_SECONDS,
)


class Telemetry(Protocol):
    def record_prediction(
        self, latency_ms: float, labels: Sequence[str], confidences: Sequence[float], input_chars: Sequence[int]
    ) -> None: ...

    def record_feedback(self, correct: bool) -> None: ...

    def record_error(self, status: int) -> None: ...

    def record_model_waking_up(self) -> None: ...

    def record_wake_up(self, seconds: float) -> None: ...


class EmfTelemetry:
    """Powertools Metrics: values collect during an invocation and flush as one EMF log line.

    Every metric carries the `service` and `environment` dimensions the monitoring stack's alarms name,
    so dev and prod traffic in one account never mix.
    """

    def __init__(self, metrics=None, environment: str = "local"):
        from aws_lambda_powertools import Metrics

        self.metrics = metrics or Metrics(namespace=NAMESPACE, service=SERVICE)
        if self.metrics.default_dimensions.get("environment") != environment:  # Powertools shares it per process
            self.metrics.set_default_dimensions(environment=environment)

    def record_prediction(self, latency_ms, labels, confidences, input_chars) -> None:
        from aws_lambda_powertools.metrics import MetricUnit, single_metric

        m = self.metrics
        m.add_metric(name=LATENCY, unit=MetricUnit.Milliseconds, value=latency_ms)
        m.add_metric(name=BATCH_SIZE, unit=MetricUnit.Count, value=len(labels))
        m.add_metric(name=PREDICTIONS, unit=MetricUnit.Count, value=len(labels))
        for confidence, chars in zip(confidences, input_chars):
            m.add_metric(name=CONFIDENCE, unit=MetricUnit.Percent, value=100 * confidence)
            m.add_metric(name=INPUT_CHARS, unit=MetricUnit.Count, value=chars)
        for label in sorted(set(labels)):
            with single_metric(
                name=PREDICTED_LABEL,
                unit=MetricUnit.Count,
                value=labels.count(label),
                namespace=NAMESPACE,
                default_dimensions={"service": SERVICE, **m.default_dimensions},
            ) as metric:
                metric.add_dimension(name="label", value=label)

    def record_feedback(self, correct: bool) -> None:
        from aws_lambda_powertools.metrics import MetricUnit

        self.metrics.add_metric(name=FEEDBACK, unit=MetricUnit.Count, value=1)
        self.metrics.add_metric(name=FEEDBACK_CORRECT, unit=MetricUnit.Count, value=int(correct))

    def record_error(self, status: int) -> None:
        from aws_lambda_powertools.metrics import MetricUnit

        name = CLIENT_ERRORS if status < 500 else BACKEND_ERRORS
        self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)

    def record_model_waking_up(self) -> None:
        from aws_lambda_powertools.metrics import MetricUnit

        self.metrics.add_metric(name=MODEL_WAKING_UP, unit=MetricUnit.Count, value=1)

    def record_wake_up(self, seconds: float) -> None:
        from aws_lambda_powertools.metrics import MetricUnit

        self.metrics.add_metric(name=WAKE_UP_SECONDS, unit=MetricUnit.Seconds, value=seconds)


class PrometheusTelemetry:
    """Counters and histograms served at `/metrics` by `golive serve` (one registry per app)."""

    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        r = self.registry
        self.latency = Histogram(
            PROM_LATENCY,
            "time to answer /v1/predict",
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.batch = Histogram(PROM_BATCH_SIZE, "texts per request", registry=r, buckets=(1, 2, 4, 8, 16, 32, 64, 128))
        self.predictions = Counter(PROM_PREDICTIONS, "predictions by label", ["label"], registry=r)
        self.confidence = Histogram(
            PROM_CONFIDENCE, "top-label probability", registry=r, buckets=(0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
        )
        self.input_chars = Histogram(
            PROM_INPUT_CHARS, "characters per text", registry=r, buckets=(16, 32, 64, 128, 256, 512, 1024, 2048, 5000)
        )
        self.feedback = Counter(
            PROM_FEEDBACK, "feedback received, by whether the prediction was right", ["correct"], registry=r
        )
        self.errors = Counter(PROM_ERRORS, "error responses by status", ["status"], registry=r)
        self.waking_up = Counter(PROM_MODEL_WAKING_UP, "503s answered while the model endpoint wakes up", registry=r)
        self.wake_up = Histogram(
            PROM_WAKE_UP_SECONDS,
            "seconds from the first 503 while waking to the first answer",
            registry=r,
            buckets=(15, 30, 60, 120, 180, 300, 450, 600, 900, 1800, 3600),
        )
        # the served bundle's baseline, so `golive monitor` needs nothing but the URL
        self.baseline_share = Gauge(
            PROM_BASELINE_LABEL_SHARE, "predicted-label share on the validation set", ["label"], registry=r
        )
        self.baseline_confidence = Gauge(
            PROM_BASELINE_MEAN_CONFIDENCE, "mean top-label probability on the validation set", registry=r
        )
        self.baseline_chars = Gauge(PROM_BASELINE_MEAN_INPUT_CHARS, "mean characters per validation text", registry=r)

    def set_baseline(self, baseline) -> None:
        """Export a `golive.bundle.Baseline` (None: the bundle has none, and no gauge is set)."""
        if baseline is None:
            return
        for label, share in baseline.label_share.items():
            self.baseline_share.labels(label=label).set(share)
        self.baseline_confidence.set(baseline.mean_confidence)
        if baseline.mean_input_chars:
            self.baseline_chars.set(baseline.mean_input_chars)

    def record_prediction(self, latency_ms, labels, confidences, input_chars) -> None:
        self.latency.observe(latency_ms / 1000)
        self.batch.observe(len(labels))
        for label, confidence, chars in zip(labels, confidences, input_chars):
            self.predictions.labels(label=label).inc()
            self.confidence.observe(confidence)
            self.input_chars.observe(chars)

    def record_feedback(self, correct: bool) -> None:
        self.feedback.labels(correct=str(correct).lower()).inc()

    def record_error(self, status: int) -> None:
        self.errors.labels(status=str(status)).inc()

    def record_model_waking_up(self) -> None:
        self.waking_up.inc()

    def record_wake_up(self, seconds: float) -> None:
        self.wake_up.observe(seconds)
