"""Monitoring: the alarms as synthesised, the conditions they compute from the API's own metrics (EMF lines
in Lambda mode, `/metrics` locally), and `golive monitor`."""

from __future__ import annotations

import importlib
import json
import statistics
import sys

import pytest
import requests

from cli.main import main
from golive import bundle
from golive.contracts.alarms import MonitoringSettings
from golive.errors import UserError
from golive.monitoring.conditions import (
    ALARM,
    NO_DATA,
    OK,
    Baseline,
    Window,
    evaluate,
    label_share_drift,
    latency_quantile_ms,
)
from golive.monitoring.local import monitor, parse
from infra.config import load_config
from tests.conftest import LambdaContext, api_event, running_server, sample_rows

SETTINGS = MonitoringSettings()


# --- the conditions, on windows computed by hand -----------------------------------------------------------------


def test_label_share_drift_is_total_variation_distance_including_unseen_labels():
    baseline = Baseline({"a": 0.5, "b": 0.5}, 0.9)
    assert label_share_drift(Window(predictions={"a": 90, "b": 10}), baseline, 100) == pytest.approx(0.4)
    assert label_share_drift(Window(predictions={"a": 50, "c": 50}), baseline, 100) == pytest.approx(0.5)
    assert label_share_drift(Window(predictions={"a": 50, "b": 49}), baseline, 100) is None  # too little traffic


def test_every_condition_fires_on_its_own_signal():
    baseline = Baseline({"neg": 0.5, "pos": 0.5}, mean_confidence=0.9, mean_input_chars=100)
    healthy = Window(
        predictions={"neg": 100, "pos": 100},
        confidence_sum=180,
        input_chars_sum=20_000,
        feedback=40,
        feedback_correct=36,
        requests=200,
        server_errors=1,
        latency_buckets={0.01: 150, 0.1: 199, 1.0: 200},
    )
    states = {c.name: c.state for c in evaluate(healthy, baseline, SETTINGS)}
    assert set(states.values()) == {OK}, states

    broken = Window(
        predictions={"neg": 190, "pos": 10},
        confidence_sum=120,
        input_chars_sum=70_000,
        feedback=40,
        feedback_correct=20,
        requests=200,
        server_errors=10,
        latency_buckets={0.01: 10, 5.0: 200},
    )
    conditions = {c.name: c for c in evaluate(broken, baseline, SETTINGS)}
    assert {name: c.state for name, c in conditions.items()} == dict.fromkeys(conditions, ALARM)
    assert conditions["online accuracy"].value == 0.5
    assert conditions["label share drift"].value == pytest.approx(0.45)
    assert conditions["mean confidence"].value == pytest.approx(0.6)
    assert conditions["input length drift"].value == pytest.approx(2.5)
    assert conditions["5XX error rate"].value == 0.05
    assert conditions["p99 latency (ms)"].value == 5000


def test_too_little_traffic_or_no_baseline_reads_insufficient_data_not_ok():
    conditions = {c.name: c for c in evaluate(Window(feedback=19, feedback_correct=0), None, SETTINGS)}
    assert conditions["online accuracy"].state == NO_DATA  # 19 feedback < min_feedback 20
    assert conditions["label share drift"].state == NO_DATA and "retrain" in conditions["label share drift"].rule


def test_a_window_is_the_difference_of_two_running_totals():
    first = Window(predictions={"a": 10}, feedback=2, feedback_correct=1, latency_buckets={0.1: 10})
    later = Window(predictions={"a": 15, "b": 5}, feedback=5, feedback_correct=4, latency_buckets={0.1: 20})
    delta = later.minus(first)
    assert delta.predictions == {"a": 5, "b": 5} and delta.feedback == 3 and delta.feedback_correct == 3
    assert latency_quantile_ms(delta) == pytest.approx(100)


# --- the alarms as synthesised -----------------------------------------------------------------------------------


def _alarms(template) -> dict[str, dict]:
    """Alarm properties by construct id (the logical id without CDK's hash suffix)."""
    return {logical[:-8]: r["Properties"] for logical, r in template.find_resources("AWS::CloudWatch::Alarm").items()}


