"""The contracts between the layers, read the way their other side reads them."""

from __future__ import annotations

import math
import re

import pytest
from pydantic import ValidationError

from golive.contracts import alarms, schemas, telemetry
from golive.contracts.training_metrics import TRAINING_METRICS, captured_by_sagemaker, format_metrics


@pytest.mark.parametrize("value", [0.5, -0.25, 1.5e-7, 3e12, 7, 0.0])
def test_every_training_metric_line_is_read_back_by_sagemaker(value):
    line = format_metrics({name: value for name in TRAINING_METRICS})
    assert captured_by_sagemaker(line) == {name: pytest.approx(float(value), rel=1e-5) for name in TRAINING_METRICS}


def test_a_nan_metric_gives_no_datapoint_rather_than_a_wrong_one():
    line = format_metrics({"train_loss": math.nan, "epoch": 1.0})
    assert line == "train_loss=nan epoch=1"
    assert captured_by_sagemaker(line) == {"epoch": 1.0}


def test_telemetry_names_are_unique_and_valid_for_their_backends():
    cloudwatch = [*telemetry.CLOUDWATCH_METRICS, telemetry.PREDICTED_LABEL]
    assert len(set(cloudwatch)) == len(cloudwatch)
    prometheus = [value for name, value in vars(telemetry).items() if name.startswith("PROM_")]
    assert len(set(prometheus)) == len(prometheus) >= 10
    assert all(re.fullmatch(r"golive_[a-z_]+", name) and not name.endswith("_total") for name in prometheus)


def test_alarm_ids_and_names_are_unique_across_the_catalogue():
    catalogue = [value for value in vars(alarms).values() if isinstance(value, alarms.Alarm)]
    assert len({a.construct_id for a in catalogue}) == len({a.name for a in catalogue}) == len(catalogue) >= 15
    grouped = [
        *alarms.API_ALARMS,
        *alarms.FEEDBACK_EXPORT_ALARMS,
        *alarms.QUALITY_ALARMS,
        *alarms.TRAINING_ALARMS,
        *alarms.RETRAIN_TRIGGER_ALARMS,
        *alarms.ENDPOINT_ALARMS,
        *alarms.SCALING_ALARMS,
        *alarms.SCALE_TO_ZERO_ALARMS,
        *alarms.WAKE_UP_ALARMS,
        *alarms.COMPOSITE_ALARMS,
    ]
    assert sorted(a.name for a in grouped) == sorted(a.name for a in catalogue)  # each alarm in exactly one group


def test_monitoring_thresholds_refuse_impossible_values():
    assert alarms.MonitoringSettings().api_latency_p99_ms <= 29_000  # under API Gateway's own timeout
    for bad in (
        {"api_5xx_rate": 0},
        {"min_online_accuracy": 1.5},
        {"period_minutes": 2},
        {"no_such_threshold": 1},
        {"wake_up_too_slow_factor": 1},
    ):
        with pytest.raises(ValidationError):
            alarms.MonitoringSettings(**bad)


@pytest.mark.parametrize("top_k,accepted", [(2, 2), (2.0, 2), (True, None), ("2", None), (0, None), (1.5, None)])
def test_top_k_is_a_json_schema_integer_of_at_least_one(top_k, accepted):
    if accepted is None:
        with pytest.raises(ValidationError):
            schemas.ClassifyParameters(top_k=top_k)
    else:
        assert schemas.ClassifyParameters(top_k=top_k).top_k == accepted


def test_every_error_status_a_route_declares_has_the_one_error_body():
    declared = schemas.error_responses(409, 413, 422, 429, 500, 502, 503, 504)
    assert all(entry["model"] is schemas.ErrorResponse for entry in declared.values())
    assert {status for status, entry in declared.items() if "headers" in entry} == {429, 503}  # Retry-After
    body = schemas.ErrorResponse.model_validate({"error": {"type": "empty_text", "message": "`inputs` is empty"}})
    assert body.model_dump(exclude_none=True) == {"error": {"type": "empty_text", "message": "`inputs` is empty"}}
