"""The CDK app, synthesised offline: resources that matter, cdk-nag (in synth) and cfn-lint, config errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

cdk = pytest.importorskip("aws_cdk")
from aws_cdk.assertions import Match, Template  # noqa: E402

from infra.app import build_app  # noqa: E402
from infra.assets.lambda_package import build_lambda_package  # noqa: E402
from infra.config import ConfigError, load_config  # noqa: E402
from tests.conftest import ALARM_EMAIL, synth_context  # noqa: E402
from tests.test_signing_key_rotation import ROTATION_FILES  # noqa: E402


def test_data_buckets_are_kms_encrypted_tls_only_versioned_private_and_kept(synthesized):
    data = synthesized["dev"]["data"]
    buckets = data.find_resources("AWS::S3::Bucket")
    assert len(buckets) == 4  # data, models, capture + the access-log bucket
    kms = [
        b
        for b in buckets.values()
        if b["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
            "SSEAlgorithm"
        ]
        == "aws:kms"
    ]
    assert len(kms) == 3
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert bucket["DeletionPolicy"] == "Retain"
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["PublicAccessBlockConfiguration"] == {
            key: True for key in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
        }
        assert props["LifecycleConfiguration"]["Rules"]
    for bucket in kms:
        assert "LoggingConfiguration" in bucket["Properties"]
    policies = data.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 4
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        )
    data.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_every_api_route_but_health_and_docs_needs_an_api_key(synthesized):
    from tests.test_api_auth import methods

    api = synthesized["dev"]["api"]
    public = sorted(route for route, m in methods(api).items() if not m.get("ApiKeyRequired"))
    assert public == ["ANY /docs", "ANY /docs/assets/{name}", "ANY /openapi.json", "ANY /v1/health"]
    assert len(methods(api)) == 6
    api.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {"Throttle": {"RateLimit": 10, "BurstLimit": 20}, "Quota": {"Limit": 10000, "Period": "DAY"}},
    )
    api.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {"StageName": "dev", "TracingEnabled": True, "AccessLogSetting": Match.object_like({})},
    )
    assert "ApiUrl" in api.find_outputs("*")


def test_lambda_runs_the_package_lean_traced_and_inside_the_api_timeout(synthesized):
    api = synthesized["dev"]["api"]
    api.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "functions.lambda_handler.handler",
            "Runtime": "python3.13",
            "Timeout": 28,
            "MemorySize": 2048,
            "TracingConfig": {"Mode": "Active"},
            "Environment": {
                "Variables": Match.object_like({"GOLIVE_BACKEND": "onnx", "GOLIVE_FEEDBACK_TABLE": Match.any_value()})
            },
        },
    )
    api.has_resource_properties(
        "AWS::DynamoDB::GlobalTable",
        {"Replicas": [Match.object_like({"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}})]},
    )


def _statements(template: Template) -> list[dict]:
    return [
        s
        for p in template.find_resources("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_lambda_permissions_are_scoped_to_its_table_and_endpoint(synthesized):
    dev = _statements(synthesized["dev"]["api"])
    dynamo = [s for s in dev if any(str(a).startswith("dynamodb:") for a in s["Action"])]
    assert dynamo and all(s["Resource"] != "*" for s in dynamo)
    assert not any("sagemaker:InvokeEndpoint" in str(s["Action"]) for s in dev)  # dev serves in-Lambda ONNX
    prod = _statements(synthesized["prod"]["api"])
    invoke = [s for s in prod if s["Action"] == "sagemaker:InvokeEndpoint"]
    assert len(invoke) == 1 and "endpoint/golive-prod-endpoint" in json.dumps(invoke[0]["Resource"])
    wildcard = [s for s in dev + prod if s["Resource"] == "*"]
    # GetRandomPassword: the signing key's rotation function draws new keys with it (it takes no resource)
    assert all(
        set(_actions(s)) <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "secretsmanager:GetRandomPassword"}
        for s in wildcard
    )


def test_lambda_reads_only_its_own_signing_secret(synthesized):
    """The function refuses to start without GOLIVE_SIGNING_SECRET_ARN (functions/lambda_handler.py)."""
    for env in ("dev", "prod"):
        api = synthesized[env]["api"]
        (secret_id,) = api.find_resources("AWS::SecretsManager::Secret")
        (function,) = api.find_resources(
            "AWS::Lambda::Function", {"Properties": {"Handler": "functions.lambda_handler.handler"}}
        ).values()
        assert function["Properties"]["Environment"]["Variables"]["GOLIVE_SIGNING_SECRET_ARN"] == {"Ref": secret_id}
        reads = [s for s in _statements(api) if "secretsmanager:GetSecretValue" in s["Action"]]
        # the API function reads it; the rotation function reads and writes it: nothing else touches it
        assert [s["Resource"] for s in reads] == [{"Ref": secret_id}] * 2
        writes = [s for s in _statements(api) if "secretsmanager:PutSecretValue" in _actions(s)]
        assert (
            len(writes) == 1
            and set(_actions(writes[0]))
            == {
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecretVersionStage",
            }
            and writes[0]["Resource"] == {"Ref": secret_id}
        )


def test_the_signing_key_rotates_on_the_configured_schedule_through_its_own_function(synthesized):
    """Every api.signing_key_rotation_days (at least 1: ids are valid until the second rotation after they were
    issued, and a warm instance keeps signing with its start key); not at deploy time; only Secrets Manager acting
    for this account may invoke the function."""
    from infra.assets.rotation import HANDLER

    for env in ("dev", "prod"):
        api = synthesized[env]["api"]
        days = load_config(env).api.signing_key_rotation_days
        assert days >= 1
        (secret_id,) = api.find_resources("AWS::SecretsManager::Secret")
        (schedule,) = api.find_resources("AWS::SecretsManager::RotationSchedule").values()
        ((function_id, function),) = api.find_resources(
            "AWS::Lambda::Function", {"Properties": {"Handler": HANDLER}}
        ).items()
        assert schedule["Properties"] == {
            "SecretId": {"Ref": secret_id},
            "RotateImmediatelyOnUpdate": False,
            "RotationLambdaARN": {"Fn::GetAtt": [function_id, "Arn"]},
            "RotationRules": {"ScheduleExpression": f"rate({days} days)"},
        }
        assert function["Properties"]["Runtime"] == "python3.13"
        assert function["Properties"]["TracingConfig"] == {"Mode": "Active"}
        (permission,) = [
            p["Properties"]
            for p in api.find_resources("AWS::Lambda::Permission").values()
            if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}
        ]
        assert permission["Principal"] == "secretsmanager.amazonaws.com"
        assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}
    asset = (
        Path(synthesized["dev"]["_outdir"]) / f"asset.{function['Properties']['Code']['S3Key'].removesuffix('.zip')}"
    )
    assert_ships_and_compiles(
        asset,
        ROTATION_FILES,
    )


def assert_ships_and_compiles(asset: Path, expected: list[str]) -> None:
    """A small function's code asset holds exactly `expected` (its import closure) and the runtime's Python compiles it."""
    import py_compile

    shipped = sorted(str(p.relative_to(asset)) for p in asset.rglob("*.py"))
    assert shipped == expected
    python313 = Path.home() / ".pyenv/versions/3.13.0/bin/python3.13"
    if python313.exists():  # the runtime's Python compiles what ships
        subprocess.run([str(python313), "-m", "compileall", "-q", str(asset)], check=True)
    else:
        assert all(py_compile.compile(str(asset / name), doraise=True) for name in shipped)


def test_cfn_lint_finds_nothing(synthesized):
    templates = [str(p) for env in ("dev", "prod") for p in Path(synthesized[env]["_outdir"]).glob("*.template.json")]
    assert len(templates) == 15  # dev: account, alerts, data, training, api, monitoring, costs; prod adds inference
    result = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), *templates], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "change,message",
    [
        (
            {"training": {"instance_type": "ml.m5.large"}},
            "training.instance_type: 'ml.m5.large' is not a SageMaker GPU",
        ),
        ({"endpoint": {"min_instances": 3, "max_instances": 2}}, "max_instances (2) is below min_instances (3)"),
        ({"api": {"lambda_memory_mb": 64}}, "api.lambda_memory_mb: Input should be greater than or equal to 512"),
        ({"region": "mars-1"}, "region: 'mars-1' is not an AWS region"),
        ({"api": {"throttle_burts": 5}}, "api.throttle_burts: unknown key"),
        (
            {"endpoint": {"instance_type": "ml.g5.2xlage"}},
            "'ml.g5.2xlage' is not a SageMaker GPU instance type; did you mean 'ml.g5.2xlarge'?",
        ),
        ({"api": {"backend": "sagemaker"}, "endpoint": {"enabled": False}}, "enable the endpoint"),
        (
            {"monitoring": {"min_online_accuracy": 1.5}},
            "monitoring.min_online_accuracy: Input should be less than or equal to 1",
        ),
        ({"monitoring": {"period_minutes": 7}}, "monitoring.period_minutes: Input should be 1, 5, 15 or 60"),
        (
            {"training": {"hyperparameters": {"batch-sise": "32"}}},
            "training.hyperparameters: 'batch-sise' is not a training flag a pipeline may set; did you mean 'batch-size'?",
        ),
        (
            {"training": {"hyperparameters": {"epochs": "three"}}},
            "training.hyperparameters: epochs: expected a number, got 'three'",
        ),
        (
            {"training": {"hyperparameters": {"max-length": "1024"}}},
            "training.hyperparameters: max-length: must be between 8 and 512, got 1024",
        ),
        (
            {"training": {"hyperparameters": {"group-by-length": "maybe"}}},
            "training.hyperparameters: group-by-length: expected true or false, got 'maybe'",
        ),
        (
            {"training": {"hyperparameters": {"epochs": 3}}},
            "training.hyperparameters.epochs: Input should be a valid string",
        ),
    ],
)
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


def test_cdk_nag_fails_synth_on_an_unacknowledged_finding_of_every_pack(tiny_bundle, tmp_path):
    from aws_cdk import aws_logs as logs
    from aws_cdk import aws_s3 as s3
    from aws_cdk import aws_sqs as sqs

    package = tmp_path / "pkg"
    build_lambda_package(tiny_bundle, package, install=False)
    app = build_app(
        cdk.App(
            outdir=str(tmp_path / "out"),
            context=synth_context("dev", package, tiny_bundle, tmp_path, compliance="hipaa,nist"),
        )
    )
    data_stack = next(s for s in app.node.children if isinstance(s, cdk.Stack) and s.stack_name.endswith("-data"))
    s3.Bucket(data_stack, "Careless")  # no TLS-only policy, no access logs
    sqs.Queue(data_stack, "CarelessQueue", enforce_ssl=True)  # no dead-letter queue
    logs.LogGroup(data_stack, "CarelessLogs", removal_policy=cdk.RemovalPolicy.DESTROY)  # no KMS key
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "out" / "validation-report.json").read_text())
    found = {
        (v["ruleName"], c["constructPath"].split("/")[1])
        for plugin in report["pluginReports"]
        for v in plugin["violations"]
        for c in v["violatingConstructs"]
    }
    assert {
        ("AwsSolutions-S10", "Careless"),
        ("Serverless-SQSRedrivePolicy", "CarelessQueue"),
        ("HIPAA.Security-CloudWatchLogGroupEncrypted", "CarelessLogs"),
        ("NIST.800.53.R5-CloudWatchLogGroupEncrypted", "CarelessLogs"),
    } <= found
    assert {path for _, path in found} == {"Careless", "CarelessQueue", "CarelessLogs"}  # the rest is clean


# --- training, inference, monitoring and costs stacks ---------------------------------------------------------


def _definition(template: Template) -> dict:
    """The state machine's definition with CloudFormation references rendered as <...> placeholders."""
    machine = next(iter(template.find_resources("AWS::StepFunctions::StateMachine").values()))
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else f"<{json.dumps(p)}>".replace('"', "'") for p in parts))


