"""The training pipeline, executed: the state machine from the synthesised template, run by moto's Step Functions
interpreter against moto's SageMaker (jobs, Model Registry, models, endpoints), S3, IAM, KMS and CloudWatch.

The resources the pipeline reaches (buckets, roles, key, model package group, the live endpoint and its
rollback alarms) are created in moto from their template properties; the definition's `Fn::Join` parts are
resolved against them. What moto lacks is bridged by the shims listed in tests/moto_shims.py, and only there.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pytest

pytest.importorskip("aws_cdk")
boto3 = pytest.importorskip("boto3")
from moto import mock_aws  # noqa: E402
from moto.iam.access_control import IAMPolicy, PermissionResult  # noqa: E402

from infra.config import load_config  # noqa: E402
from infra.naming import Names  # noqa: E402
from tests.moto_shims import Emulator, JobRun  # noqa: E402

ACCOUNT, REGION = "123456789012", "us-east-1"  # moto's default account; the templates' region
PSEUDO = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


class StandIns:
    """The resources a template refers to, created in moto on first reference, and the template's intrinsics
    (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::ImportValue) resolved against them."""

    def __init__(self, templates: dict[str, dict]):
        self.templates = templates
        self.values: dict[tuple[str, str, str | None], str] = {}  # (stack, logical id, attribute or None for Ref)
        self.exports = {
            output["Export"]["Name"]: (stack, output["Value"])
            for stack, template in templates.items()
            for output in template.get("Outputs", {}).values()
            if "Export" in output
        }

    def resolve(self, stack: str, node):
        if isinstance(node, list):
            return [self.resolve(stack, item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((function, argument),) = node.items()
            if function == "Ref":
                return PSEUDO.get(argument) or self.attribute(stack, argument, None)
            if function == "Fn::GetAtt":
                return self.attribute(stack, *argument)
            if function == "Fn::Join":
                return argument[0].join(str(self.resolve(stack, part)) for part in argument[1])
            if function == "Fn::Sub":
                text = argument
                for name, value in PSEUDO.items():
                    text = text.replace(f"${{{name}}}", value)
                assert "${" not in text, f"unresolved Fn::Sub: {text}"
                return text
            if function == "Fn::ImportValue":
                exporter, value = self.exports[argument]
                return self.resolve(exporter, value)
        return {key: self.resolve(stack, value) for key, value in node.items()}

    def attribute(self, stack: str, logical_id: str, attribute: str | None) -> str:
        if (stack, logical_id, None) not in self.values:
            self.create(stack, logical_id)
        return self.values[(stack, logical_id, attribute)]

    def create(self, stack: str, logical_id: str) -> None:
        resource = self.templates[stack]["Resources"][logical_id]
        kind, props = resource["Type"], self.resolve(stack, resource.get("Properties", {}))
        name = f"{stack}-{logical_id}".lower()[:60]
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        if kind == "AWS::S3::Bucket":
            boto3.client("s3", region_name=REGION).create_bucket(Bucket=name)
            values = {None: name, "Arn": f"arn:aws:s3:::{name}"}
        elif kind == "AWS::IAM::Role":
            role = boto3.client("iam").create_role(
                RoleName=name, AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"])
            )["Role"]
            values = {None: name, "Arn": role["Arn"]}
        elif kind == "AWS::KMS::Key":
            key = boto3.client("kms", region_name=REGION).create_key(Description=name)["KeyMetadata"]
            values = {None: key["KeyId"], "Arn": key["Arn"]}
        elif kind == "AWS::SNS::Topic":
            topic = boto3.client("sns", region_name=REGION).create_topic(Name=name)["TopicArn"]
            values = {None: topic, "TopicArn": topic}
        elif kind == "AWS::CloudWatch::Alarm":
            boto3.client("cloudwatch", region_name=REGION).put_metric_alarm(**props)
            values = {None: props["AlarmName"], "Arn": _arn("cloudwatch", f"alarm:{props['AlarmName']}")}
        elif kind == "AWS::SageMaker::ModelPackageGroup":
            group = sagemaker.create_model_package_group(**props)["ModelPackageGroupArn"]
            values = {None: props["ModelPackageGroupName"], "ModelPackageGroupArn": group}
        elif kind == "AWS::SageMaker::Model":
            values = {None: sagemaker.create_model(ModelName=name, **props)["ModelArn"], "ModelName": name}
        elif kind == "AWS::SageMaker::EndpointConfig":
            config = sagemaker.create_endpoint_config(EndpointConfigName=name, **props)["EndpointConfigArn"]
            values = {None: config, "EndpointConfigName": name}
        elif kind == "AWS::SageMaker::Endpoint":
            values = {None: sagemaker.create_endpoint(**props)["EndpointArn"], "EndpointName": props["EndpointName"]}
        else:
            raise AssertionError(f"no moto stand-in for {kind} ({stack}/{logical_id})")
        self.values.update({(stack, logical_id, attribute): value for attribute, value in values.items()})

    def of_type(self, stack: str, kind: str) -> list[str]:
        return [lid for lid, r in self.templates[stack]["Resources"].items() if r["Type"] == kind]


@dataclass
class Run:
    status: str
    final_state: str
    error: str | None
    output: dict | None
    calls: list[tuple[str, dict, dict | None]]  # (resource, parameters, result) of every task the pipeline ran
    emulator: Emulator
    policy: dict  # the pipeline role's policy, resolved
    packages: list[dict]
    models: list[dict]
    endpoint: dict | None


def run_pipeline(templates: dict[str, dict], env: str, emulator: Emulator) -> Run:
    """Create what the pipeline reaches, execute the state machine once in moto, and report what it did."""
    names = Names(load_config(env))
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), emulator.installed():
        stand_ins = StandIns(templates)
        stand_ins.create("training", stand_ins.of_type("training", "AWS::SageMaker::ModelPackageGroup")[0])
        if "inference" in templates:  # the live endpoint and the alarms that roll a deployment back
            for alarm in stand_ins.of_type("inference", "AWS::CloudWatch::Alarm"):
                stand_ins.create("inference", alarm)
            stand_ins.create("inference", stand_ins.of_type("inference", "AWS::SageMaker::Endpoint")[0])
        machine = templates["training"]["Resources"][
            stand_ins.of_type("training", "AWS::StepFunctions::StateMachine")[0]
        ]
        role_arn = stand_ins.resolve("training", machine["Properties"]["RoleArn"])
        policy = _policy_of(stand_ins, role_name=role_arn.rsplit("/", 1)[1])
        sfn = boto3.client("stepfunctions", region_name=REGION)
        arn = sfn.create_state_machine(
            name=f"{names.prefix}-training",
            roleArn=role_arn,
            definition=stand_ins.resolve("training", machine["Properties"]["DefinitionString"]),
        )["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
        deadline = time.monotonic() + 60
        while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
            assert time.monotonic() < deadline, "the execution did not end within 60 s"
            time.sleep(0.1)
        events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        packages = [
            sagemaker.describe_model_package(ModelPackageName=p["ModelPackageArn"])
            for p in sagemaker.list_model_packages(ModelPackageGroupName=names.model_package_group)[
                "ModelPackageSummaryList"
            ]
        ]
        models = [sagemaker.describe_model(ModelName=m["ModelName"]) for m in sagemaker.list_models()["Models"]]
        endpoints = sagemaker.list_endpoints()["Endpoints"]
        endpoint = sagemaker.describe_endpoint(EndpointName=names.endpoint) if endpoints else None
    entered = [e for e in events if e["type"].endswith("StateEntered")]
    details = [next(v for k, v in e.items() if k.endswith("EventDetails")) for e in entered]
    return Run(
        status=described["status"],
        final_state=details[-1]["name"],
        error=described.get("error"),
        output=json.loads(described["output"]) if "output" in described else None,
        calls=_task_calls(events),
        emulator=emulator,
        policy=policy,
        packages=packages,
        models=models,
        endpoint=endpoint,
    )


def _policy_of(stand_ins: StandIns, role_name: str) -> dict:
    """The training stack's policy attached to this role, resolved."""
    [policy] = [
        stand_ins.resolve("training", p["PolicyDocument"])
        for p in (
            r["Properties"]
            for r in stand_ins.templates["training"]["Resources"].values()
            if r["Type"] == "AWS::IAM::Policy"
        )
        if stand_ins.resolve("training", p["Roles"]) == [role_name]
    ]
    return policy


