"""`golive monitor`: the monitoring conditions for a running `golive serve`, read from its `/metrics`.

The server's Prometheus counters are running totals, so one read covers the time since it started; with
`--watch N` every report covers the last N seconds, the way a CloudWatch period does.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

from golive.bundle.metrics import Baseline
from golive.contracts import telemetry as names
from golive.errors import UserError
from golive.monitoring.conditions import ALARM, Condition, Window, evaluate

if TYPE_CHECKING:
    from golive.contracts.alarms import MonitoringSettings

T = TypeVar("T")


class NotGoliveMetrics(UserError):
    """Text at /metrics that is not what `golive serve` writes; the message says what, and on which line."""


def read_metrics(url: str, timeout_s: float = 5.0) -> tuple[Window, Baseline | None]:
    """The window and baseline at `url`'s /metrics; anything else there (an HTML page, another exporter, a
    garbled body) is one clear error naming the address, never a parser's traceback."""
    address = url.rstrip("/") + "/metrics"
    try:
        return parse(decode(scrape(url, timeout_s)))
    except NotGoliveMetrics as exc:
        raise UserError(
            f"{address} is not Prometheus text golive serve writes ({exc}): is this a `golive serve` server?"
        ) from None


def scrape(url: str, timeout_s: float = 5.0) -> bytes:
    metrics_url = url.rstrip("/") + "/metrics"
    if not metrics_url.startswith(("http://", "https://")):
        raise UserError(f"{url!r} is not an http(s) URL; pass the server's address, e.g. http://127.0.0.1:8000")
    try:
        with urllib.request.urlopen(metrics_url, timeout=timeout_s) as response:
            body: bytes = response.read()
            return body
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
    except (ValueError, http.client.InvalidURL) as exc:  # `http://[::1`, a port that is not a number, a space
        raise UserError(
            f"{url!r} is not a usable URL ({exc}); pass the server's address, e.g. http://127.0.0.1:8000"
        ) from None
    except http.client.HTTPException as exc:  # something listens there, but does not speak HTTP
        raise UserError(
            f"{metrics_url} did not answer HTTP ({type(exc).__name__}: {exc}): is this a `golive serve` server?"
        ) from None


def decode(body: bytes) -> str:
    """`golive serve` writes UTF-8 (Prometheus' text format is UTF-8)."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        raise NotGoliveMetrics(f"not UTF-8: byte 0x{body[exc.start]:02x}, line {line}") from None


def parse(text: str) -> tuple[Window, Baseline | None]:
    """A window of running totals, and the served bundle's baseline, from Prometheus text; NotGoliveMetrics
    for text that is not Prometheus' format, or golive's families without the labels golive gives them."""
    w, shares, confidence, chars = Window(), {}, None, None
    predict_requests = 0.0
    for number, line, (name, labels, value) in _samples(text):
        try:
            if name == f"{names.PROM_PREDICTIONS}_total":
                w.predictions[_label(labels, "label")] = value
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
                if _number_label(labels, "status", int) >= 500:
                    w.server_errors += value
            elif name == f"{names.PROM_LATENCY}_bucket":
                w.latency_buckets[_number_label(labels, "le", float)] = value
            elif name == f"{names.PROM_LATENCY}_count":
                predict_requests = value
            elif name == names.PROM_BASELINE_LABEL_SHARE:
                shares[_label(labels, "label")] = value
            elif name == names.PROM_BASELINE_MEAN_CONFIDENCE:
                confidence = value
            elif name == names.PROM_BASELINE_MEAN_INPUT_CHARS:
                chars = value
        except NotGoliveMetrics as exc:
            raise NotGoliveMetrics(f"{name} {exc}, line {number}: {_shown(line)}") from None
    if not w.latency_buckets and not shares:
        raise NotGoliveMetrics("it holds no golive metrics")
    w.requests += predict_requests
    # an unset gauge reads 0: a bundle that recorded no mean input length
    baseline = Baseline(shares, confidence, chars or None) if shares and confidence is not None else None
    return w, baseline


def _samples(text: str) -> Iterator[tuple[int, str, tuple[str, dict[str, str], float]]]:
    """(line number, line, sample) for each sample, each line read by prometheus_client's own parser. One line
    at a time, so an error names its line: the parser's own messages often do not (a bad `# TYPE` has none)."""
    from prometheus_client.parser import text_string_to_metric_families

    for number, line in enumerate(text.split("\n"), start=1):  # as the parser splits: \n only
        try:
            samples = [s for family in text_string_to_metric_families(line) for s in family.samples]
        except ValueError as exc:  # the parser's one error type, for every kind of malformed line
            detail = f"{exc}".strip()
            what = f"{detail.split(':', 1)[0]}" if detail else "not a Prometheus sample or comment"
            raise NotGoliveMetrics(f"{what}, line {number}: {_shown(line)}") from None
        for sample in samples:
            yield number, line, (sample.name, sample.labels, sample.value)


def _label(labels: dict[str, str], key: str) -> str:
    if key not in labels:
        raise NotGoliveMetrics(f"has no {key!r} label")
    return labels[key]


def _number_label(labels: dict[str, str], key: str, kind: Callable[[str], T]) -> T:
    try:
        return kind(_label(labels, key))
    except ValueError:
        raise NotGoliveMetrics(f"has a {key!r} label that is not a number ({labels[key]!r})") from None


def _shown(line: str, limit: int = 80) -> str:
    """A line as quoted in an error: repr, so control characters show, and cut short."""
    return repr(line if len(line) <= limit else line[:limit] + "...")


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
    window, baseline = read_metrics(url)
    if not watch_s:
        conditions = evaluate(window, baseline, settings)
        out(render(conditions, window, f"{url} since the server started", fmt))
        return int(any(c.state == ALARM for c in conditions))
    conditions = []
    done = 0
    try:
        while count is None or done < count:
            sleep(watch_s)
            latest, baseline = read_metrics(url)
            delta = latest.minus(window)
            window = latest
            conditions = evaluate(delta, baseline, settings)
            out(render(conditions, delta, f"{url}, last {watch_s:g} s", fmt))
            done += 1
    except KeyboardInterrupt:
        pass
    return int(any(c.state == ALARM for c in conditions))