def test_training_runs_our_code_on_a_gpu_spot_job_with_checkpoints_and_metric_regexes(synthesized):
    from golive.contracts.training_metrics import SAGEMAKER_METRIC_DEFINITIONS
    from infra.assets.training_source import ENTRY_POINT

    config = load_config("prod")
    train = _definition(synthesized["prod"]["training"])["States"]["Train"]
    assert train["Resource"].endswith(":states:::sagemaker:createTrainingJob.sync")
    params = train["Parameters"]
    assert params["ResourceConfig"]["InstanceType"] == config.training.instance_type
    assert params["ResourceConfig"]["InstanceType"].startswith("ml.g")
    spec = params["AlgorithmSpecification"]
    assert spec["TrainingImage"].endswith(
        f"/pytorch-training:{config.training.pytorch_version}-gpu-{config.training.py_version}"
    )
    assert spec["MetricDefinitions"] == SAGEMAKER_METRIC_DEFINITIONS
    assert params["EnableManagedSpotTraining"] is True
    stopping = params["StoppingCondition"]
    assert stopping["MaxWaitTimeInSeconds"] >= stopping["MaxRuntimeInSeconds"] == config.training.max_run_hours * 3600
    assert params["CheckpointConfig"]["LocalPath"] == "/opt/ml/checkpoints"
    assert "/checkpoints/{}/" in params["CheckpointConfig"]["S3Uri.$"]
    assert params["HyperParameters"]["sagemaker_program"] == ENTRY_POINT
    assert ".gz" in params["HyperParameters"]["sagemaker_submit_directory"]
    assert "KmsKeyId" in params["OutputDataConfig"]
    assert {t["Key"]: t["Value"] for t in params["Tags"]}["Stage"] == "training"
    assert "Catch" in train


