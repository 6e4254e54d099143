"""`golive train --sagemaker` end to end against moto, through the sagemaker SDK: the job as SageMaker records it
(spot, MaxWaitTimeInSeconds, the checkpoint URI, the flags as hyperparameters, the channels, the tags), the log
streamed, and a trained bundle downloaded into --out. moto replaces every job's metric definitions with its own
fixed one, so those are read from the CreateTrainingJob request as botocore sent it (an event hook on the
session), not from DescribeTrainingJob. The paths moto cannot take (Ctrl-C, quota, endings) are in
tests/unit/cli/test_train_sagemaker.py."""

from __future__ import annotations

import argparse
import tarfile
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from cli.main import main
from golive.bundle import read_manifest, verify_bundle
from golive.contracts.hyperparameters import HYPERPARAMETERS, hyperparameter_problems
from golive.contracts.training_metrics import SAGEMAKER_METRIC_DEFINITIONS
from infra.config import load_config
from infra.deployed import DeployedData
from infra.training_job import training_image_uri
from tests.moto_data_stack import REGION, deploy_data_stack, launcher_session, put_bundle, put_log
from training.args import add_train_arguments

JOB = "golive-dev-cli-e2e"
FLAGS = [
    "--epochs",
    "2",
    "--batch-size",
    "8",
    "--lr",
    "3e-5",
    "--label-names",
    "negative,positive",
    "--max-length",
    "64",
]


@pytest.fixture()
def aws(monkeypatch):
    yield from launcher_session(monkeypatch)


@dataclass
class Launched:
    job: dict  # DescribeTrainingJob, from moto
    sent: dict  # CreateTrainingJob as botocore sent it
    deployed: DeployedData
    out: Path
    printed: str


def launch(aws, tiny_bundle, tmp_path, capsys, flags: list[str], env: str = "dev", job: str = JOB) -> Launched:
    """`golive train --sagemaker` with `flags`, on the shipped sample data, in a deployed `env` (moto)."""
    sent: dict = {}
    aws.events.register("provide-client-params.sagemaker.CreateTrainingJob", lambda params, **_: sent.update(params))
    deployed = deploy_data_stack(aws, env)
    put_bundle(aws, deployed, job, tiny_bundle, tmp_path)
    put_log(aws, job, ["epoch=1 train_loss=0.52 learning_rate=0.0001", "eval_accuracy=0.875 eval_macro_f1=0.87"])
    out = tmp_path / "bundle"
    run = ["train", "--sagemaker", "--env", env, "--job-name", job, "--out", str(out)]
    assert main([*run, *flags]) == 0, capsys.readouterr().err
    described = aws.client("sagemaker").describe_training_job(TrainingJobName=job)
    return Launched(described, sent, deployed, out, capsys.readouterr().out)


@pytest.fixture()
def launched(aws, tiny_bundle, tmp_path, capsys) -> Launched:
    return launch(aws, tiny_bundle, tmp_path, capsys, ["--instance-type", "ml.g5.2xlarge", *FLAGS])


def training_flags(job: dict) -> dict[str, str]:
    """The job's hyperparameters less the framework's own (sagemaker_*): the flags its training runs with."""
    return {key: value for key, value in job["HyperParameters"].items() if not key.startswith("sagemaker_")}


def parsed_as_on_the_job(hyperparameters: dict[str, str]) -> argparse.Namespace:
    """The hyperparameters as the job's entry point reads them: training's own parser."""
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    return parser.parse_args([part for key, value in hyperparameters.items() for part in (f"--{key}", value)])