def _task_calls(events: list[dict]) -> list[tuple[str, dict, dict | None]]:
    """(resource, parameters, result) of every Task the execution scheduled, from its history."""
    calls, results = [], {}
    for event in events:
        if event["type"] == "TaskScheduled":
            scheduled = event["taskScheduledEventDetails"]
            calls.append((scheduled["resource"], json.loads(scheduled["parameters"]), None))
        elif event["type"] == "TaskSucceeded":
            results[len(calls) - 1] = json.loads(event["taskSucceededEventDetails"]["output"])
    return [(resource, params, results.get(i)) for i, (resource, params, _) in enumerate(calls)]


@pytest.fixture(scope="module")
def templates(synthesized) -> dict[str, dict[str, dict]]:
    return {
        env: {name: t.to_json() for name, t in stacks.items() if not name.startswith("_")}
        for env, stacks in synthesized.items()
    }


APPROVED = JobRun(metrics={"train_loss": 0.21, "eval_loss": 0.3, "eval_accuracy": 0.93})


@pytest.fixture(scope="module")
def promoted(templates) -> Run:
    return run_pipeline(templates["prod"], "prod", Emulator(job=APPROVED))


@pytest.fixture(scope="module")
def rolled_back(templates) -> Run:
    return run_pipeline(templates["prod"], "prod", Emulator(job=APPROVED, rollback_alarm_fires=True))