def test_torchrun_runs_one_process_per_gpu_whenever_a_job_has_more_than_one_gpu(tmp_path):
    """A single multi-GPU instance (ml.g5.12xlarge: 4, ml.p4d.24xlarge: 8) as well as several instances."""
    from infra.app import FEATURE_FLAGS
    from infra.assets.training_source import build_source_tarball
    from infra.config import GPUS_PER_INSTANCE
    from infra.stacks.alerts_stack import AlertsStack
    from infra.stacks.data_stack import DataStack
    from infra.stacks.training_stack import TrainingStack
    from infra.training_job import training_image_uri

    assert GPUS_PER_INSTANCE["ml.g5.12xlarge"] == 4 and GPUS_PER_INSTANCE["ml.p4d.24xlarge"] == 8
    assert GPUS_PER_INSTANCE["ml.g5.2xlarge"] == 1
    dev, tarball = load_config("dev"), build_source_tarball(tmp_path / "source.tar.gz")
    app = cdk.App(context={flag: True for flag in FEATURE_FLAGS})
    expected = {}
    for instance_type, count, distributed in [
        ("ml.g5.xlarge", 1, False),
        ("ml.g5.12xlarge", 1, True),
        ("ml.p4d.24xlarge", 1, True),
        ("ml.g5.2xlarge", 2, True),
    ]:
        training = dev.training.model_copy(update={"instance_type": instance_type, "instance_count": count})
        config = dev.model_copy(update={"training": training})
        image, name = training_image_uri(config), f"{instance_type.replace('.', '-')}-x{count}"
        data = DataStack(app, f"{name}-data", config=config, training_image_account=image.split(".")[0])
        expected[name] = (
            TrainingStack(
                app,
                f"{name}-training",
                config=config,
                data=data,
                training_image=image,
                source_tarball=tarball,
                serving_image=None,
                logs_key=AlertsStack(app, f"{name}-alerts", config=config).logs_key,
            ),
            distributed,
        )
    for name, (stack, distributed) in expected.items():
        hyperparameters = _definition(Template.from_stack(stack))["States"]["Train"]["Parameters"]["HyperParameters"]
        assert (hyperparameters.get("sagemaker_torch_distributed_enabled") == "true") is distributed, name
    for env in ("dev", "prod"):  # the shipped environments train on one GPU
        assert not load_config(env).training.distributed