def created_alarm_units(templates: dict) -> int:
    """What the monitoring and inference stacks' alarms bill as: a unit each, three for an anomaly-detection one."""
    return sum(
        3 if props["ComparisonOperator"].endswith("LowerThreshold") else 1
        for stack in ("monitoring", "inference")
        if stack in templates
        for props in _alarms(templates[stack]).values()
    )


def _topic_import(props: dict, key: str) -> str:
    (action,) = props[key]
    return action["Fn::ImportValue"]


# construct id: namespace, metric, statistic, threshold, period (s), comparison
DEV_ALARMS = {
    "LambdaErrors": ("AWS/Lambda", "Errors", "Sum", 4.5, 300, "GreaterThanThreshold"),
    "LambdaThrottles": ("AWS/Lambda", "Throttles", "Sum", 0, 300, "GreaterThanThreshold"),
    "LambdaDuration": ("AWS/Lambda", "Duration", "p99", 22_400, 300, "GreaterThanThreshold"),
    "Api5xxRate": ("AWS/ApiGateway", "5XXError", "Average", 0.01, 300, "GreaterThanThreshold"),
    "ApiLatency": ("AWS/ApiGateway", "Latency", "p99", 3000, 300, "GreaterThanThreshold"),
}
# with api.capture_texts (the tests' dev; prod as shipped has no export, so no such alarm)
EXPORT_ALARMS = {"FeedbackExportErrors": ("AWS/Lambda", "Errors", "Sum", 0, 3600, "GreaterThanThreshold")}
PROD_ENDPOINT_ALARMS = {
    "EndpointGpuUtilization": (
        "/aws/sagemaker/Endpoints",
        "GPUUtilization",
        "Average",
        90,
        300,
        "GreaterThanThreshold",
    ),
    "EndpointGpuMemory": (
        "/aws/sagemaker/Endpoints",
        "GPUMemoryUtilization",
        "Average",
        90,
        300,
        "GreaterThanThreshold",
    ),
}
# construct id: the expression's metrics (name, statistic), threshold, comparison
MATH_ALARMS = {
    "OnlineAccuracy": ({("Feedback", "Sum"), ("FeedbackCorrect", "Sum")}, 0.8, "LessThanThreshold"),
    "ConfidenceDrop": ({("Confidence", "SampleCount"), ("Confidence", "Average")}, None, "LessThanThreshold"),
    "LabelShareDrift": ({("Predictions", "Sum"), ("PredictedLabel", "Sum")}, 0.15, "GreaterThanThreshold"),
    "InputLengthDrift": ({("InputChars", "SampleCount"), ("InputChars", "Average")}, 0.5, "GreaterThanThreshold"),
    "FeedbackThrottles": ({("ReadThrottleEvents", "Sum"), ("WriteThrottleEvents", "Sum")}, 0, "GreaterThanThreshold"),
}


