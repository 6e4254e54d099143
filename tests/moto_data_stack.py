"""A deployed environment for `golive train --sagemaker` in moto: a CloudFormation stack named as the data stack,
with real moto buckets, key and role, and the outputs the launcher reads (infra/deployed.py). moto's
CloudFormation cannot create the synthesised data stack itself (see REFERENCE: unsupported types, tagged keys),
so this template holds what the launcher uses; tests/test_infra.py checks the real template has those outputs.

Also the pieces for the paths moto cannot take: its training jobs are Completed at once and it has no
StopTrainingJob, so those tests put botocore's Stubber on the SDK's own SageMaker client (`sdk_sagemaker_client`)
and answer DescribeTrainingJob with `described(...)`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

from infra.config import load_config
from infra.deployed import DATA_BUCKET_OUTPUT, DATA_KEY_OUTPUT, MODELS_BUCKET_OUTPUT, TRAINING_ROLE_OUTPUT, DeployedData
from infra.naming import Names

REGION = "us-east-1"  # dev's region (infra/environments/dev.json)
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}
_SAGEMAKER_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
_KEY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}],
}
TEMPLATE = {
    "Resources": {
        "Data": {"Type": "AWS::S3::Bucket"},
        "Models": {"Type": "AWS::S3::Bucket"},
        "DataKey": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": _KEY_POLICY}},
        "TrainingJob": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": _SAGEMAKER_TRUST}},
    },
    "Outputs": {
        DATA_BUCKET_OUTPUT: {"Value": {"Ref": "Data"}},
        MODELS_BUCKET_OUTPUT: {"Value": {"Ref": "Models"}},
        DATA_KEY_OUTPUT: {"Value": {"Fn::GetAtt": ["DataKey", "Arn"]}},
        TRAINING_ROLE_OUTPUT: {"Value": {"Fn::GetAtt": ["TrainingJob", "Arn"]}},
    },
}


def launcher_session(monkeypatch) -> Iterator:
    """moto, and the session `golive train --sagemaker` goes through: the test's, so it can deploy, stub and look
    (a fixture's body: `yield from launcher_session(monkeypatch)`)."""
    import boto3
    from moto import mock_aws

    import cli.train_sagemaker

    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        monkeypatch.setattr(cli.train_sagemaker, "aws_session", lambda region: session)
        yield session


def deploy_data_stack(session, env: str = "dev") -> DeployedData:
    """Create the stack in moto (inside `mock_aws`) and read it back as the launcher does."""
    from infra.deployed import deployed_data

    config = load_config(env)
    cloudformation = session.client("cloudformation", region_name=config.region)
    cloudformation.create_stack(StackName=Names(config).data_stack, TemplateBody=json.dumps(TEMPLATE))
    return deployed_data(session, config)


def sdk_sagemaker_client(session):
    """The SageMaker client the sagemaker SDK uses for `session` (it caches one per session and region)."""
    from sagemaker.core.utils.utils import SageMakerClient

    return SageMakerClient(session=session, region_name=session.region_name).sagemaker_client


def described(
    job: str,
    status: str,
    secondary: str,
    *,
    message: str = "",
    failure_reason: str = "",
    models_bucket: str = "models",
    **more,
) -> dict:
    """A DescribeTrainingJob answer (the fields botocore's model requires, and the ones the launcher reads)."""
    now = datetime(2026, 11, 24, tzinfo=UTC)
    answer = {
        "TrainingJobName": job,
        "TrainingJobArn": f"arn:aws:sagemaker:{REGION}:123456789012:training-job/{job}",
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://{models_bucket}/training-output/{job}/output/model.tar.gz"},
        "TrainingJobStatus": status,
        "SecondaryStatus": secondary,
        "AlgorithmSpecification": {"TrainingInputMode": "File", "TrainingImage": "image"},
        "ResourceConfig": {"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200},
        "CreationTime": now,
        "SecondaryStatusTransitions": [{"Status": secondary, "StartTime": now, "StatusMessage": message}],
    }
    if failure_reason:
        answer["FailureReason"] = failure_reason
    return {**answer, **more}


def put_bundle(session, deployed: DeployedData, job: str, bundle_dir, tmp_path) -> str:
    """The bundle as the job would leave it: model.tar.gz at `<S3OutputPath>/<job>/output/`, where moto's
    completed job points."""
    from golive.bundle import pack_tarball
    from infra.training_job import OUTPUT_PREFIX

    key = f"{OUTPUT_PREFIX}{job}/output/model.tar.gz"
    tarball = pack_tarball(bundle_dir, tmp_path / "model.tar.gz")
    session.client("s3").upload_file(str(tarball), deployed.models_bucket, key)
    return f"s3://{deployed.models_bucket}/{key}"


def put_log(session, job: str, lines: list[str], host: str = "algo-1") -> None:
    """What the training container prints, as SageMaker writes it to CloudWatch (one stream per instance)."""
    import time

    from infra.training_run import LOG_GROUP

    logs, stream = session.client("logs"), f"{job}/{host}-1764000000"
    if not logs.describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"]:
        logs.create_log_group(logGroupName=LOG_GROUP)
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    now = int(time.time() * 1000)  # CloudWatch refuses events older than 14 days
    events = [{"timestamp": now + i, "message": line} for i, line in enumerate(lines)]
    logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=events)
