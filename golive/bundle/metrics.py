"""The bundle's `metrics.json`, typed: what training measured, and the baseline monitoring compares traffic with.

Training writes a `BundleMetrics` (`to_json`); everything else reads one with `read_metrics`: the API (`/v1/model`,
`golive serve`'s baseline gauges), the CloudWatch alarms (infra) and the local monitor. A malformed file is
refused with the field named. Stdlib only, like the rest of the bundle package (the Lambda imports it); the
records are NamedTuples, not dataclasses: under Python 3.13 each frozen dataclass costs about 1 ms to build at
import, and this module is on every Lambda cold start.
"""

# no `from __future__ import annotations`: NamedTuple would compile each field's annotation string at import
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from golive.bundle.format import METRICS
from golive.bundle.format import shown as _show
from golive.errors import UserError
from golive.json_text import parse_json


class MetricsError(UserError):
    """A metrics.json that does not have the shape below; the message names the field."""


EMPTY: Mapping[str, Any] = MappingProxyType({})


class Baseline(NamedTuple):
    """The served variant's figures on the validation set: what monitoring compares live traffic with (the share
    of each predicted label, the mean top-label confidence, the mean input length), and, for people, which
    variant they are of and the true labels' shares."""

    label_share: dict[str, float]  # stored as `predicted_label_distribution`
    mean_confidence: float
    mean_input_chars: float | None = None  # absent from bundles trained before it was recorded
    variant: str | None = None
    label_distribution: dict[str, float] | None = None

    def monitored(self) -> "Baseline":
        """Only what monitoring compares (what `golive monitor` can read back from a server's gauges)."""
        return Baseline(self.label_share, self.mean_confidence, self.mean_input_chars)

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "label_distribution": self.label_distribution,
            "predicted_label_distribution": self.label_share,
            "mean_confidence": self.mean_confidence,
            "mean_input_chars": self.mean_input_chars,
        }

    @classmethod
    def from_dict(cls, raw: Any, where: str = "baseline") -> "Baseline":
        raw = _mapping(raw, where)
        return cls(
            label_share=_shares(
                _required(raw, "predicted_label_distribution", where), f"{where}.predicted_label_distribution"
            ),
            mean_confidence=_number(_required(raw, "mean_confidence", where), f"{where}.mean_confidence"),
            mean_input_chars=_optional(raw, "mean_input_chars", where, _number),
            variant=_optional(raw, "variant", where, _string),
            label_distribution=_optional(raw, "label_distribution", where, _shares),
        )


class DataSummary(NamedTuple):
    train_rows: int
    validation_rows: int
    validation_source: str  # "file" or how it was split off the training data
    train_label_counts: dict[str, int]
    validation_label_counts: dict[str, int]
    skipped_rows: dict[str, int]  # invalid rows left out, by reason
    # what --feedback-data gave (training/feedback.py): source, rows, trained_on, held_out, left_out by reason
    feedback: dict[str, Any] | None = None
    # rows trained on as they are, counted (training/data.py CHECKS): duplicate_rows, conflicting_texts,
    # validation_rows_in_training; absent in older bundles
    row_checks: dict[str, int] = {}

    @classmethod
    def from_dict(cls, raw: Any, where: str = "data") -> "DataSummary":
        raw = _mapping(raw, where)
        return cls(
            train_rows=_integer(_required(raw, "train_rows", where), f"{where}.train_rows"),
            validation_rows=_integer(_required(raw, "validation_rows", where), f"{where}.validation_rows"),
            validation_source=_string(_required(raw, "validation_source", where), f"{where}.validation_source"),
            train_label_counts=_counts(raw.get("train_label_counts", {}), f"{where}.train_label_counts"),
            validation_label_counts=_counts(raw.get("validation_label_counts", {}), f"{where}.validation_label_counts"),
            skipped_rows=_counts(raw.get("skipped_rows", {}), f"{where}.skipped_rows"),
            feedback=_optional(raw, "feedback", where, _mapping),
            row_checks=_counts(raw.get("row_checks", {}), f"{where}.row_checks"),
        )


class TrainingSummary(NamedTuple):
    global_step: int
    train_examples_per_second: float
    train_seconds: float
    train_rows: int

    @classmethod
    def from_dict(cls, raw: Any, where: str = "training") -> "TrainingSummary":
        raw = _mapping(raw, where)
        return cls(
            global_step=_integer(_required(raw, "global_step", where), f"{where}.global_step"),
            train_examples_per_second=_number(
                _required(raw, "train_examples_per_second", where), f"{where}.train_examples_per_second"
            ),
            train_seconds=_number(_required(raw, "train_seconds", where), f"{where}.train_seconds"),
            train_rows=_integer(_required(raw, "train_rows", where), f"{where}.train_rows"),
        )