def _metric_stat(props: dict) -> tuple:
    stat = props.get("Statistic") or props.get("ExtendedStatistic")
    return (
        props["Namespace"],
        props["MetricName"],
        stat,
        props["Threshold"],
        props["Period"],
        props["ComparisonOperator"],
    )


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_alarm_has_its_metric_threshold_period_and_notifies_on_alarm_and_ok(synthesized, env):
    alarms = _alarms(synthesized[env]["monitoring"])
    capture = synthesized[env]["_config"].api.capture_texts
    assert capture == (env == "dev")  # the tests' dev captures texts, prod is as shipped
    expected = {**DEV_ALARMS, **(EXPORT_ALARMS if capture else {}), **(PROD_ENDPOINT_ALARMS if env == "prod" else {})}
    assert ("FeedbackExportErrors" in alarms) == capture
    for name, spec in expected.items():
        assert _metric_stat(alarms[name]) == spec, name
    for name, (metrics, threshold, comparison) in MATH_ALARMS.items():
        props = alarms[name]
        used = {
            (m["MetricStat"]["Metric"]["MetricName"], m["MetricStat"]["Stat"])
            for m in props["Metrics"]
            if "MetricStat" in m
        }
        assert used == metrics, name
        assert props["ComparisonOperator"] == comparison and props["TreatMissingData"] == "notBreaching"
        if threshold is not None:
            assert props["Threshold"] == threshold, name
    quality_periods = {
        m["MetricStat"]["Period"]
        for name in ("OnlineAccuracy", "LabelShareDrift")
        for m in alarms[name]["Metrics"]
        if "MetricStat" in m
    }
    assert quality_periods == {3600}
    assert alarms["ConfidenceAnomaly"]["ComparisonOperator"] == "LessThanLowerThreshold"
    assert "ANOMALY_DETECTION_BAND" in json.dumps(alarms["ConfidenceAnomaly"]["Metrics"])
    assert ("EndpointAtMaxInstances" in alarms) == (env == "prod")
    assert "EndpointWakeUpTooSlow" not in alarms  # neither scales to zero
    if env == "prod":
        assert alarms["EndpointAtMaxInstances"]["Threshold"] == 3.5  # prod scales to 4 instances
    for name, props in alarms.items():
        topic = _topic_import(props, "AlarmActions")
        assert "alerts" in topic and _topic_import(props, "OKActions") == topic, name
        assert props["AlarmName"].startswith(f"golive-{env}-")


def test_a_failed_feedback_export_run_pages_the_alert_topic(synthesized):
    assert synthesized["dev"]["_config"].api.capture_texts  # the export exists only with capture on
    api, monitoring = synthesized["dev"]["api"], synthesized["dev"]["monitoring"]
    alarm = _alarms(monitoring)["FeedbackExportErrors"]
    assert alarm["AlarmName"] == "golive-dev-feedback-export-errors"
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"], alarm["TreatMissingData"]) == (1, 1, "notBreaching")
    # its one dimension is the export function's name, imported from the API stack; not the API function's
    (dimension,) = alarm["Dimensions"]
    assert dimension["Name"] == "FunctionName"
    export_name = dimension["Value"]["Fn::ImportValue"]
    (export_function,) = [
        logical
        for logical, r in api.find_resources("AWS::Lambda::Function").items()
        if logical.startswith("FeedbackExportFunction")
    ]
    outputs = api.to_json()["Outputs"].values()
    assert [o["Value"] for o in outputs if o.get("Export", {}).get("Name") == export_name] == [{"Ref": export_function}]
    topic = _topic_import(alarm, "AlarmActions")
    assert "alerts" in topic and _topic_import(alarm, "OKActions") == topic


def test_endpoint_rollback_alarms_take_config_thresholds_and_notify(synthesized):
    alarms = _alarms(synthesized["prod"]["inference"])
    assert _metric_stat(alarms["Endpoint5xx"])[:5] == ("AWS/SageMaker", "Invocation5XXErrors", "Sum", 1, 60)
    assert _metric_stat(alarms["EndpointLatency"])[:5] == ("AWS/SageMaker", "ModelLatency", "p99", 1_000_000, 60)
    for props in alarms.values():
        assert props["AlarmActions"] and props["OKActions"]


def test_composite_alarm_covers_client_facing_alarms_and_dashboard_references_every_alarm(synthesized):
    monitoring = synthesized["prod"]["monitoring"]
    (composite,) = monitoring.find_resources("AWS::CloudWatch::CompositeAlarm").values()
    rule = json.dumps(composite["Properties"]["AlarmRule"])
    alarms = monitoring.find_resources("AWS::CloudWatch::Alarm")
    for name in ("LambdaErrors", "LambdaThrottles", "Api5xxRate", "ApiLatency"):
        assert any(logical.startswith(name) and logical in rule for logical in alarms)
    assert "Endpoint5xx" in rule and "EndpointLatency" in rule  # imported from the inference stack
    assert not any(logical in rule for logical in alarms if logical.startswith(("EndpointGpu", "OnlineAccuracy")))
    assert composite["Properties"]["AlarmActions"] and composite["Properties"]["OKActions"]

    (dashboard,) = monitoring.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for logical in [*alarms, *monitoring.find_resources("AWS::CloudWatch::CompositeAlarm")]:
        assert logical in body, f"the dashboard does not show {logical}"
    assert "Endpoint5xx" in body and "AWS/Billing" in body and "GPUUtilization" in body


