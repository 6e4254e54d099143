"""Training: a Step Functions state machine that trains on a SageMaker GPU instance, registers the model
in the Model Registry and promotes it to the endpoint only when its accuracy clears the configured gate
(the states: infra/stacks/pipeline_states.py).

The training job runs our `training/` code (a reproducible source tarball asset) on AWS's PyTorch
training image, resolved with the sagemaker SDK at synth. Models are registered with the endpoint's
serving image, which the inference stack builds; an environment without an endpoint builds no image.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.compliance import INLINE_POLICY, accept
from infra.config import EnvironmentConfig
from infra.naming import Names
from infra.stacks.data_stack import DataStack
from infra.stacks.pipeline_states import PipelineStates


def training_image_uri(config: EnvironmentConfig) -> str:
    """AWS's PyTorch training image for this region and instance type, resolved offline by the SDK."""
    from sagemaker.core import image_uris

    return image_uris.retrieve(
        framework="pytorch",
        region=config.region,
        version=config.training.pytorch_version,
        py_version=config.training.py_version,
        instance_type=config.training.instance_type,
        image_scope="training",
    )


class TrainingStack(cdk.Stack):
    """`serving_image`: the inference stack's endpoint image URI, None when the environment has no endpoint."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        config: EnvironmentConfig,
        data: DataStack,
        training_image: str,
        source_tarball: Path,
        serving_image: str | None,
        logs_key: kms.IKey,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config, self.names = config, Names(config)
        self.source = s3_assets.Asset(self, "TrainingSource", path=str(source_tarball))
        self.model_group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=self.names.model_package_group,
            # fixed text, no settings in it: a new description replaces the group (CloudFormation), and a named
            # group cannot be replaced; each package records its gate's settings instead (pipeline_gate.py)
            model_package_group_description=f"golive {config.name}: every trained model, with the promotion "
            "gate's decision, both scores and the data it used",
        )

        states = PipelineStates(
            self,
            "States",
            config=config,
            data=data,
            training_image=training_image,
            source_url=self.source.s3_object_url,
            serving_image=serving_image,
        )
        self.state_machine = self._state_machine(states, logs_key)
        cdk.CfnOutput(
            self,
            "StateMachineArn",
            value=self.state_machine.state_machine_arn,
            description="aws stepfunctions start-execution --state-machine-arn <arn>",
        )

    def _state_machine(self, states: PipelineStates, logs_key: kms.IKey) -> sfn.StateMachine:
        """The pipeline: the states, traced and logged (without execution data), under the grants they need."""
        config = self.config
        log_group = logs.LogGroup(
            self,
            "PipelineLogs",
            retention=logs.RetentionDays.THREE_MONTHS,
            encryption_key=logs_key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        state_machine = sfn.StateMachine(
            self,
            "Pipeline",
            state_machine_name=f"{self.names.prefix}-training",
            definition_body=sfn.DefinitionBody.from_chainable(states.start),
            tracing_enabled=True,
            timeout=cdk.Duration.hours(config.training.max_wait_hours + 2),
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        states.grant(state_machine.role)
        accept(
            state_machine.role,
            "CDK's task integrations and these grants write the role's statements, each "
            "scoped to this environment's jobs, models and roles (tests assert it); a "
            "managed policy would hold the same statements",
            *INLINE_POLICY,
        )
        # CDK makes the state machine depend on the role it already references (cfn-lint W3005); keep only the
        # dependency that matters: the role's policy must exist before the first execution
        policy = cast(cdk.CfnResource, state_machine.role.node.find_child("DefaultPolicy").node.default_child)
        cast(cdk.CfnResource, state_machine.node.default_child).add_override("DependsOn", [self.get_logical_id(policy)])
        return state_machine