class BundleMetrics(NamedTuple):
    """Every section may be absent (a hand-made bundle, an older one): readers get None or an empty mapping."""

    # model variant -> golive.classification_metrics.classification_report (accuracy, macro_f1, per_class, ...)
    validation: Mapping[str, dict[str, Any]] = EMPTY
    torch_validation: Mapping[str, Any] = EMPTY  # the same report for the torch model
    parity: Mapping[str, Any] = EMPTY  # torch vs ONNX logits, fp32 vs int8 labels
    baseline: Baseline | None = None
    data: DataSummary | None = None
    training: TrainingSummary | None = None
    onnx: Mapping[str, Any] = EMPTY  # opset, graph optimisation
    distillation: Mapping[str, Any] = EMPTY  # a distilled student's teacher-vs-student figures (training/distill.py)
    # the new model and the serving one on the same held-out rows (training/comparison.py): rows, sources,
    # challenger and champion (accuracy, macro_f1, variant, version_id) and accuracy_gain; None where not compared
    comparison: Mapping[str, Any] = EMPTY

    def to_dict(self) -> dict[str, Any]:
        return {
            "validation": dict(self.validation),
            "torch_validation": dict(self.torch_validation),
            "parity": dict(self.parity),
            "baseline": self.baseline.to_dict() if self.baseline else None,
            "data": self.data._asdict() if self.data else None,
            "training": self.training._asdict() if self.training else None,
            "onnx": dict(self.onnx),
            **({"distillation": dict(self.distillation)} if self.distillation else {}),
            **({"comparison": dict(self.comparison)} if self.comparison else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, raw: Any) -> "BundleMetrics":
        raw = _mapping(raw, "(top level)")
        validation = _mapping(raw.get("validation") or {}, "validation")
        for variant, report in validation.items():
            for name in ("accuracy", "macro_f1"):
                _number(
                    _required(_mapping(report, f"validation.{variant}"), name, f"validation.{variant}"),
                    f"validation.{variant}.{name}",
                )
        return cls(
            validation=dict(validation),
            torch_validation=dict(_mapping(raw.get("torch_validation") or {}, "torch_validation")),
            parity=dict(_mapping(raw.get("parity") or {}, "parity")),
            # an empty baseline is how bundles without one were written
            baseline=Baseline.from_dict(raw["baseline"]) if raw.get("baseline") else None,
            data=DataSummary.from_dict(raw["data"]) if raw.get("data") is not None else None,
            training=TrainingSummary.from_dict(raw["training"]) if raw.get("training") is not None else None,
            onnx=dict(_mapping(raw.get("onnx") or {}, "onnx")),
            distillation=dict(_mapping(raw.get("distillation") or {}, "distillation")),
            comparison=_comparison(raw.get("comparison") or {}),
        )


def read_metrics(bundle_dir: Path) -> BundleMetrics:
    """The bundle's metrics.json; MetricsError naming the file and the field when it is not the shape above."""
    path = Path(bundle_dir) / METRICS
    try:
        raw = parse_json(path.read_text())
    except FileNotFoundError:
        raise MetricsError(f"model bundle {bundle_dir} has no {METRICS}; rebuild it with `golive train`") from None
    except ValueError as exc:
        raise MetricsError(f"{path} is not valid JSON: {exc}") from None
    try:
        return BundleMetrics.from_dict(raw)
    except MetricsError as exc:
        raise MetricsError(f"{path}: {exc}; rebuild the bundle with `golive train`") from None


# --- checks: each names the field it refuses ---------------------------------------------------------------------


def _comparison(raw: Any) -> dict[str, Any]:
    comparison = _mapping(raw, "comparison")
    if comparison:
        _integer(_required(comparison, "rows", "comparison"), "comparison.rows")
        challenger = _mapping(_required(comparison, "challenger", "comparison"), "comparison.challenger")
        _number(_required(challenger, "accuracy", "comparison.challenger"), "comparison.challenger.accuracy")
        _optional(comparison, "accuracy_gain", "comparison", _number)
    return dict(comparison)


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MetricsError(f"{where} must be an object, got {_show(value)}")
    return value


def _required(raw: dict[str, Any], key: str, where: str) -> Any:
    if key not in raw:
        raise MetricsError(f"{where}.{key} is missing")
    return raw[key]


def _optional(raw: dict[str, Any], key: str, where: str, check: Callable[[Any, str], Any]) -> Any:
    return None if raw.get(key) is None else check(raw[key], f"{where}.{key}")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MetricsError(f"{where} must be a number, got {_show(value)}")
    return float(value)


def _integer(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MetricsError(f"{where} must be a whole number, got {_show(value)}")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise MetricsError(f"{where} must be a string, got {_show(value)}")
    return value


def _shares(value: Any, where: str) -> dict[str, float]:
    return {label: _number(share, f"{where}[{label!r}]") for label, share in _mapping(value, where).items()}


def _counts(value: Any, where: str) -> dict[str, int]:
    return {label: _integer(count, f"{where}[{label!r}]") for label, count in _mapping(value, where).items()}
