"""Training: a Step Functions state machine that trains on a SageMaker GPU instance, registers the model
in the Model Registry and promotes it to the endpoint only when its accuracy clears the configured gate
(the states: infra/stacks/pipeline_states.py). With training.retrain on, a schedule or the quality alarms start
it too (infra/constructs/retrain_trigger.py).

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
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.compliance import INLINE_POLICY, accept
from infra.config import EnvironmentConfig
from infra.constructs.retrain_trigger import RetrainTrigger
from infra.naming import Names
from infra.stacks.data_stack import DataStack
from infra.stacks.pipeline_states import PipelineStates


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
        self.retrain_trigger = self._retrain_trigger(data, logs_key)
        cdk.CfnOutput(
            self,
            "StateMachineArn",
            value=self.state_machine.state_machine_arn,
            description="aws stepfunctions start-execution --state-machine-arn <arn>",
        )

    def _retrain_trigger(self, data: DataStack, logs_key: kms.IKey) -> RetrainTrigger | None:
        """What starts the pipeline by itself (training.retrain), or None: with retraining off, nothing at all."""
        retrain = self.config.training.retrain
        if not retrain.enabled:
            return None
        # the bucket's ARN under an export name of our own (CDK's own names its exports by a hash): cdk-nag writes
        # the exports' wildcard with it, and the acknowledgment must name it
        arn = data.export_value(data.data.bucket_arn, name=f"{self.names.prefix}-data-bucket-arn")
        bucket = s3.Bucket.from_bucket_attributes(self, "DataBucket", bucket_arn=arn, bucket_name=data.data.bucket_name)
        return RetrainTrigger(
            self,
            "RetrainTrigger",
            prefix=self.names.prefix,
            settings=retrain,
            state_machine=self.state_machine,
            bucket=bucket,
            key=data.key,
            alarm_names=self.names.retrain_alarms,  # the monitoring stack's, by name: it comes after this stack
            logs_key=logs_key,
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