def test_the_job_runs_on_spot_with_checkpoints_as_the_pipelines_does(launched):
    job, deployed, dev = launched.job, launched.deployed, load_config("dev")
    assert job["EnableManagedSpotTraining"] is True
    assert job["StoppingCondition"] == {
        "MaxRuntimeInSeconds": int(dev.training.max_run_hours * 3600),
        "MaxWaitTimeInSeconds": int(dev.training.max_wait_hours * 3600),
    }
    assert job["CheckpointConfig"] == {
        "S3Uri": f"s3://{deployed.models_bucket}/checkpoints/{JOB}/",
        "LocalPath": "/opt/ml/checkpoints",
    }
    assert job["ResourceConfig"]["InstanceType"] == "ml.g5.2xlarge"  # --instance-type over the environment's
    assert job["RoleArn"] == deployed.training_role_arn
    assert job["OutputDataConfig"] == {
        "S3OutputPath": f"s3://{deployed.models_bucket}/training-output/",
        "KmsKeyId": deployed.key_arn,
    }
    training = dev.training.model_copy(update={"instance_type": "ml.g5.2xlarge"})
    assert job["AlgorithmSpecification"]["TrainingImage"] == training_image_uri(
        dev.model_copy(update={"training": training})
    )
    assert launched.sent["AlgorithmSpecification"]["MetricDefinitions"] == SAGEMAKER_METRIC_DEFINITIONS
    tags = boto3.client("sagemaker", region_name=REGION).list_tags(ResourceArn=job["TrainingJobArn"])["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {
        "Project": "golive",
        "Environment": "dev",
        "Stage": "training",
        "CostCenter": dev.cost_center,
    }


def test_the_flags_are_its_hyperparameters_and_local_data_its_channels(launched, tmp_path):
    job, bucket = launched.job, launched.deployed.data_bucket
    hyperparameters = dict(job["HyperParameters"])
    assert {key: hyperparameters.pop(key) for key in ("sagemaker_program", "sagemaker_submit_directory")} == {
        "sagemaker_program": "training/cli.py",
        "sagemaker_submit_directory": f"s3://{bucket}/cli-jobs/{JOB}/source/sourcedir.tar.gz",
    }
    assert hyperparameters.pop("sagemaker_region") == REGION
    assert hyperparameter_problems(hyperparameters) == []  # every one a flag the job's training takes
    assert {k: hyperparameters[k] for k in ("epochs", "batch-size", "lr", "label-names")} == {
        "epochs": "2.0",
        "batch-size": "8",
        "lr": "3e-05",
        "label-names": "negative,positive",
    }
    # training's own parser reads them, as the job's entry point will, as it reads the same flags here
    on_the_job = parsed_as_on_the_job(hyperparameters)
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    here = parser.parse_args(FLAGS)
    assert {name: getattr(on_the_job, name) for name in HYPERPARAMETERS} == {
        name: getattr(here, name) for name in HYPERPARAMETERS
    }
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["InputDataConfig"]}
    base = f"s3://{bucket}/cli-jobs/{JOB}/"
    assert channels == {"train": f"{base}train/", "validation": f"{base}validation/"}  # the shipped sample
    tarball = tmp_path / "source.tar.gz"
    boto3.client("s3").download_file(bucket, f"cli-jobs/{JOB}/source/sourcedir.tar.gz", str(tarball))
    with tarfile.open(tarball) as tar:
        assert {"training/cli.py", "requirements.txt", "golive/contracts/training_metrics.py"} <= set(tar.getnames())


def test_the_log_is_streamed_and_the_bundle_lands_in_out(launched, tiny_bundle):
    assert verify_bundle(launched.out).version_id == read_manifest(tiny_bundle).version_id
    printed = launched.printed
    assert "eval_accuracy=0.875 eval_macro_f1=0.87" in printed  # the job's log
    assert f"started training job {JOB}: 1 x ml.g5.2xlarge, managed spot in us-east-1" in printed
    assert f"training job {JOB} completed" in printed and f"in {launched.out}/" in printed


def test_with_no_training_flag_typed_the_job_trains_with_the_environments_hyperparameters(
    aws, tiny_bundle, tmp_path, capsys
):
    launched = launch(aws, tiny_bundle, tmp_path, capsys, [], env="prod", job="golive-prod-cli-e2e")
    prod = load_config("prod").training.hyperparameters
    assert training_flags(launched.job) == prod == {"epochs": "3", "batch-size": "32"}  # not golive train's 5 and 16
    on_the_job = parsed_as_on_the_job(prod)
    assert (on_the_job.epochs, on_the_job.batch_size) == (3.0, 32)
    assert "hyperparameters: epochs=3 batch-size=32 (prod environment)\nstarted training job" in launched.printed