def test_training_failures_reach_the_alert_topic_through_eventbridge(synthesized):
    rules = {
        r["Properties"]["Name"]: r["Properties"]
        for r in synthesized["dev"]["monitoring"].find_resources("AWS::Events::Rule").values()
    }
    job = rules["golive-dev-training-job-failed"]["EventPattern"]
    assert job["source"] == ["aws.sagemaker"] and job["detail-type"] == ["SageMaker Training Job State Change"]
    assert job["detail"] == {"TrainingJobStatus": ["Failed", "Stopped"], "TrainingJobName": [{"prefix": "golive-dev-"}]}
    pipeline = rules["golive-dev-pipeline-failed"]["EventPattern"]
    assert pipeline["detail"]["status"] == ["FAILED", "TIMED_OUT", "ABORTED"]
    assert "golive-dev-training" in json.dumps(pipeline["detail"]["stateMachineArn"])
    for rule in rules.values():
        assert "alerts" in json.dumps(rule["Targets"][0]["Arn"])


# --- Lambda mode: EMF lines from the real handler, evaluated by the synthesised alarms -----------------------------


def _emf_records(stdout: str) -> list[tuple[str, str, dict, list[float]]]:
    """(namespace, metric, dimensions, values) from the EMF lines Powertools printed, as CloudWatch reads them."""
    records = []
    for line in stdout.splitlines():
        if not (line.startswith("{") and '"_aws"' in line):
            continue
        doc = json.loads(line)
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dims = {name: doc[name] for name in dimension_set}
                for metric in directive["Metrics"]:
                    value = doc[metric["Name"]]
                    records.append(
                        (directive["Namespace"], metric["Name"], dims, value if isinstance(value, list) else [value])
                    )
    return records


def _statistic(records, metric: dict, stat: str) -> float | None:
    dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
    values = [
        v
        for ns, name, d, vs in records
        if (ns, name, d) == (metric["Namespace"], metric["MetricName"], dims)
        for v in vs
    ]
    if not values:
        return None
    return {"Sum": sum, "Average": statistics.fmean, "SampleCount": len}[stat](values)


def _alarm_value(props: dict, records) -> float | None:
    """What CloudWatch would compute for this alarm over one period holding exactly these records."""
    ids = {
        m["Id"]: _statistic(records, m["MetricStat"]["Metric"], m["MetricStat"]["Stat"])
        for m in props["Metrics"]
        if "MetricStat" in m
    }
    (expression,) = [m["Expression"] for m in props["Metrics"] if "Expression" in m]
    functions = {"IF": lambda cond, a, b: a if cond else b, "ABS": abs, "FILL": lambda x, v: v if x is None else x}
    return eval(expression, {"__builtins__": {}, **functions}, ids)  # noqa: S307 - our own synthesised expression


def _fires(props: dict, value: float) -> bool:
    return (
        value > props["Threshold"]
        if props["ComparisonOperator"] == "GreaterThanThreshold"
        else value < props["Threshold"]
    )


@pytest.fixture()
def lambda_dev(tiny_bundle, tmp_path, monkeypatch):
    monkeypatch.setenv("GOLIVE_MODEL_DIR", str(tiny_bundle))
    monkeypatch.setenv("GOLIVE_FEEDBACK_DB", str(tmp_path / "feedback.sqlite3"))
    monkeypatch.setenv("GOLIVE_ENVIRONMENT", "dev")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    sys.modules.pop("functions.lambda_handler", None)
    from aws_lambda_powertools import Metrics

    shared = Metrics()  # Powertools keeps dimensions per process; another test's Lambda set environment "local"
    shared.clear_default_dimensions()
    shared.clear_metrics()
    return importlib.import_module("functions.lambda_handler")