def test_only_the_inference_stack_builds_a_docker_image_and_whatever_uses_it_deploys_after_it(synthesized):
    """dev (no endpoint) deploys without Docker; `cdk deploy golive-prod-api` or `-training` publishes the image
    first, because the stack that owns it is among their dependencies."""

    def docker_images(env: str) -> dict[str, int]:
        outdir = Path(synthesized[env]["_outdir"])
        return {
            p.name.removesuffix(".assets.json"): len(json.loads(p.read_text()).get("dockerImages", {}))
            for p in outdir.glob("*.assets.json")
        }

    assert docker_images("dev") and not any(docker_images("dev").values())
    prod = docker_images("prod")
    assert {stack for stack, images in prod.items() if images} == {"golive-prod-inference"}
    artifacts = json.loads((Path(synthesized["prod"]["_outdir"]) / "manifest.json").read_text())["artifacts"]

    def needs(stack: str) -> set[str]:
        direct = {d for d in artifacts[stack].get("dependencies", []) if not d.endswith(".assets")}
        return direct.union(*(needs(d) for d in direct))

    assert "golive-prod-inference" in needs("golive-prod-api") & needs("golive-prod-training")
    assert "golive-prod-training" not in needs("golive-prod-inference")  # no cycle: the image flows one way
    model = next(iter(synthesized["prod"]["inference"].find_resources("AWS::SageMaker::Model").values()))
    assert "container-assets" in json.dumps(model["Properties"]["PrimaryContainer"]["Image"])