@pytest.mark.parametrize(
    "typed, sent, printed",
    [
        (
            ["--batch-size", "8", "--lr", "3e-5"],
            {"epochs": "3", "batch-size": "8", "lr": "3e-05"},
            "epochs=3 (prod environment), batch-size=8 lr=3e-05 (flags)",
        ),
        (  # training's own defaults, typed: they still win over the environment's
            ["--epochs", "5", "--batch-size", "16", "--group-by-length", "true"],
            {"epochs": "5.0", "batch-size": "16", "group-by-length": "true"},
            "epochs=5.0 batch-size=16 group-by-length=true (flags)",
        ),
    ],
    ids=["a typed flag wins", "a typed flag equal to its default still wins"],
)
def test_a_typed_training_flag_wins_over_the_environments_hyperparameter(
    aws, tiny_bundle, tmp_path, capsys, typed, sent, printed
):
    launched = launch(aws, tiny_bundle, tmp_path, capsys, typed, env="prod", job="golive-prod-cli-e2e")
    assert training_flags(launched.job) == sent
    on_the_job = parsed_as_on_the_job(sent)
    assert (on_the_job.epochs, on_the_job.batch_size) == (float(sent["epochs"]), int(sent["batch-size"]))
    assert f"hyperparameters: {printed}\n" in launched.printed


@pytest.mark.parametrize(
    "typed, message",
    [
        (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
        (["--epochs", "3", "--warmup-ratio", "1"], "--warmup-ratio must be in [0, 1), got 1.0"),
    ],
)
def test_an_invalid_flag_over_the_environment_is_one_line_before_any_aws_call(monkeypatch, capsys, typed, message):
    import cli.train_sagemaker

    def no_aws(region):
        raise AssertionError("AWS was called")

    monkeypatch.setattr(cli.train_sagemaker, "aws_session", no_aws)
    assert main(["train", "--sagemaker", "--env", "prod", *typed]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def _target(template: dict, output: str) -> tuple[str, str]:
    """The logical id and type of the resource a stack output names."""
    value = template["Outputs"][output]["Value"]
    logical_id = value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]
    return logical_id, template["Resources"][logical_id]["Type"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_data_stack_outputs_what_the_launcher_reads_and_its_role_reads_the_uploads(synthesized, env):
    """The moto stack above stands in for this one: the same output names, on the same kinds of resources."""
    from infra.deployed import DATA_BUCKET_OUTPUT, DATA_KEY_OUTPUT, MODELS_BUCKET_OUTPUT, TRAINING_ROLE_OUTPUT

    template = synthesized[env]["data"].to_json()
    (data, data_type), (models, models_type) = (
        _target(template, o) for o in (DATA_BUCKET_OUTPUT, MODELS_BUCKET_OUTPUT)
    )
    assert data_type == models_type == "AWS::S3::Bucket" and data.startswith("Data") and models.startswith("Models")
    assert _target(template, DATA_KEY_OUTPUT)[1] == "AWS::KMS::Key"
    assert template["Outputs"][DATA_KEY_OUTPUT]["Value"]["Fn::GetAtt"][1] == "Arn"
    role, kind = _target(template, TRAINING_ROLE_OUTPUT)
    assert kind == "AWS::IAM::Role" and "TrainingJob" in role

    reads = [
        s
        for policy in template["Resources"].values()
        if policy["Type"] == "AWS::IAM::Policy" and {"Ref": role} in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "s3:GetObject"
    ]
    assert {"Fn::Join": ["", [{"Fn::GetAtt": [data, "Arn"]}, "/cli-jobs/*"]]} in [s["Resource"] for s in reads]
    rules = template["Resources"][data]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert {"Prefix": "cli-jobs/", "ExpirationInDays": 30, "Status": "Enabled"} in rules  # the uploads are copies