def _call(module, method: str, path: str, body) -> dict:
    response = module.handler(api_event("rest_v1", method, path, body), LambdaContext())
    assert response["statusCode"] == 200, response["body"]
    return json.loads(response["body"])


def test_emf_from_real_traffic_drives_the_quality_alarms_and_accuracy_drop_fires(
    lambda_dev, synthesized, tiny_bundle, capsys
):
    alarms = _alarms(synthesized["dev"]["monitoring"])
    baseline = bundle.read_metrics(tiny_bundle).baseline
    labels = bundle.read_manifest(tiny_bundle).labels
    texts = [text for text, _ in sample_rows("validation")][:5] + ["a much longer review " * 20]
    capsys.readouterr()

    # one period: 120 predictions, 25 feedback of which 10 say the prediction was right
    predictions = [
        p for _ in range(20) for p in _call(lambda_dev, "POST", "/v1/predict", {"inputs": texts})["predictions"]
    ]
    for i, p in enumerate(predictions[:25]):
        truth = p["label"] if i < 10 else next(label for label in labels if label != p["label"])
        assert _call(lambda_dev, "POST", "/v1/feedback", {"prediction_id": p["prediction_id"], "label": truth})[
            "correct"
        ] == (i < 10)
    records = _emf_records(capsys.readouterr().out)
    assert {dims["environment"] for *_, dims, _ in records} == {"dev"}

    # the same window, computed from the responses by hand
    counts = {label: sum(p["label"] == label for p in predictions) for label in labels}
    by_hand = Window(
        predictions=counts,
        confidence_sum=sum(p["score"] for p in predictions),
        input_chars_sum=20 * sum(map(len, texts)),
        feedback=25,
        feedback_correct=10,
    )
    expected = {c.name: c for c in evaluate(by_hand, baseline, load_config("dev").monitoring)}
    assert expected["online accuracy"].value == 0.4 and expected["online accuracy"].state == ALARM
    assert expected["input length drift"].value == pytest.approx(
        abs(sum(map(len, texts)) / len(texts) / baseline.mean_input_chars - 1)
    )
    for alarm, condition in [
        ("OnlineAccuracy", "online accuracy"),
        ("ConfidenceDrop", "mean confidence"),
        ("LabelShareDrift", "label share drift"),
        ("InputLengthDrift", "input length drift"),
    ]:
        value = _alarm_value(alarms[alarm], records)
        assert value == pytest.approx(expected[condition].value, abs=1e-5), alarm
        assert _fires(alarms[alarm], value) == (expected[condition].state == ALARM), alarm
    assert _fires(alarms["OnlineAccuracy"], _alarm_value(alarms["OnlineAccuracy"], records))

    # next period: accuracy recovers, and too little feedback never fires
    for p in predictions[25:45]:
        _call(lambda_dev, "POST", "/v1/feedback", {"prediction_id": p["prediction_id"], "label": p["label"]})
    recovered = _emf_records(capsys.readouterr().out)
    assert _alarm_value(alarms["OnlineAccuracy"], recovered) == 1.0  # 20 right out of 20
    for p in predictions[45:50]:
        _call(
            lambda_dev,
            "POST",
            "/v1/feedback",
            {"prediction_id": p["prediction_id"], "label": next(label for label in labels if label != p["label"])},
        )
    sparse = _emf_records(capsys.readouterr().out)
    assert not _fires(alarms["OnlineAccuracy"], _alarm_value(alarms["OnlineAccuracy"], sparse))  # 5 < min_feedback


# --- local mode: /metrics and `golive monitor` against a real server ----------------------------------------------


@pytest.fixture()
def local_server(tiny_bundle, tmp_path):
    from functions.api.local import create_local_app
    from functions.api.settings import Settings

    app = create_local_app(
        Settings(backend="onnx", model_dir=str(tiny_bundle), feedback_db=str(tmp_path / "fb.sqlite3"))
    )
    with running_server(app) as url:
        yield url