def test_source_tarball_runs_the_entry_point_with_pinned_requirements(tmp_path):
    import tarfile

    from infra.assets.training_source import ENTRY_POINT, build_source_tarball

    first = build_source_tarball(tmp_path / "a.tar.gz").read_bytes()
    assert build_source_tarball(tmp_path / "b.tar.gz").read_bytes() == first  # same bytes: stable asset hash
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        names = tar.getnames()
        requirements = tar.extractfile("requirements.txt").read().decode()
    assert ENTRY_POINT in names and "golive/bundle/store.py" in names and "training/train.py" in names
    assert not [n for n in names if n.startswith(("cli/", "infra/", "functions/"))]  # training imports only the core
    assert "transformers==" in requirements and "torch" not in requirements  # the image brings torch


def test_only_models_above_the_floor_and_better_than_the_serving_one_are_approved_and_promoted(synthesized):
    """The gate's thresholds are the environment's (its decisions, executed: tests/test_pipeline.py)."""
    config = load_config("prod").training
    states = _definition(synthesized["prod"]["training"])["States"]

    def threshold(choice: str, variable: str) -> tuple[float, str]:
        [rule] = [r for r in states[choice]["Choices"] if r.get("Variable") == variable]
        [(operator, value)] = [(k, v) for k, v in rule.items() if k.startswith("Numeric")]
        return value, f"{operator}->{rule['Next']}"

    for gate in ("ComparedGate", "FloorGate"):  # the floor first, on both paths
        assert states[gate]["Choices"][0]["Variable"] == "$.gate.accuracy"
        assert threshold(gate, "$.gate.accuracy") == (config.promote_min_accuracy, "NumericLessThan->BelowFloor")
    assert threshold("ComparedGate", "$.gate.rows") == (config.min_comparison_rows, "NumericLessThan->NotEnoughData")
    assert threshold("ComparedGate", "$.gate.gain") == (config.promote_min_gain, "NumericGreaterThanEquals->Better")
    assert states["ComparedGate"]["Default"] == "NotBetter" and states["FloorGate"]["Default"] == "FirstModel"
    for decision, registered in [
        ("Better", "RegisterApproved"),
        ("FirstModel", "RegisterApproved"),
        ("BelowFloor", "RegisterRejected"),
        ("NotBetter", "RegisterRejected"),
        ("NotEnoughData", "RegisterPending"),
        ("CannotCompare", "RegisterPending"),
        ("ChampionModelMissing", "RegisterPending"),
    ]:
        assert states[decision]["Next"] == registered
    statuses = {s: states[s]["Parameters"]["ModelApprovalStatus"] for s in states if s.startswith("Register")}
    assert statuses == {
        "RegisterApproved": "Approved",
        "RegisterRejected": "Rejected",
        "RegisterPending": "PendingManualApproval",
    }
    assert states["RegisterRejected"]["Next"] == "KeptCurrentModel"
    assert states["RegisterPending"]["Next"] == "AwaitingApproval"
    assert states["RegisterApproved"]["Next"] == "NameModel"
    assert "challenger_accuracy" in states["ReadTraining"]["Parameters"]["training"]["Metrics"]["accuracy.$"]
    # no JSONPath reaches into FinalMetricDataList before a Choice has seen that it is there
    assert "ResultSelector" not in states["Train"] and states["Train"]["Next"] == "HasMetrics"
    assert states["HasMetrics"]["Choices"] == [
        {"Variable": "$.job.FinalMetricDataList", "IsPresent": True, "Next": "ReadTraining"}
    ]
    assert states["HasMetrics"]["Default"] == states["Scores"]["Choices"][0]["Next"] == "NoAccuracyMetric"
    update = states["BlueGreenUpdate"]["Parameters"]
    assert update["EndpointName"] == "golive-prod-endpoint"
    alarms = [a["AlarmName"] for a in update["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]]
    declared = [
        a["Properties"]["AlarmName"]
        for a in synthesized["prod"]["inference"].find_resources("AWS::CloudWatch::Alarm").values()
    ]
    assert alarms and set(alarms) <= set(declared)
    # prod captures no raw traffic (endpoint.data_capture_percent 0): the promote step's config has none either
    assert "DataCaptureConfig" not in states["CreateEndpointConfig"]["Parameters"]
    for state in ("CreateModel", "CreateEndpointConfig"):
        assert {t["Key"]: t["Value"] for t in states[state]["Parameters"]["Tags"]}["Stage"] == "inference"
    dev = _definition(synthesized["dev"]["training"])["States"]
    assert "BlueGreenUpdate" not in dev and dev["RegisterApproved"]["Next"] == "RegisteredNoEndpoint"


def test_endpoint_is_gpu_uncaptured_blue_green_with_rollback_and_autoscaled(synthesized):
    config = load_config("prod")
    inference = synthesized["prod"]["inference"]
    inference.has_resource_properties("AWS::SageMaker::Model", {"EnableNetworkIsolation": True})
    inference.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                Match.object_like(
                    {
                        "InstanceType": config.endpoint.instance_type,
                        "InitialInstanceCount": config.endpoint.min_instances,
                    }
                )
            ],
            "DataCaptureConfig": Match.absent(),  # raw bodies, unredacted: off unless an environment asks
        },
    )
    endpoint = next(iter(inference.find_resources("AWS::SageMaker::Endpoint").values()))["Properties"]
    assert endpoint["EndpointName"] == "golive-prod-endpoint"
    policy = endpoint["DeploymentConfig"]
    assert (
        policy["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["WaitIntervalInSeconds"]
        == config.endpoint.bake_minutes * 60
    )
    assert [a["AlarmName"] for a in policy["AutoRollbackConfiguration"]["Alarms"]] == [
        "golive-prod-endpoint-5xx-errors",
        "golive-prod-endpoint-model-latency",
    ]
    inference.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": "golive-prod-endpoint-5xx-errors",
            "Namespace": "AWS/SageMaker",
            "MetricName": "Invocation5XXErrors",
            "Statistic": "Sum",
        },
    )
    inference.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {
            "MinCapacity": config.endpoint.min_instances,
            "MaxCapacity": config.endpoint.max_instances,
            "ResourceId": "endpoint/golive-prod-endpoint/variant/AllTraffic",
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        },
    )
    inference.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "TargetValue": config.endpoint.invocations_per_instance_target,
                    "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
                }
            ),
        },
    )
    assert "inference" not in synthesized["dev"]  # dev switches the endpoint off: nothing billed while idle