def _params(run: Run, resource: str) -> dict:
    [params] = [params for called, params, _ in run.calls if called == resource]
    return params


def _package_of(model: dict) -> str:
    return model["PrimaryContainer"]["ModelPackageName"]


def test_approved_model_is_registered_and_promoted_blue_green(promoted):
    run, names = promoted, Names(load_config("prod"))
    assert (run.status, run.final_state) == ("SUCCEEDED", "Promoted")
    [package] = run.packages
    assert package["ModelApprovalStatus"] == "Approved"
    spec = package["InferenceSpecification"]
    job = run.output["training"]["TrainingJobName"]
    assert spec["Containers"][0]["ModelDataUrl"].endswith(f"/training-output/{job}/output/model.tar.gz")
    assert "container-assets" in spec["Containers"][0]["Image"]  # the serving image the inference stack builds
    assert "eval_accuracy 0.93" in package["ModelPackageDescription"]
    new = run.output["model"]["name"]
    [model] = [m for m in run.models if m["ModelName"] == new]
    assert _package_of(model) == package["ModelPackageArn"]
    assert _params(run, "createModel")["EnableNetworkIsolation"] is True  # moto's DescribeModel does not echo it
    assert run.endpoint["EndpointConfigName"] == new and run.endpoint["EndpointStatus"] == "InService"
    [update] = run.emulator.updates
    assert update["RetainAllVariantProperties"] is True
    assert [
        a["AlarmName"] for a in update["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    ] == names.rollback_alarms
    assert run.emulator.waits == [60]  # polled once a minute until the endpoint settled


def test_model_below_the_gate_is_registered_rejected_and_the_endpoint_keeps_its_model(templates):
    run = run_pipeline(templates["prod"], "prod", Emulator(job=JobRun(metrics={"eval_accuracy": 0.5})))
    assert (run.status, run.final_state) == ("SUCCEEDED", "KeptCurrentModel")
    assert [p["ModelApprovalStatus"] for p in run.packages] == ["Rejected"]
    assert len(run.models) == 1 and run.endpoint["EndpointConfigName"].startswith("inference-")  # the deployed one
    assert not run.emulator.updates


def test_job_that_reports_no_metric_ends_in_no_accuracy_metric_and_registers_nothing(templates):
    run = run_pipeline(templates["prod"], "prod", Emulator(job=JobRun(metrics=None)))
    assert (run.status, run.final_state, run.error) == ("FAILED", "NoAccuracyMetric", "NoAccuracyMetric")
    assert not run.packages and len(run.models) == 1 and not run.emulator.updates


def test_failed_training_job_ends_in_training_failed_and_registers_nothing(templates):
    run = run_pipeline(templates["prod"], "prod", Emulator(job=JobRun(status="Failed")))
    assert (run.status, run.final_state, run.error) == ("FAILED", "TrainingFailed", "TrainingFailed")
    assert not run.packages and len(run.models) == 1 and not run.emulator.updates


def test_rolled_back_deployment_fails_with_the_endpoint_serving_its_previous_model(rolled_back):
    run = rolled_back
    assert (run.status, run.final_state, run.error) == ("FAILED", "RolledBack", "DeploymentRolledBack")
    assert [p["ModelApprovalStatus"] for p in run.packages] == ["Approved"]  # registered, then refused by the alarms
    assert len(run.models) == 2  # the new model was created ...
    assert run.endpoint["EndpointConfigName"].startswith("inference-")  # ... but the endpoint kept the deployed one
    assert run.endpoint["EndpointStatus"] == "InService"
    assert run.emulator.waits == [60, 60]  # Updating -> RollingBack -> InService


def test_dev_registers_the_approved_model_without_an_endpoint_or_an_image(templates):
    run = run_pipeline(templates["dev"], "dev", Emulator(job=APPROVED))
    assert (run.status, run.final_state) == ("SUCCEEDED", "RegisteredNoEndpoint")
    [package] = run.packages
    assert package["ModelApprovalStatus"] == "Approved" and "InferenceSpecification" not in package
    job = run.output["training"]["TrainingJobName"]  # nothing is lost: the artefact is on the package
    assert package["CustomerMetadataProperties"] == {
        "TrainingJobName": job,
        "ModelDataUrl": run.output["training"]["ModelArtifacts"],
    }
    assert run.endpoint is None and not run.models


# --- IAM: what each call needs, by AWS's documentation, against what the pipeline role grants ------------------

EVENTS_RULE = _arn("events", "rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule")
PASSED_TO_SAGEMAKER = {"iam:PassedToService": "sagemaker.amazonaws.com"}


def required_permissions(resource: str, params: dict, result: dict | None) -> list[tuple[str, str]]:
    """(IAM action, resource ARN) that a pipeline task needs: Step Functions' policy for createTrainingJob.sync
    (docs.aws.amazon.com/step-functions/latest/dg/sagemaker-iam.html), the Service Authorization Reference for the
    SageMaker actions, `sagemaker:AddTags` for tags given at creation, and `cloudwatch:DescribeAlarms` on the
    rollback alarms of a blue/green update (SageMaker deployment guardrails)."""
    tagged = lambda arn: [("sagemaker:AddTags", arn)] if params.get("Tags") else []  # noqa: E731
    if resource == "createTrainingJob.sync":
        job = _arn("sagemaker", f"training-job/{params['TrainingJobName']}")
        return (
            [
                (f"sagemaker:{a}", job)
                for a in ("CreateTrainingJob", "DescribeTrainingJob", "StopTrainingJob", "ListTags")
            ]
            + tagged(job)
            + [("iam:PassRole", params["RoleArn"])]
            + [(f"events:{a}", EVENTS_RULE) for a in ("PutTargets", "PutRule", "DescribeRule")]
        )
    if resource == "createModelPackage":
        return [("sagemaker:CreateModelPackage", result["ModelPackageArn"])] + tagged(result["ModelPackageArn"])
    if resource == "createModel":
        model = _arn("sagemaker", f"model/{params['ModelName']}")
        return [
            ("sagemaker:CreateModel", model),
            ("iam:PassRole", params["ExecutionRoleArn"]),
            ("sagemaker:DescribeModelPackage", params["PrimaryContainer"]["ModelPackageName"]),
        ] + tagged(model)
    if resource == "createEndpointConfig":
        config = _arn("sagemaker", f"endpoint-config/{params['EndpointConfigName']}")
        return [("sagemaker:CreateEndpointConfig", config)] + tagged(config)
    if resource == "updateEndpoint":
        alarms = params["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
        return [
            ("sagemaker:UpdateEndpoint", _arn("sagemaker", f"endpoint/{params['EndpointName']}")),
            ("sagemaker:UpdateEndpoint", _arn("sagemaker", f"endpoint-config/{params['EndpointConfigName']}")),
        ] + [("cloudwatch:DescribeAlarms", _arn("cloudwatch", f"alarm:{a['AlarmName']}")) for a in alarms]
    if resource == "describeEndpoint":
        return [("sagemaker:DescribeEndpoint", _arn("sagemaker", f"endpoint/{params['EndpointName']}"))]
    raise AssertionError(f"no documented permissions listed for {resource}")


@pytest.mark.parametrize("env", ["prod", "dev"])
def test_the_pipeline_role_grants_every_call_the_pipeline_makes_and_nothing_else(templates, promoted, env):
    """Judged by moto's IAM policy evaluator on the calls an executed approve path made."""
    run = promoted if env == "prod" else run_pipeline(templates["dev"], "dev", Emulator(job=APPROVED))
    needed = [(action.lower(), arn) for call in run.calls for action, arn in required_permissions(*call)]
    statements = [{**s, "Action": [a.lower() for a in _actions(s)]} for s in run.policy["Statement"]]
    policy = IAMPolicy(json.dumps({**run.policy, "Statement": statements}))  # IAM matches actions case-blind
    denied = [
        (action, arn)
        for action, arn in needed
        if policy.is_action_permitted(
            action, arn, incoming_condition_values=PASSED_TO_SAGEMAKER if action == "iam:passrole" else None
        )
        != PermissionResult.PERMITTED
    ]
    assert not denied, f"the pipeline role lacks: {denied}"
    unused = [
        (action, resource)
        for s in statements
        if s["Resource"] != "*"  # X-Ray and log delivery (CDK's)
        for action in s["Action"]
        for resource in _listed(s["Resource"])
        if not any(
            IAMPolicy(
                json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
                    }
                )
            ).is_action_permitted(action, arn)
            == PermissionResult.PERMITTED
            for needed_action, arn in needed
            if needed_action == action
        )
    ]
    assert not unused, f"the pipeline role grants what no call needs: {unused}"


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _actions(statement: dict) -> list[str]:
    return _listed(statement["Action"])