def _traffic(url: str, texts: list[str], rounds: int, right: int, wrong: int) -> list[dict]:
    predictions = [
        p
        for _ in range(rounds)
        for p in requests.post(f"{url}/v1/predict", json={"inputs": texts}, timeout=10).json()["predictions"]
    ]
    labels = requests.get(f"{url}/v1/model", timeout=10).json()["manifest"]["labels"]
    for i, p in enumerate(predictions[: right + wrong]):
        truth = p["label"] if i < right else next(label for label in labels if label != p["label"])
        assert (
            requests.post(
                f"{url}/v1/feedback", json={"prediction_id": p["prediction_id"], "label": truth}, timeout=10
            ).status_code
            == 200
        )
    return predictions


def test_metrics_endpoint_carries_the_baseline_and_the_window(local_server, tiny_bundle):
    texts = [text for text, _ in sample_rows("validation")][:4]
    predictions = _traffic(local_server, texts, rounds=30, right=20, wrong=5)
    window, baseline = parse(requests.get(f"{local_server}/metrics", timeout=10).text)
    assert baseline == bundle.read_metrics(tiny_bundle).baseline.monitored()
    assert window.prediction_count == 120 and (window.feedback, window.feedback_correct) == (25, 20)
    assert window.confidence_sum == pytest.approx(sum(p["score"] for p in predictions), rel=1e-6)
    assert window.input_chars_sum == 30 * sum(map(len, texts))
    assert window.requests == 30 and window.server_errors == 0


def test_golive_monitor_reports_ok_then_the_accuracy_alarm(local_server, capsys):
    texts = [text for text, _ in sample_rows("validation")][:4]
    _traffic(local_server, texts, rounds=30, right=25, wrong=0)
    assert main(["monitor", "--url", local_server, "--format", "json"]) in (0, 1)  # drift depends on the tiny model
    report = json.loads(capsys.readouterr().out)
    states = {c["name"]: c for c in report["conditions"]}
    assert states["online accuracy"]["state"] == OK and states["online accuracy"]["value"] == 1.0
    assert states["5XX error rate"]["state"] == OK and states["p99 latency (ms)"]["state"] == OK

    # a window in which the model is mostly wrong: `--watch` reports only that window's traffic
    settings = load_config("dev").monitoring
    lines: list[str] = []
    code = monitor(
        local_server,
        settings,
        watch_s=1,
        count=1,
        out=lines.append,
        sleep=lambda _: _traffic(local_server, texts, rounds=10, right=5, wrong=20),
    )
    assert code == 1
    (table,) = lines
    assert "40 predictions, 25 feedback" in table
    row = next(line for line in table.splitlines() if line.startswith("online accuracy"))
    assert row.split()[2:4] == ["ALARM", "0.2"]


def test_monitor_errors_are_clear(capsys):
    assert main(["monitor", "--url", "http://127.0.0.1:9"]) == 2
    assert "cannot read http://127.0.0.1:9/metrics" in capsys.readouterr().err
    assert main(["monitor", "--url", "localhost:8000"]) == 2
    assert "not an http(s) URL" in capsys.readouterr().err
    with pytest.raises(SystemExit) as raised:  # argparse refuses it, with the command's usage
        main(["monitor", "--watch", "0"])
    assert raised.value.code == 2 and "--watch: must be above 0" in capsys.readouterr().err
    with pytest.raises(UserError, match="no golive metrics"):
        parse("# HELP other_total x\n# TYPE other_total counter\nother_total 1\n")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_cost_estimate_counts_the_alarms_the_stacks_create(synthesized, env):
    from infra.costs.stages import monitoring_footprint

    units = created_alarm_units(synthesized[env])
    composites = len(synthesized[env]["monitoring"].find_resources("AWS::CloudWatch::CompositeAlarm"))
    assert monitoring_footprint(synthesized[env]["_config"])[:2] == (units, composites)
    # the shipped file's count differs only by the export's alarm, which needs api.capture_texts
    shipped = monitoring_footprint(load_config(env))[0]
    assert units == shipped + synthesized[env]["_config"].api.capture_texts
