"""The training pipeline, executed (tests/test_pipeline.py): the state machine from the synthesised template, run by
moto's Step Functions interpreter against moto's SageMaker (jobs, Model Registry, models, endpoints), S3, IAM, KMS
and CloudWatch.

The resources the pipeline reaches (buckets, roles, key, model package group, the live endpoint and its
rollback alarms) are created in moto from their template properties; the definition's `Fn::Join` parts are
resolved against them. What moto lacks is bridged by the shims listed in tests/moto_shims.py, and only there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import boto3
from moto import mock_aws

from infra.config import load_config
from infra.naming import Names
from tests.moto_shims import Emulator

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
    cause: str | None  # why it failed, as Step Functions says it
    output: dict | None
    calls: list[tuple[str, dict, dict | None]]  # (resource, parameters, result) of every task the pipeline ran
    emulator: Emulator
    policy: dict  # the pipeline role's policy, resolved
    packages: list[dict]  # every package in the group, oldest first (a champion registered before the run first)
    models: list[dict]
    endpoint: dict | None
    job: dict | None  # DescribeTrainingJob of the run's training job, if it started one
    data_bucket: str  # the data bucket's name, as the pipeline sees it

    @property
    def registered(self) -> dict:
        """The package this run registered: the newest."""
        return self.packages[-1]

    @property
    def channels(self) -> dict[str, str]:
        """The training job's channels: name -> S3 URI."""
        assert self.job is not None, "the run started no training job"
        return {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in self.job["InputDataConfig"]}


def run_pipeline(
    templates: dict[str, dict],
    env: str,
    emulator: Emulator,
    *,
    execution_input: dict | Callable[[str], dict] | None = None,
    champion: str | dict | None = None,
    eval_keys: tuple[str, ...] = (),
) -> Run:
    """Create what the pipeline reaches, execute the state machine once in moto, and report what it did.
    `champion`: an Approved package registered before the run (the serving model): the ModelDataUrl its metadata
    records, or CreateModelPackage's fields besides the group and the status (a package from older golive or by hand);
    `eval_keys`: objects put in the data bucket first; `execution_input`: the execution's input ({} without; a
    function of the data bucket's name gives it)."""
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
        definition = stand_ins.resolve("training", machine["Properties"]["DefinitionString"])
        data_bucket = json.loads(definition)["States"]["FindEvalSet"]["Parameters"]["Bucket"]
        _before_the_run(names, data_bucket, champion, eval_keys)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        arn = sfn.create_state_machine(name=f"{names.prefix}-training", roleArn=role_arn, definition=definition)[
            "stateMachineArn"
        ]
        given = execution_input(data_bucket) if callable(execution_input) else execution_input or {}
        execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(given))["executionArn"]
        deadline = time.monotonic() + 60
        while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
            assert time.monotonic() < deadline, "the execution did not end within 60 s"
            time.sleep(0.1)
        events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
        observed = _observe(names)
    entered = [e for e in events if e["type"].endswith("StateEntered")]
    details = [next(v for k, v in e.items() if k.endswith("EventDetails")) for e in entered]
    return Run(
        status=described["status"],
        final_state=details[-1]["name"],
        error=described.get("error"),
        cause=described.get("cause"),
        output=json.loads(described["output"]) if "output" in described else None,
        calls=_task_calls(events),
        emulator=emulator,
        policy=_policy_of(stand_ins, role_name=role_arn.rsplit("/", 1)[1]),
        data_bucket=data_bucket,
        **observed,
    )


def _before_the_run(names: Names, data_bucket: str, champion: str | dict | None, eval_keys: tuple[str, ...]) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    for key in eval_keys:
        s3.put_object(Bucket=data_bucket, Key=key, Body=b"" if key.endswith("/") else b"text\tlabel\n")
    if isinstance(champion, str):
        champion = {"CustomerMetadataProperties": {"TrainingJobName": "earlier-run", "ModelDataUrl": champion}}
    if champion is not None:
        boto3.client("sagemaker", region_name=REGION).create_model_package(
            ModelPackageGroupName=names.model_package_group,
            ModelApprovalStatus="Approved",
            ModelPackageDescription="the model serving now",
            **champion,
        )
        time.sleep(0.01)  # the run's package is created later: ListModelPackages sorts by creation time


def _observe(names: Names) -> dict:
    """The registry, models, endpoint and training job after the run."""
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    summaries = sagemaker.list_model_packages(
        ModelPackageGroupName=names.model_package_group, SortBy="CreationTime", SortOrder="Ascending"
    )["ModelPackageSummaryList"]
    jobs = sagemaker.list_training_jobs()["TrainingJobSummaries"]
    endpoints = sagemaker.list_endpoints()["Endpoints"]
    return {
        "packages": [sagemaker.describe_model_package(ModelPackageName=p["ModelPackageArn"]) for p in summaries],
        "models": [sagemaker.describe_model(ModelName=m["ModelName"]) for m in sagemaker.list_models()["Models"]],
        "endpoint": sagemaker.describe_endpoint(EndpointName=names.endpoint) if endpoints else None,
        "job": sagemaker.describe_training_job(TrainingJobName=jobs[0]["TrainingJobName"]) if jobs else None,
    }


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
