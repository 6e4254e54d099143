"""What every golive training job is made of, for the pipeline's Train state and `golive train --sagemaker` alike:
AWS's PyTorch training image, our source tarball run in script mode, the instances, managed spot, S3 checkpoints
and the metric definitions. In CreateTrainingJob's own shape (what Step Functions passes on), so neither caller
can drift from the other.

    s3://<data bucket>/cli-jobs/<job>/source/sourcedir.tar.gz    what `golive train --sagemaker` uploads
    s3://<data bucket>/cli-jobs/<job>/<channel>/...              ... and the local files of its channels (30 days)
    s3://<models bucket>/training-output/<job>/output/model.tar.gz   the bundle, as every job writes it
    s3://<models bucket>/checkpoints/<job>/                     spot checkpoints, kept 14 days
"""

from __future__ import annotations

import os

from golive.contracts.training_metrics import SAGEMAKER_METRIC_DEFINITIONS
from infra.assets.training_source import ENTRY_POINT
from infra.config import EnvironmentConfig, TrainingSettings
from infra.deployed import DeployedData
from infra.naming import CHECKPOINT_LOCAL_PATH, api_tags

CLI_JOBS_PREFIX = "cli-jobs/"  # data bucket: source and local data of jobs launched from a laptop
OUTPUT_PREFIX = "training-output/"  # models bucket: every job's model.tar.gz
CHECKPOINTS_PREFIX = "checkpoints/"  # models bucket: spot checkpoints, one folder per job or run


# what botocore reads the user's AWS configuration from (profiles, config and credentials files)
AWS_CONFIGURATION = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")


def training_image_uri(config: EnvironmentConfig) -> str:
    """AWS's PyTorch training image for this region and instance type, resolved offline by the SDK."""
    image_uris = _image_uris()
    return image_uris.retrieve(
        framework="pytorch",
        region=config.region,
        version=config.training.pytorch_version,
        py_version=config.training.py_version,
        instance_type=config.training.instance_type,
        image_scope="training",
    )


def _image_uris():
    """sagemaker.core.image_uris, imported with no AWS configuration in sight. The SDK opens a boto3 session while
    it imports (for JumpStart's default region, which golive never uses) and `retrieve` reads only the SDK's own
    tables: synth needs no AWS configuration, so a stale AWS_PROFILE or a broken ~/.aws/config must not stop it."""
    saved = {name: os.environ.pop(name, None) for name in AWS_CONFIGURATION}
    os.environ.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    try:
        from sagemaker.core import image_uris
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return image_uris


def source_hyperparameters(training: TrainingSettings, source_url: str, region: str) -> dict[str, str]:
    """What the framework container needs to run training/cli.py from the tarball at `source_url`."""
    hyperparameters = {
        "sagemaker_program": ENTRY_POINT,
        "sagemaker_submit_directory": source_url,
        "sagemaker_region": region,
    }
    if training.distributed:  # the toolkit launches torchrun, one process per GPU on every instance
        hyperparameters["sagemaker_torch_distributed_enabled"] = "true"
    return hyperparameters


def job_settings(training: TrainingSettings, training_image: str) -> dict:
    """The image, the metrics SageMaker reads from the log, the instances and the time limits (managed spot waits
    up to max_wait_hours for capacity, run time included)."""
    stopping = {"MaxRuntimeInSeconds": int(training.max_run_hours * 3600)}
    if training.use_spot:
        stopping["MaxWaitTimeInSeconds"] = int(training.max_wait_hours * 3600)
    return {
        "AlgorithmSpecification": {
            "TrainingImage": training_image,
            "TrainingInputMode": "File",
            "MetricDefinitions": SAGEMAKER_METRIC_DEFINITIONS,
        },
        # GPU instances have local NVMe storage, encrypted by the hardware; SageMaker refuses a
        # VolumeKmsKeyId for them
        "ResourceConfig": {
            "InstanceType": training.instance_type,
            "InstanceCount": training.instance_count,
            "VolumeSizeInGB": training.volume_size_gb,
        },
        "StoppingCondition": stopping,
        "EnableManagedSpotTraining": training.use_spot,
        "EnableInterContainerTrafficEncryption": training.instance_count > 1,
    }


def s3_channel(name: str, uri: str) -> dict:
    """An input channel: every object under `uri`, copied to /opt/ml/input/data/<name> (SM_CHANNEL_<NAME>)."""
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}
        },
    }


def checkpoint_config(s3_uri: str) -> dict:
    """Spot checkpoints: SageMaker syncs /opt/ml/checkpoints with `s3_uri`, and training resumes from it."""
    return {"S3Uri": s3_uri, "LocalPath": CHECKPOINT_LOCAL_PATH}


def cli_job_request(
    config: EnvironmentConfig,
    deployed: DeployedData,
    job_name: str,
    source_url: str,
    channels: list[dict],
    hyperparameters: dict[str, str],
    role_arn: str | None = None,
) -> dict:
    """CreateTrainingJob for `golive train --sagemaker`: the pipeline's job (same image, source, instances, spot,
    metrics, tags) with the flags' hyperparameters and channels, output and checkpoints under the job's name."""
    training, models = config.training, deployed.models_bucket
    return {
        "TrainingJobName": job_name,
        "RoleArn": role_arn or deployed.training_role_arn,
        **job_settings(training, training_image_uri(config)),
        "HyperParameters": {**source_hyperparameters(training, source_url, config.region), **hyperparameters},
        "InputDataConfig": channels,
        "OutputDataConfig": {"S3OutputPath": f"s3://{models}/{OUTPUT_PREFIX}", "KmsKeyId": deployed.key_arn},
        "CheckpointConfig": checkpoint_config(f"s3://{models}/{CHECKPOINTS_PREFIX}{job_name}/"),
        "Tags": api_tags(config, "training"),
    }
