"""What a deployed environment offers a laptop: the data stack's outputs (buckets, key, training role), read with
CloudFormation's DescribeStacks. The data stack writes them under these names; nothing else has to be known
(bucket and role names are CloudFormation's own)."""

from __future__ import annotations

from dataclasses import dataclass

from golive.aws_errors import aws_errors
from golive.errors import UserError
from infra.config import EnvironmentConfig
from infra.naming import Names

DATA_BUCKET_OUTPUT = "DataBucketName"
MODELS_BUCKET_OUTPUT = "ModelsBucketName"
DATA_KEY_OUTPUT = "DataKeyArn"
TRAINING_ROLE_OUTPUT = "TrainingRoleArn"
DATA_STACK_OUTPUTS = (DATA_BUCKET_OUTPUT, MODELS_BUCKET_OUTPUT, DATA_KEY_OUTPUT, TRAINING_ROLE_OUTPUT)


@dataclass(frozen=True)
class DeployedData:
    data_bucket: str  # training data, and what `golive train --sagemaker` uploads
    models_bucket: str  # job output and spot checkpoints
    key_arn: str  # the KMS key of both buckets (and of the job's output)
    training_role_arn: str  # the role training jobs run as


def deploy_command(config: EnvironmentConfig, stack: str) -> str:
    """The command that deploys one of the environment's stacks, and those it depends on."""
    return f"`npx cdk deploy {stack} -c env={config.name}` (README: Deploy)"


def deploy_hint(config: EnvironmentConfig) -> str:
    return f"deploy it with {deploy_command(config, Names(config).data_stack)}"


def deployed_data(session, config: EnvironmentConfig) -> DeployedData:
    """The data stack's outputs in the environment's account and region, or a UserError saying what to deploy."""
    stack = Names(config).data_stack
    with aws_errors(f"cannot read the {config.name} environment's stack {stack}", "cloudformation:DescribeStacks"):
        found = describe_stack(session.client("cloudformation", region_name=config.region), stack)
    if found is None:
        where = f"in {config.region}" + (f", account {config.account}" if config.account else "")
        raise UserError(
            f"the {config.name} environment is not deployed {where} (no stack {stack}); {deploy_hint(config)}"
        )
    outputs = stack_outputs(found)
    missing = [key for key in DATA_STACK_OUTPUTS if key not in outputs]
    if missing:
        raise UserError(
            f"stack {stack} ({found.get('StackStatus')}) has no {', '.join(missing)} output: it was deployed by an "
            f"older golive or did not finish; {deploy_hint(config)}"
        )
    return DeployedData(
        data_bucket=outputs[DATA_BUCKET_OUTPUT],
        models_bucket=outputs[MODELS_BUCKET_OUTPUT],
        key_arn=outputs[DATA_KEY_OUTPUT],
        training_role_arn=outputs[TRAINING_ROLE_OUTPUT],
    )


def describe_stack(cloudformation, name: str) -> dict | None:
    """The stack's description; None when there is no such stack (CloudFormation answers ValidationError), so each
    command can say which stack is missing and how to deploy it. Other errors are the caller's aws_errors'."""
    from botocore.exceptions import ClientError

    try:
        return cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" in str(exc.response.get("Error", {}).get("Message")):
            return None
        raise


def stack_outputs(stack: dict) -> dict[str, str]:
    """A described stack's outputs, by key."""
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
