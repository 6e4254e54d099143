"""`golive monitor`: the monitoring conditions for a running `golive serve`, read from its `/metrics`.

The server's Prometheus counters are running totals, so one read covers the time since it started; with
`--watch N` every report covers the last N seconds, the way a CloudWatch period does.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING

from golive.bundle.metrics import Baseline
from golive.contracts import telemetry as names
from golive.errors import UserError
from golive.monitoring.conditions import ALARM, Condition, Window, evaluate

if TYPE_CHECKING:
    from golive.contracts.alarms import MonitoringSettings


def scrape(url: str, timeout_s: float = 5.0) -> str:
    metrics_url = url.rstrip("/") + "/metrics"
    if not metrics_url.startswith(("http://", "https://")):
        raise UserError(f"{url!r} is not an http(s) URL; pass the server's address, e.g. http://127.0.0.1:8000")
    try:
        with urllib.request.urlopen(metrics_url, timeout=timeout_s) as response:
            body: bytes = response.read()
            return body.decode()
    except urllib.error.HTTPError as exc:
        raise UserError(
            f"{metrics_url} answered {exc.code}: is this a `golive serve` server? (the Lambda has no "
            "/metrics; in AWS the CloudWatch alarms watch the same conditions)"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(
            f"cannot read {metrics_url}: {reason}; start the server with `golive serve` and check the port"
        ) from None


def parse(text: str) -> tuple[Window, Baseline | None]:
    """A window of running totals, and the served bundle's baseline, from Prometheus text."""
    from prometheus_client.parser import text_string_to_metric_families

    w, shares, confidence, chars = Window(), {}, None, None
    predict_requests = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name == f"{names.PROM_PREDICTIONS}_total":
                w.predictions[labels["label"]] = value
            elif name == f"{names.PROM_CONFIDENCE}_sum":
                w.confidence_sum = value
            elif name == f"{names.PROM_INPUT_CHARS}_sum":
                w.input_chars_sum = value
            elif name == f"{names.PROM_FEEDBACK}_total":
                w.feedback += value
                if labels.get("correct") == "true":
                    w.feedback_correct += value
            elif name == f"{names.PROM_ERRORS}_total":
                w.requests += value
                if int(labels["status"]) >= 500:
                    w.server_errors += value
            elif name == f"{names.PROM_LATENCY}_bucket":
                w.latency_buckets[float(labels["le"])] = value
            elif name == f"{names.PROM_LATENCY}_count":
                predict_requests = value
            elif name == names.PROM_BASELINE_LABEL_SHARE:
                shares[labels["label"]] = value
            elif name == names.PROM_BASELINE_MEAN_CONFIDENCE:
                confidence = value
            elif name == names.PROM_BASELINE_MEAN_INPUT_CHARS:
                chars = value
    if not w.latency_buckets and not shares:
        raise UserError("the server's /metrics holds no golive metrics: is it a `golive serve` server?")
    w.requests += predict_requests
    # an unset gauge reads 0: a bundle that recorded no mean input length
    baseline = Baseline(shares, confidence, chars or None) if shares and confidence is not None else None
    return w, baseline


def render(conditions: list[Condition], window: Window, heading: str, fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps(
            {
                "window": heading,
                "predictions": window.prediction_count,
                "feedback": window.feedback,
                "conditions": [c.as_dict() for c in conditions],
            },
            indent=2,
        )
    rows = [("condition", "state", "value", "threshold", "fires when")]
    for c in conditions:
        value = "-" if c.value is None else f"{c.value:.4g}"
        rows.append((c.name, c.state, value, f"{c.threshold:.4g}", c.rule))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"{heading}: {window.prediction_count:.0f} predictions, {window.feedback:.0f} feedback"]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths)) + "  " + row[4] for row in rows]
    return "\n".join(lines)


def monitor(
    url: str,
    settings: MonitoringSettings,
    watch_s: float | None = None,
    count: int | None = None,
    fmt: str = "table",
    out: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Report once (or every `watch_s` seconds, `count` times or until Ctrl-C); 1 if the last report has an alarm."""
    window, baseline = parse(scrape(url))
    if not watch_s:
        conditions = evaluate(window, baseline, settings)
        out(render(conditions, window, f"{url} since the server started", fmt))
        return int(any(c.state == ALARM for c in conditions))
    conditions = []
    done = 0
    try:
        while count is None or done < count:
            sleep(watch_s)
            latest, baseline = parse(scrape(url))
            delta = latest.minus(window)
            window = latest
            conditions = evaluate(delta, baseline, settings)
            out(render(conditions, delta, f"{url}, last {watch_s:g} s", fmt))
            done += 1
    except KeyboardInterrupt:
        pass
    return int(any(c.state == ALARM for c in conditions))