def test_sagemaker_and_pipeline_roles_are_scoped_to_prefixes_and_names(synthesized):
    data = _statements(synthesized["prod"]["data"])
    s3 = [s for s in data if any(str(a).startswith("s3:") for a in _actions(s))]
    assert s3 and not any(a.endswith("*") for s in s3 for a in _actions(s))
    objects = [json.dumps(s["Resource"]) for s in s3 if "s3:ListBucket" not in _actions(s)]
    assert all(
        any(
            p in r
            for p in (
                *("/train/*", "/cli-jobs/*", "/feedback-exports/*", "/eval/*"),
                *("/training-output/*", "/checkpoints/*", "/endpoint/*", "-assets-"),
            )
        )
        for r in objects
    )
    listing = [s for s in s3 if "s3:ListBucket" in _actions(s)]
    assert listing and all("s3:prefix" in json.dumps(s["Condition"]) for s in listing)
    pipeline = _statements(synthesized["prod"]["training"])
    sagemaker = [s for s in pipeline if any(str(a).startswith("sagemaker:") for a in _actions(s))]
    scoped = [s for s in sagemaker if _actions(s) != ["sagemaker:listModelPackages"]]  # takes no resource ARN
    assert scoped and all(s["Resource"] != "*" and "golive-prod" in json.dumps(s["Resource"]) for s in scoped)
    pass_role = [s for s in pipeline if "iam:PassRole" in _actions(s)]
    assert pass_role[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    wildcard = [s for s in data + pipeline if s["Resource"] == "*"]
    allowed = {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "cloudwatch:PutMetricData",
        "ecr:GetAuthorizationToken",
        "sagemaker:listModelPackages",  # the champion lookup (FindChampion names the group in its request)
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    }
    assert all(set(_actions(s)) <= allowed for s in wildcard), wildcard


def _actions(statement: dict) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def test_alert_topic_is_encrypted_and_budgets_cover_every_stage(synthesized):
    from infra.naming import STAGES

    alerts = synthesized["prod"]["alerts"]
    alerts.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    alerts.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": ALARM_EMAIL})
    budgets = synthesized["prod"]["costs"].find_resources("AWS::Budgets::Budget")
    stages = {}
    for budget in budgets.values():
        data = budget["Properties"]["Budget"]
        tags = {e["Tags"]["Key"]: e["Tags"]["Values"] for e in data["FilterExpression"]["And"]}
        assert tags["Environment"] == ["prod"]
        stages[tags["Stage"][0]] = data["BudgetLimit"]["Amount"]
        alerts = {
            (n["Notification"]["NotificationType"], n["Notification"]["Threshold"])
            for n in budget["Properties"]["NotificationsWithSubscribers"]
        }
        assert alerts == {("ACTUAL", 80), ("FORECASTED", 100)}
    assert set(stages) == set(STAGES)
    assert stages == load_config("prod").costs.monthly_budget_usd


def _tags(properties: dict, key: str) -> dict[str, str]:
    """Tags as a dict, whichever of CloudFormation's shapes the resource uses."""
    value = properties.get(key)
    if isinstance(value, dict):  # a map (e.g. SSM) or a nested {"Tags": [...]}
        value = value.get("Tags", value)
        if isinstance(value, dict):
            return value
    return {t["Key"]: t["Value"] for t in value or []}


def test_every_taggable_resource_carries_project_environment_stage_and_cost_center(synthesized):
    """The tag walk: any resource whose CloudFormation schema takes tags must carry all four."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    from infra.naming import STAGES

    checked, missing = 0, []
    for env in ("dev", "prod"):
        for name, template in synthesized[env].items():
            if name.startswith("_"):
                continue
            for logical_id, resource in template.to_json()["Resources"].items():
                schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource["Type"]).schema
                key = next((k for k in ("Tags", "ResourceTags") if k in schema.get("properties", {})), None)
                if key is None:
                    continue
                checked += 1
                tags = _tags(resource.get("Properties", {}), key)
                # the account stack is shared by every environment of an account and region
                environment = "shared" if name == "account" else env
                want = {"Project": "golive", "Environment": environment, "CostCenter": load_config(env).cost_center}
                if {k: tags.get(k) for k in want} != want or tags.get("Stage") not in STAGES:
                    missing.append(f"{env}/{name}/{logical_id} ({resource['Type']}): {tags}")
    assert checked > 40
    assert not missing, "untagged resources:\n" + "\n".join(missing)


def test_cost_tags_are_activated_and_anomalies_alert_the_topic(synthesized):
    costs = synthesized["prod"]["costs"]
    activation = next(iter(costs.find_resources("Custom::AWS").values()))["Properties"]
    create = json.loads(activation["Create"]) if isinstance(activation["Create"], str) else activation["Create"]
    create = (
        create
        if isinstance(create, dict)
        else json.loads("".join(p for p in create["Fn::Join"][1] if isinstance(p, str)))
    )
    assert create["service"] == "CostExplorer" and create["action"] == "updateCostAllocationTagsStatus"
    assert {t["TagKey"] for t in create["parameters"]["CostAllocationTagsStatus"]} == {
        "Project",
        "Environment",
        "Stage",
        "CostCenter",
    }
    monitor = next(iter(costs.find_resources("AWS::CE::AnomalyMonitor").values()))["Properties"]
    spec = json.loads(monitor["MonitorSpecification"])
    assert {"Key": "Environment", "Values": ["prod"], "MatchOptions": ["EQUALS"]} in [e["Tags"] for e in spec["And"]]
    subscription = next(iter(costs.find_resources("AWS::CE::AnomalySubscription").values()))["Properties"]
    assert subscription["Frequency"] == "IMMEDIATE" and subscription["Subscribers"][0]["Type"] == "SNS"
    threshold = json.loads(subscription["ThresholdExpression"])["Dimensions"]
    assert threshold["Values"] == [str(load_config("prod").costs.anomaly_threshold_usd)]
