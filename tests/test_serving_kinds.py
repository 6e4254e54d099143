"""The serving options of issue 19 in the synthesised app, with aws_cdk.assertions and cdk-nag on every synth: a
scale-to-zero endpoint (the model as an inference component; staging ships it), SageMaker Serverless Inference,
Lambda SnapStart; and every combination infra/config refuses, with the keys its error names.

Variants are environment files written next to the shipped ones (load_config reads a folder), synthesised from a
hand-written bundle and a Lambda package built without pip: no trained model, no torch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

cdk = pytest.importorskip("aws_cdk")
from aws_cdk.assertions import Match, Template  # noqa: E402

from infra.config import ENVIRONMENTS_DIR, ConfigError, load_config  # noqa: E402
from infra.naming import Names  # noqa: E402
from tests.conftest import synth_context  # noqa: E402
from tests.handmade_bundle import write_handmade_bundle  # noqa: E402
from tests.test_api_auth import assert_lint_clean  # noqa: E402
from tests.test_monitoring import created_alarm_units  # noqa: E402

STAGING = json.loads((ENVIRONMENTS_DIR / "staging.json").read_text())
# staging as shipped, but the API invokes the endpoint, waits up to 20 s for it to wake, and runs with SnapStart
# and pages on a wake-up over 2.5 x endpoint.expected_warmup_seconds (the default is 3 x); the endpoint captures
# half its traffic and the API its redacted texts (both off by default), so cdk-nag's packs see them on
STAGING_PROXY = {
    **STAGING,
    "endpoint": {**STAGING["endpoint"], "data_capture_percent": 50},
    "api": {
        **STAGING["api"],
        "backend": "sagemaker",
        "wait_for_warmup_seconds": 20,
        "snapstart": True,
        "capture_texts": True,
    },
    "monitoring": {"wake_up_too_slow_factor": 2.5},
}
SERVERLESS = {
    **STAGING,
    "endpoint": {
        "enabled": True,
        "kind": "serverless",
        "serverless": {"memory_size_mb": 3072, "max_concurrency": 20, "provisioned_concurrency": 2},
    },
    "api": {**STAGING["api"], "backend": "sagemaker"},
}


def write_env(folder: Path, body: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{body['name']}.json").write_text(json.dumps(body))
    return folder


def synth(tmp: Path, body: dict, monkeypatch) -> dict[str, Template]:
    """The whole app for this environment file; cdk-nag (AwsSolutions and Serverless, and the opt-in HIPAA and
    NIST 800-53 R5 packs) fails it on any finding. "_outdir": where the templates are."""
    import infra.app
    from infra.assets.lambda_package import build_lambda_package

    folder = write_env(tmp / "envs", body)
    monkeypatch.setattr(infra.app, "load_config", lambda env, **kw: load_config(env, folder, **kw))
    bundle = write_handmade_bundle(tmp / "bundle")
    build_lambda_package(bundle, tmp / "package", install=False)
    app = cdk.App(
        outdir=str(tmp / "out"),
        context=synth_context(body["name"], tmp / "package", bundle, tmp / "build", compliance="hipaa,nist"),
    )
    infra.app.synthesize(infra.app.build_app(app))
    return {
        "_outdir": tmp / "out",
        **{
            stack.stack_name.removeprefix(f"golive-{body['name']}-"): Template.from_stack(stack)
            for stack in app.node.children
            if isinstance(stack, cdk.Stack)
        },
    }


@pytest.fixture(scope="module")
def proxy(tmp_path_factory) -> dict[str, Template]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        return synth(tmp_path_factory.mktemp("staging-proxy"), STAGING_PROXY, monkeypatch)


@pytest.fixture(scope="module")
def serverless(tmp_path_factory) -> dict[str, Template]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        return synth(tmp_path_factory.mktemp("serverless"), SERVERLESS, monkeypatch)


def only(template: Template, kind: str) -> dict:
    [props] = [r.get("Properties", {}) for r in template.find_resources(kind).values()]
    return props


def api_function(template: Template) -> dict:
    """The API's function (the stack also has the signing key's rotation function)."""
    [props] = [
        r["Properties"]
        for r in template.find_resources("AWS::Lambda::Function").values()
        if r["Properties"]["Handler"] == "functions.lambda_handler.handler"
    ]
    return props


# --- scale to zero ---------------------------------------------------------------------------------------------


def test_staging_scales_to_zero_by_default():
    endpoint = load_config("staging").endpoint
    assert endpoint.scale_to_zero and endpoint.kind == "instances" and endpoint.scale_in_idle_minutes == 30


def test_scale_to_zero_hosts_the_model_as_a_component_on_an_endpoint_that_scales_to_zero_instances(proxy):
    inference, names = proxy["inference"], Names(load_config("staging"))
    config = only(inference, "AWS::SageMaker::EndpointConfig")
    [variant] = config["ProductionVariants"]
    assert "ModelName" not in variant  # the model is the component's
    assert variant["ManagedInstanceScaling"] == {"Status": "ENABLED", "MinInstanceCount": 0, "MaxInstanceCount": 2}
    assert variant["RoutingConfig"] == {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}
    assert "ExecutionRoleArn" in config and config["DataCaptureConfig"]["EnableCapture"] is True
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] == 50
    assert "DeploymentConfig" not in only(inference, "AWS::SageMaker::Endpoint")  # the component's own, below
    component = only(inference, "AWS::SageMaker::InferenceComponent")
    assert component["InferenceComponentName"] == names.inference_component
    assert (
        component["Specification"]["ModelName"] == {"Fn::GetAtt": [Match.any_value(), "ModelName"]}
        or "Fn::GetAtt" in component["Specification"]["ModelName"]
    )
    assert component["Specification"]["ComputeResourceRequirements"]["NumberOfAcceleratorDevicesRequired"] == 1
    rollback = component["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    assert [a["AlarmName"] for a in rollback] == names.rollback_alarms
    # the rollback alarms watch the component, where SageMaker reports its errors and latency
    for alarm in inference.find_resources(
        "AWS::CloudWatch::Alarm", {"Properties": {"AlarmName": Match.string_like_regexp("5xx|latency")}}
    ).values():
        assert alarm["Properties"]["Dimensions"] == [
            {"Name": "InferenceComponentName", "Value": names.inference_component}
        ]


def test_copies_scale_from_zero_on_refused_calls_and_back_to_zero_when_idle(proxy):
    inference, names = proxy["inference"], Names(load_config("staging"))
    target = only(inference, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["ResourceId"] == f"inference-component/{names.inference_component}"
    assert target["ScalableDimension"] == "sagemaker:inference-component:DesiredCopyCount"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 2)  # one copy per GPU of 2 ml.g5.xlarge
    policies = [
        r["Properties"] for r in inference.find_resources("AWS::ApplicationAutoScaling::ScalingPolicy").values()
    ]
    [tracking] = [
        p["TargetTrackingScalingPolicyConfiguration"] for p in policies if p["PolicyType"] == "TargetTrackingScaling"
    ]
    assert (
        tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
        == "SageMakerInferenceComponentInvocationsPerCopy"
    )
    steps = {
        p["StepScalingPolicyConfiguration"]["AdjustmentType"]: p["StepScalingPolicyConfiguration"]
        for p in policies
        if p["PolicyType"] == "StepScaling"
    }
    assert steps["ChangeInCapacity"]["StepAdjustments"] == [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]
    assert steps["ChangeInCapacity"]["Cooldown"] == 300  # endpoint.expected_warmup_seconds: one copy per wake-up
    assert steps["ExactCapacity"]["StepAdjustments"] == [{"MetricIntervalUpperBound": 0, "ScalingAdjustment": 0}]
    alarms = {
        r["Properties"]["AlarmName"]: r["Properties"]
        for r in inference.find_resources("AWS::CloudWatch::Alarm").values()
    }
    wake = alarms[f"{names.prefix}-endpoint-wake-from-zero"]
    assert (wake["Namespace"], wake["MetricName"]) == ("AWS/SageMaker", "NoCapacityInvocationFailures")
    assert wake["Dimensions"] == [{"Name": "InferenceComponentName", "Value": names.inference_component}]
    assert wake["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and wake["Threshold"] == 1
    idle = alarms[f"{names.prefix}-endpoint-idle"]
    assert idle["EvaluationPeriods"] == idle["DatapointsToAlarm"] == 30  # endpoint.scale_in_idle_minutes
    assert idle["TreatMissingData"] == "breaching"  # SageMaker sends no datapoint for a quiet minute
    assert {m["MetricStat"]["Metric"]["MetricName"] for m in idle["Metrics"] if "MetricStat" in m} == {
        "Invocations",
        "NoCapacityInvocationFailures",
    }
    for alarm in (wake, idle):  # they scale; a normal wake-up pages nobody
        [action] = alarm["AlarmActions"]
        assert "OKActions" not in alarm and "Ref" in action


def test_the_api_knows_the_component_waits_for_it_and_may_invoke_only_it(proxy):
    api, names = proxy["api"], Names(load_config("staging"))
    fn = api_function(api)
    env = fn["Environment"]["Variables"]
    assert env["GOLIVE_INFERENCE_COMPONENT_NAME"] == names.inference_component
    assert env["GOLIVE_EXPECTED_WARMUP_SECONDS"] == "300" and env["GOLIVE_WAIT_FOR_WARMUP_SECONDS"] == "20"
    assert env["GOLIVE_CAPTURE_TEXTS"] == "true" and env["GOLIVE_CAPTURE_TTL_DAYS"] == "30"
    assert fn["Timeout"] == 28  # covers the 20 s wait, within API Gateway's 29 s
    invoke = [
        s
        for policy in api.find_resources("AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "sagemaker:InvokeEndpoint"
    ]
    [statement] = invoke
    arns = [json.dumps(r) for r in statement["Resource"]]
    assert len(arns) == 2 and f":endpoint/{names.endpoint}" in arns[0]
    assert f":inference-component/{names.inference_component}" in arns[1]


def test_snapstart_puts_a_published_version_and_an_alias_behind_api_gateway(proxy):
    api = proxy["api"]
    assert api_function(api)["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    api.resource_count_is("AWS::Lambda::Version", 1)
    alias = only(api, "AWS::Lambda::Alias")
    assert alias["Name"] == "live" and "Fn::GetAtt" in alias["FunctionVersion"]
    alias_id = next(iter(api.find_resources("AWS::Lambda::Alias")))
    methods = [
        r["Properties"]["Integration"]
        for r in api.find_resources("AWS::ApiGateway::Method").values()
        if r["Properties"].get("Integration", {}).get("Type") == "AWS_PROXY"
    ]
    assert methods and all(alias_id in json.dumps(m["Uri"]) for m in methods)


def test_wake_up_503s_are_not_api_errors_and_the_dashboard_shows_them(proxy):
    monitoring = proxy["monitoring"]
    [rate] = [
        r["Properties"]
        for r in monitoring.find_resources("AWS::CloudWatch::Alarm").values()
        if r["Properties"]["AlarmName"].endswith("-api-5xx-rate")
    ]
    expression = next(m["Expression"] for m in rate["Metrics"] if "Expression" in m)
    assert "waking" in expression and "errors" in expression
    used = {m["MetricStat"]["Metric"]["MetricName"] for m in rate["Metrics"] if "MetricStat" in m}
    assert used == {"5XXError", "Count", "ModelWakingUp"}
    body = json.dumps(only(monitoring, "AWS::CloudWatch::Dashboard")["DashboardBody"])
    assert "503s while waking" in body and "ModelWakingUp" in body and "NoCapacityInvocationFailures" in body
    names = {r["Properties"]["AlarmName"] for r in monitoring.find_resources("AWS::CloudWatch::Alarm").values()}
    assert not any("at-max-instances" in n for n in names)


def wake_up_alarms(template: Template) -> list[dict]:
    return [
        r["Properties"]
        for r in template.find_resources("AWS::CloudWatch::Alarm").values()
        if r["Properties"]["AlarmName"].endswith("-endpoint-wake-up-too-slow")
    ]


def test_a_slow_wake_up_pages_and_a_normal_one_does_not(proxy):
    monitoring = proxy["monitoring"]
    [alarm] = wake_up_alarms(monitoring)
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("golive", "WakeUpSeconds", "Maximum")
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {"service": "golive-api", "environment": "staging"}
    # 2.5 (monitoring.wake_up_too_slow_factor) x 300 s (endpoint.expected_warmup_seconds): a 300-700 s wake-up is fine
    assert alarm["Threshold"] == 750 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 1  # one datapoint per wake-up measured
    assert alarm["TreatMissingData"] == "notBreaching"  # no wake-up, no data: not a breach
    [on_alarm], [on_ok] = alarm["AlarmActions"], alarm["OKActions"]
    assert on_alarm == on_ok and "alerts" in on_alarm["Fn::ImportValue"]  # the alert topic, as every paging alarm
    parts = only(monitoring, "AWS::CloudWatch::Dashboard")["DashboardBody"]["Fn::Join"][1]
    widgets = json.loads("".join(p if isinstance(p, str) else "token" for p in parts))["widgets"]
    [graph] = [
        w["properties"] for w in widgets if w["properties"].get("title") == "Time to first answer after idle (s)"
    ]
    stats = [
        (m[:2], m[-1].get("stat") if isinstance(m[-1], dict) else "Average (the default)") for m in graph["metrics"]
    ]
    assert stats == [(["golive", "WakeUpSeconds"], "Maximum"), (["golive", "WakeUpSeconds"], "Average (the default)")]
    assert [(a["value"], a["label"]) for a in graph["annotations"]["horizontal"]] == [
        (300, "expected"),
        (750, "alarm above"),
    ]
    [logical] = [k for k, r in monitoring.find_resources("AWS::CloudWatch::Alarm").items() if r["Properties"] == alarm]
    assert logical in json.dumps(parts)  # in the alarm status widget


def test_the_cost_estimate_counts_the_wake_up_alarm(proxy):
    from infra.costs.stages import monitoring_footprint

    config = load_config("staging", Path(proxy["_outdir"]).parent / "envs")
    assert config.api_wakes_endpoint and config.monitoring.wake_up_too_slow_factor == 2.5
    assert monitoring_footprint(config)[0] == created_alarm_units(proxy)


def test_the_cost_estimate_counts_shipped_stagings_alarms(tmp_path_factory):
    """Staging as shipped scales to zero and can scale out to 2: it has no at-maximum alarm (the wake-up and idle
    alarms drive its capacity instead), so the estimate must not price one."""
    from infra.costs.stages import monitoring_footprint

    with pytest.MonkeyPatch.context() as monkeypatch:
        staging = synth(tmp_path_factory.mktemp("staging"), STAGING, monkeypatch)
    config = load_config("staging")
    assert config.endpoint.scale_to_zero and config.endpoint.max_instances > config.endpoint.min_instances
    assert monitoring_footprint(config)[0] == created_alarm_units(staging)


def test_no_wake_up_alarm_without_an_api_that_wakes_a_scale_to_zero_endpoint(serverless):
    assert not wake_up_alarms(serverless["monitoring"])  # serverless: nothing scales to zero copies
    assert not load_config("staging").api_wakes_endpoint  # staging as shipped serves in the Lambda (onnx)
    assert not load_config("prod").api_wakes_endpoint  # always on


def test_the_pipeline_promotes_by_updating_the_component(proxy):
    [machine] = proxy["training"].find_resources("AWS::StepFunctions::StateMachine").values()
    definition = json.dumps(machine["Properties"]["DefinitionString"])
    assert "updateInferenceComponent" in definition and "describeInferenceComponent" in definition
    assert "updateEndpoint" not in definition and "createEndpointConfig" not in definition


# --- serverless -------------------------------------------------------------------------------------------------


def test_serverless_endpoint_runs_the_same_image_with_memory_and_concurrency(serverless):
    inference = serverless["inference"]
    [variant] = only(inference, "AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 3072, "MaxConcurrency": 20, "ProvisionedConcurrency": 2}
    assert "InstanceType" not in variant and "ModelName" in variant
    assert "DataCaptureConfig" not in only(inference, "AWS::SageMaker::EndpointConfig")
    image = only(inference, "AWS::SageMaker::Model")["PrimaryContainer"]["Image"]
    assert "container-assets" in json.dumps(image)  # the endpoint image the GPU endpoint uses; CPU path
    inference.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 0)
    inference.resource_count_is("AWS::SageMaker::InferenceComponent", 0)
    assert "DeploymentConfig" in only(inference, "AWS::SageMaker::Endpoint")  # blue/green with rollback alarms
    env = api_function(serverless["api"])["Environment"]["Variables"]
    assert env["GOLIVE_BACKEND"] == "sagemaker" and "GOLIVE_INFERENCE_COMPONENT_NAME" not in env
    names = {
        r["Properties"]["AlarmName"] for r in serverless["monitoring"].find_resources("AWS::CloudWatch::Alarm").values()
    }
    assert not any("gpu" in n for n in names)  # no GPU to watch


@pytest.mark.parametrize("variant", ["proxy", "serverless"])
def test_cfn_lint_and_checkov_find_nothing_unaccepted(variant, request):
    assert_lint_clean(request.getfixturevalue(variant)["_outdir"])


# --- what infra/config refuses ----------------------------------------------------------------------------------


def endpoint(**keys) -> dict:
    return {**STAGING, "endpoint": {"enabled": True, **keys}}


INVALID = {
    "scale_to_zero with serverless": (
        endpoint(kind="serverless", scale_to_zero=True),
        ["endpoint", "scale_to_zero", "serverless"],
    ),
    "serverless memory out of range": (
        endpoint(kind="serverless", serverless={"memory_size_mb": 8192}),
        ["endpoint.serverless.memory_size_mb", "6144"],
    ),
    "serverless memory not whole GB": (
        endpoint(kind="serverless", serverless={"memory_size_mb": 1500}),
        ["endpoint.serverless.memory_size_mb", "whole number of GB"],
    ),
    "provisioned above max": (
        endpoint(kind="serverless", serverless={"max_concurrency": 2, "provisioned_concurrency": 3}),
        ["provisioned_concurrency", "max_concurrency"],
    ),
    "instance keys with serverless": (
        endpoint(kind="serverless", instance_type="ml.g5.2xlarge"),
        ["instance_type", "serverless"],
    ),
    "serverless block with instances": (endpoint(serverless={"max_concurrency": 2}), ["serverless block", "kind"]),
    "scale_to_zero without an endpoint": (
        {**STAGING, "endpoint": {"enabled": False, "scale_to_zero": True}},
        ["endpoint.scale_to_zero", "endpoint.enabled"],
    ),
    "min_instances with scale_to_zero": (
        endpoint(scale_to_zero=True, min_instances=2),
        ["min_instances", "scale_to_zero"],
    ),
    "idle period too short": (
        endpoint(scale_to_zero=True, scale_in_idle_minutes=1),
        ["endpoint.scale_in_idle_minutes"],
    ),
    "wait too long for the timeout": (
        {**STAGING_PROXY, "api": {**STAGING_PROXY["api"], "wait_for_warmup_seconds": 27}},
        ["api.wait_for_warmup_seconds", "28 s timeout", "at most 25"],
    ),
    "wait without a scale-to-zero endpoint": (
        {**STAGING, "api": {**STAGING["api"], "wait_for_warmup_seconds": 5}},
        ["api.wait_for_warmup_seconds", "endpoint.scale_to_zero", "sagemaker"],
    ),
}


@pytest.mark.parametrize("case", INVALID)
def test_invalid_combinations_stop_synth_naming_the_keys(tmp_path, case):
    body, expected = INVALID[case]
    with pytest.raises(ConfigError) as error:
        load_config("staging", write_env(tmp_path, body))
    for text in expected:
        assert text in str(error.value), str(error.value)
