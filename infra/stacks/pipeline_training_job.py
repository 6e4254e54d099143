"""The pipeline's Train state. CDK's SageMakerCreateTrainingJob task has no managed-spot or checkpoint settings,
so the job is a Task state with the full CreateTrainingJob parameters (spot, S3 checkpoints; the .sync result
is the job's description). Its channels are found per run before it (infra/stacks/pipeline_inputs.py)."""

from __future__ import annotations

from aws_cdk import aws_stepfunctions as sfn

from infra.naming import CHECKPOINT_LOCAL_PATH, api_tags
from infra.stacks.pipeline_inputs import CHANNELS
from infra.stacks.pipeline_scope import PipelineScope
from infra.training_job import job_settings, source_hyperparameters


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
    return {
        **source_hyperparameters(states.config.training, states.source_url, states.stack.region),
        **states.config.training.hyperparameters,
    }


def _job_parameters(states: PipelineScope) -> dict:
    data = states.data
    return {
        "TrainingJobName.$": f"States.Format('{states.names.prefix}-{{}}', $.run.id)",
        "RoleArn": data.roles.training.role_arn,
        **job_settings(states.config.training, states.training_image),
        "HyperParameters": _hyperparameters(states),
        "InputDataConfig.$": CHANNELS,  # train, and feedback, eval and champion where the run has them
        "OutputDataConfig": {
            "S3OutputPath": f"s3://{data.models.bucket_name}/training-output/",
            "KmsKeyId": data.key.key_arn,
        },
        "CheckpointConfig": {
            "S3Uri.$": f"States.Format('s3://{data.models.bucket_name}/checkpoints/{{}}/', $.run.id)",
            "LocalPath": CHECKPOINT_LOCAL_PATH,
        },
        "Tags": api_tags(states.config, "training"),
    }
