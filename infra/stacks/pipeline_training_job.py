"""The pipeline's Train state. CDK's SageMakerCreateTrainingJob task has no managed-spot or checkpoint settings,
so the job is a Task state with the full CreateTrainingJob parameters (spot, S3 checkpoints; the .sync result
is the job's description). Its channels are found per run before it (infra/stacks/pipeline_inputs.py)."""

from __future__ import annotations

from aws_cdk import aws_stepfunctions as sfn

from golive.contracts.training_metrics import SAGEMAKER_METRIC_DEFINITIONS
from infra.assets.training_source import ENTRY_POINT
from infra.naming import CHECKPOINT_LOCAL_PATH, api_tags
from infra.stacks.pipeline_inputs import CHANNELS
from infra.stacks.pipeline_scope import PipelineScope


def train_state(states: PipelineScope) -> sfn.CustomState:
    """The training job, named per run (`<prefix>-<run id>`), followed to its end by the .sync integration."""
    return sfn.CustomState(
        states,
        "Train",
        state_json={
            "Type": "Task",
            "Resource": f"arn:{states.stack.partition}:states:::sagemaker:createTrainingJob.sync",
            "Parameters": _job_parameters(states),
            "ResultPath": "$.job",
        },
    )


def _hyperparameters(states: PipelineScope) -> dict[str, str]:
    config = states.config.training
    hyperparameters = {
        "sagemaker_program": ENTRY_POINT,
        "sagemaker_submit_directory": states.source_url,
        "sagemaker_region": states.stack.region,
        **config.hyperparameters,
    }
    if config.distributed:  # the toolkit launches torchrun, one process per GPU on every instance
        hyperparameters["sagemaker_torch_distributed_enabled"] = "true"
    return hyperparameters


def _job_parameters(states: PipelineScope) -> dict:
    config, data = states.config.training, states.data
    stopping = {"MaxRuntimeInSeconds": int(config.max_run_hours * 3600)}
    if config.use_spot:
        stopping["MaxWaitTimeInSeconds"] = int(config.max_wait_hours * 3600)
    return {
        "TrainingJobName.$": f"States.Format('{states.names.prefix}-{{}}', $.run.id)",
        "RoleArn": data.roles.training.role_arn,
        "AlgorithmSpecification": {
            "TrainingImage": states.training_image,
            "TrainingInputMode": "File",
            "MetricDefinitions": SAGEMAKER_METRIC_DEFINITIONS,
        },
        "HyperParameters": _hyperparameters(states),
        "InputDataConfig.$": CHANNELS,  # train, and feedback, eval and champion where the run has them
        "OutputDataConfig": {
            "S3OutputPath": f"s3://{data.models.bucket_name}/training-output/",
            "KmsKeyId": data.key.key_arn,
        },
        # GPU instances have local NVMe storage, encrypted by the hardware; SageMaker refuses a
        # VolumeKmsKeyId for them
        "ResourceConfig": {
            "InstanceType": config.instance_type,
            "InstanceCount": config.instance_count,
            "VolumeSizeInGB": config.volume_size_gb,
        },
        "StoppingCondition": stopping,
        "EnableManagedSpotTraining": config.use_spot,
        "CheckpointConfig": {
            "S3Uri.$": f"States.Format('s3://{data.models.bucket_name}/checkpoints/{{}}/', $.run.id)",
            "LocalPath": CHECKPOINT_LOCAL_PATH,
        },
        "EnableInterContainerTrafficEncryption": config.instance_count > 1,
        "Tags": api_tags(states.config, "training"),
    }
