"""The monitoring conditions, computed from traffic totals: what the CloudWatch alarms check in AWS,
checked here for a local server (`golive monitor`) and by the tests.

A window is the totals of one stretch of traffic (a CloudWatch period, or the time between two scrapes
of `/metrics`). Model-quality signals compare a window with the bundle's baseline (`metrics.json`, written
by training from the validation set; golive.bundle.metrics.Baseline): the share of each predicted label, the
mean top-label confidence and the mean input length. Their formulas are the ones the monitoring stack writes as
CloudWatch metric math, so a drift reads the same locally and in AWS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from golive.bundle.metrics import Baseline

if TYPE_CHECKING:
    from golive.contracts.alarms import MonitoringSettings

__all__ = [
    "ALARM",
    "NO_DATA",
    "OK",
    "Baseline",
    "Condition",
    "Window",
    "error_rate",
    "evaluate",
    "input_length_drift",
    "label_share_drift",
    "latency_quantile_ms",
    "mean_confidence",
    "online_accuracy",
]  # Baseline: re-exported

OK, ALARM, NO_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"


@dataclass
class Window:
    """Traffic totals over one window; every field adds up across requests, so windows subtract."""

    predictions: dict[str, float] = field(default_factory=dict)  # by predicted label
    confidence_sum: float = 0.0  # top-label probabilities, 0-1
    input_chars_sum: float = 0.0
    feedback: float = 0.0
    feedback_correct: float = 0.0
    requests: float = 0.0  # prediction requests answered, plus errors
    server_errors: float = 0.0  # 5XX answers
    latency_buckets: dict[float, float] = field(default_factory=dict)  # upper bound (s) -> requests at or below

    @property
    def prediction_count(self) -> float:
        return sum(self.predictions.values())

    def minus(self, earlier: Window) -> Window:
        """What happened between `earlier` and this window (both running totals since the server started)."""
        return Window(
            predictions={k: v - earlier.predictions.get(k, 0.0) for k, v in self.predictions.items()},
            confidence_sum=self.confidence_sum - earlier.confidence_sum,
            input_chars_sum=self.input_chars_sum - earlier.input_chars_sum,
            feedback=self.feedback - earlier.feedback,
            feedback_correct=self.feedback_correct - earlier.feedback_correct,
            requests=self.requests - earlier.requests,
            server_errors=self.server_errors - earlier.server_errors,
            latency_buckets={k: v - earlier.latency_buckets.get(k, 0.0) for k, v in self.latency_buckets.items()},
        )


# --- signals (None: not enough traffic in the window to say) ---------------------------------------------------


def online_accuracy(w: Window, min_feedback: int) -> float | None:
    return w.feedback_correct / w.feedback if w.feedback >= min_feedback else None


def mean_confidence(w: Window, min_predictions: int) -> float | None:
    n = w.prediction_count
    return w.confidence_sum / n if n >= min_predictions else None


def label_share_drift(w: Window, baseline: Baseline, min_predictions: int) -> float | None:
    """Total variation distance between live and baseline predicted-label shares (0: same, 1: disjoint)."""
    n = w.prediction_count
    if n < min_predictions:
        return None
    labels = set(baseline.label_share) | set(w.predictions)
    return 0.5 * sum(abs(w.predictions.get(label, 0.0) / n - baseline.label_share.get(label, 0.0)) for label in labels)


def input_length_drift(w: Window, baseline: Baseline, min_predictions: int) -> float | None:
    """How far the mean input length is from the baseline's, as a share of it (0.5: half as long again or less)."""
    n = w.prediction_count
    if n < min_predictions or not baseline.mean_input_chars:
        return None
    return abs(w.input_chars_sum / n / baseline.mean_input_chars - 1)


def error_rate(w: Window) -> float | None:
    return w.server_errors / w.requests if w.requests else None


def latency_quantile_ms(w: Window, q: float = 0.99) -> float | None:
    """The histogram bucket bound that `q` of the requests stayed within (an upper estimate, as Prometheus gives)."""
    buckets = sorted(w.latency_buckets.items())
    total = buckets[-1][1] if buckets else 0.0
    if not total:
        return None
    for bound, count in buckets:
        if count >= q * total:
            return bound * 1000
    return math.inf


# --- conditions -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    name: str
    state: str
    value: float | None
    threshold: float
    rule: str  # how value and threshold compare for the alarm to fire, in words

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "value": self.value,
            "threshold": self.threshold,
            "rule": self.rule,
        }


def _check(name: str, value: float | None, threshold: float, fires_above: bool, rule: str) -> Condition:
    if value is None:
        return Condition(name, NO_DATA, None, threshold, rule)
    firing = value > threshold if fires_above else value < threshold
    return Condition(name, ALARM if firing else OK, value, threshold, rule)


def evaluate(w: Window, baseline: Baseline | None, s: MonitoringSettings) -> list[Condition]:
    """Every condition for one window, in the order `golive monitor` prints them."""
    conditions = [
        _check("p99 latency (ms)", latency_quantile_ms(w), s.api_latency_p99_ms, True, "above threshold"),
        _check("5XX error rate", error_rate(w), s.api_5xx_rate, True, "above threshold"),
        _check(
            "online accuracy",
            online_accuracy(w, s.min_feedback),
            s.min_online_accuracy,
            False,
            f"below threshold (needs {s.min_feedback} feedback)",
        ),
    ]
    if baseline is None:
        return conditions + [
            Condition(name, NO_DATA, None, 0.0, "the bundle has no baseline: retrain to record one")
            for name in ("mean confidence", "label share drift", "input length drift")
        ]
    confidence_floor = baseline.mean_confidence - s.max_confidence_drop
    return conditions + [
        _check(
            "mean confidence",
            mean_confidence(w, s.min_predictions),
            confidence_floor,
            False,
            f"below baseline {baseline.mean_confidence:.3f} - {s.max_confidence_drop}",
        ),
        _check(
            "label share drift",
            label_share_drift(w, baseline, s.min_predictions),
            s.max_label_share_drift,
            True,
            "total variation distance from the baseline shares above threshold",
        ),
        _check(
            "input length drift",
            input_length_drift(w, baseline, s.min_predictions),
            s.max_input_length_drift,
            True,
            f"|mean chars / baseline {baseline.mean_input_chars:.0f} - 1| above threshold"
            if baseline.mean_input_chars
            else "the bundle records no mean input length: retrain to record one",
        ),
    ]
