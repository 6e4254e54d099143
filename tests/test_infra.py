"""The CDK app, synthesised offline: resources that matter, cdk-nag (in synth) and cfn-lint, config errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

cdk = pytest.importorskip("aws_cdk")
from aws_cdk.assertions import Match, Template  # noqa: E402

from golive.lambda_package import build_lambda_package  # noqa: E402
from infra.app import build_app  # noqa: E402
from infra.config import ConfigError, load_config  # noqa: E402


@pytest.fixture(scope="session")
def synthesized(tiny_bundle, tmp_path_factory) -> dict[str, dict[str, Template]]:
    """dev and prod, each synthesised once; app.synth() runs cdk-nag and raises on any unacknowledged finding."""
    package = tmp_path_factory.mktemp("lambda") / "pkg"
    build_lambda_package(tiny_bundle, package, install=False)  # code + bundle; wheels don't change the template
    result = {}
    for env in ("dev", "prod"):
        outdir = tmp_path_factory.mktemp(f"cdk-{env}")
        app = cdk.App(outdir=str(outdir), context={"env": env, "lambda_package": str(package)})
        build_app(app)
        app.synth()
        result[env] = {stack.stack_name.removeprefix(f"golive-{env}-"): Template.from_stack(stack)
                       for stack in app.node.children if isinstance(stack, cdk.Stack)}
        result[env]["_outdir"] = outdir
    return result


def test_data_buckets_are_kms_encrypted_tls_only_versioned_private_and_kept(synthesized):
    data = synthesized["dev"]["data"]
    buckets = data.find_resources("AWS::S3::Bucket")
    assert len(buckets) == 4  # data, models, capture + the access-log bucket
    kms = [b for b in buckets.values() if b["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
           ["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"]
    assert len(kms) == 3
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert bucket["DeletionPolicy"] == "Retain"
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["PublicAccessBlockConfiguration"] == {key: True for key in (
            "BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")}
        assert props["LifecycleConfiguration"]["Rules"]
    for bucket in kms:
        assert "LoggingConfiguration" in bucket["Properties"]
    policies = data.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 4
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                   for s in statements)
    data.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_every_api_route_but_health_needs_an_api_key(synthesized):
    api = synthesized["dev"]["api"]
    methods = api.find_resources("AWS::ApiGateway::Method")
    resources = api.find_resources("AWS::ApiGateway::Resource")
    path_of = {logical: r["Properties"]["PathPart"] for logical, r in resources.items()}
    public = [m for m in methods.values() if not m["Properties"].get("ApiKeyRequired")]
    assert len(public) == 1
    assert path_of[public[0]["Properties"]["ResourceId"]["Ref"]] == "health"
    assert len(methods) == 3
    api.has_resource_properties("AWS::ApiGateway::UsagePlan", {
        "Throttle": {"RateLimit": 10, "BurstLimit": 20}, "Quota": {"Limit": 10000, "Period": "DAY"}})
    api.has_resource_properties("AWS::ApiGateway::Stage", {
        "StageName": "dev", "TracingEnabled": True, "AccessLogSetting": Match.object_like({})})
    assert "ApiUrl" in api.find_outputs("*")


def test_lambda_runs_the_package_lean_traced_and_inside_the_api_timeout(synthesized):
    api = synthesized["dev"]["api"]
    api.has_resource_properties("AWS::Lambda::Function", {
        "Handler": "functions.lambda_handler.handler", "Runtime": "python3.14", "Timeout": 28,
        "MemorySize": 2048, "TracingConfig": {"Mode": "Active"},
        "Environment": {"Variables": Match.object_like({"GOLIVE_BACKEND": "onnx",
                                                        "GOLIVE_FEEDBACK_TABLE": Match.any_value()})}})
    api.has_resource_properties("AWS::DynamoDB::GlobalTable", {
        "Replicas": [Match.object_like({"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}})]})


def _statements(template: Template) -> list[dict]:
    return [s for p in template.find_resources("AWS::IAM::Policy").values()
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_lambda_permissions_are_scoped_to_its_table_and_endpoint(synthesized):
    dev = _statements(synthesized["dev"]["api"])
    dynamo = [s for s in dev if any(str(a).startswith("dynamodb:") for a in s["Action"])]
    assert dynamo and all(s["Resource"] != "*" for s in dynamo)
    assert not any("sagemaker:InvokeEndpoint" in str(s["Action"]) for s in dev)  # dev serves in-Lambda ONNX
    prod = _statements(synthesized["prod"]["api"])
    invoke = [s for s in prod if s["Action"] == "sagemaker:InvokeEndpoint"]
    assert len(invoke) == 1 and "endpoint/golive-prod-endpoint" in json.dumps(invoke[0]["Resource"])
    wildcard = [s for s in dev + prod if s["Resource"] == "*"]
    assert all(set(s["Action"]) <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} for s in wildcard)


def test_cfn_lint_finds_nothing(synthesized):
    templates = [str(p) for env in ("dev", "prod") for p in Path(synthesized[env]["_outdir"]).glob("*.template.json")]
    assert len(templates) == 4
    result = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), *templates], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("change,message", [
    ({"training": {"instance_type": "ml.m5.large"}}, "training.instance_type: 'ml.m5.large' is not a SageMaker GPU"),
    ({"endpoint": {"min_instances": 3, "max_instances": 2}}, "max_instances (2) is below min_instances (3)"),
    ({"api": {"lambda_memory_mb": 64}}, "api.lambda_memory_mb: Input should be greater than or equal to 512"),
    ({"region": "mars-1"}, "region: 'mars-1' is not an AWS region"),
    ({"api": {"throttle_burts": 5}}, "api.throttle_burts: unknown key"),
    ({"api": {"backend": "sagemaker"}, "endpoint": {"enabled": False}}, "enable the endpoint"),
])
def test_a_broken_config_value_fails_naming_its_key(tmp_path, change, message):
    (tmp_path / "dev.json").write_text(json.dumps({"name": "dev", **change}))
    with pytest.raises(ConfigError) as err:
        load_config("dev", tmp_path)
    assert message in str(err.value)
    assert "dev.json" in str(err.value)


def test_unknown_environment_and_bad_json_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="unknown environment 'qa'.*known: dev, prod, staging"):
        load_config("qa")
    (tmp_path / "dev.json").write_text("{nope")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config("dev", tmp_path)


def test_shipped_environments_load():
    assert {load_config(env).name for env in ("dev", "staging", "prod")} == {"dev", "staging", "prod"}


def test_cdk_nag_fails_synth_on_an_unacknowledged_finding(tiny_bundle, tmp_path):
    from aws_cdk import aws_s3 as s3

    package = tmp_path / "pkg"
    build_lambda_package(tiny_bundle, package, install=False)
    app = build_app(cdk.App(outdir=str(tmp_path / "out"), context={"env": "dev", "lambda_package": str(package)}))
    data_stack = next(s for s in app.node.children if isinstance(s, cdk.Stack) and s.stack_name.endswith("-data"))
    s3.Bucket(data_stack, "Careless")  # no TLS-only policy, no access logs
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    report = (tmp_path / "out" / "validation-report.json").read_text()
    assert "AwsSolutions-S10" in report and "Careless" in report
