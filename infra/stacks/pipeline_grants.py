"""What the pipeline's states need beyond the actions CDK's CallAwsService tasks grant themselves, per AWS's
documented policies: the .sync training integration (Step Functions' policy for createTrainingJob.sync,
ListTags held to our jobs), AddTags for the tags given at creation, ListBucket on the data bucket's eval/ prefix
(the evaluation-set lookup, a plain Task state), the model role passed to CreateModel and DescribeModelPackage
for the package it is created from, and DescribeAlarms on the rollback alarms that the blue/green (or
component) update passes (SageMaker deployment guardrails read them as the caller)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from golive.contracts.feedback_exports import EVAL_PREFIX
from infra.stacks.pipeline_scope import PipelineScope
from infra.stacks.sagemaker_roles import acknowledge_iam5

# the .sync integration follows the job through this EventBridge rule, which Step Functions manages
SYNC_RULE = "StepFunctionsGetEventsForSageMakerTrainingJobsRule"


def grant_pipeline(states: PipelineScope, role: iam.IRole) -> None:
    """Adds the statements to the state machine's `role` and acknowledges its wildcards."""
    _grant_training(states, role)
    names, prefix = states.names, states.names.prefix
    package = states.arn("model-package", f"{names.model_package_group}/*")
    passed = [states.data.roles.training.role_arn]
    tagged = [package]
    if states.config.endpoint.enabled:
        passed.append(states.data.roles.model.role_arn)
        tagged.append(states.arn("model", f"{prefix}-*"))
        if not states.config.endpoint.scale_to_zero:  # a component update creates no endpoint config
            tagged.append(states.arn("endpoint-config", f"{prefix}-*"))
        _grant_promotion(states, role, package)
    role.add_to_principal_policy(iam.PolicyStatement(actions=["sagemaker:AddTags"], resources=tagged))
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=passed,
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        )
    )
    _acknowledge(states, role)


def _grant_training(states: PipelineScope, role: iam.IRole) -> None:
    """The .sync training integration: the job's own actions and the managed EventBridge rule."""
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=[
                "sagemaker:CreateTrainingJob",
                "sagemaker:DescribeTrainingJob",
                "sagemaker:StopTrainingJob",
                "sagemaker:ListTags",
                "sagemaker:AddTags",
            ],
            resources=[states.arn("training-job", f"{states.names.prefix}-*")],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            resources=[states.stack.format_arn(service="events", resource="rule", resource_name=SYNC_RULE)],
        )
    )
    role.add_to_principal_policy(  # FindEvalSet: is anything under eval/? (keys only; the job reads the objects)
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[states.data.data.bucket_arn],
            conditions={"StringEquals": {"s3:prefix": EVAL_PREFIX}},
        )
    )


def _grant_promotion(states: PipelineScope, role: iam.IRole, package: str) -> None:
    """CreateModel reads the model package; the deployment guardrails read the rollback alarms as the caller."""
    role.add_to_principal_policy(iam.PolicyStatement(actions=["sagemaker:DescribeModelPackage"], resources=[package]))
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["cloudwatch:DescribeAlarms"],
            resources=[
                states.stack.format_arn(
                    service="cloudwatch",
                    resource="alarm",
                    resource_name=alarm,
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                )
                for alarm in states.names.rollback_alarms
            ],
        )
    )


def _acknowledge(states: PipelineScope, role: iam.IRole) -> None:
    """cdk-nag's IAM5 findings on the role, each with the reason its wildcard is held to this environment."""
    stack, prefix, group = states.stack, states.names.prefix, states.names.model_package_group
    region = "<AWS::Region>" if cdk.Token.is_unresolved(stack.region) else stack.region
    arn = f"arn:<AWS::Partition>:sagemaker:{region}:<AWS::AccountId>"
    findings = {
        f"Resource::{arn}:training-job/{prefix}-*": "jobs are named per run ({prefix}-<uuid>); only ours",
        f"Resource::{arn}:model-package/{group}/*": "every version in this environment's model package group",
        "Resource::*": "X-Ray's PutTraceSegments/PutTelemetryRecords and the log delivery actions take no "
        "resource ARN; CDK adds them for tracing and logging. sagemaker:ListModelPackages takes none either "
        "(FindChampion names this environment's group in its request)",
    }
    endpoint = states.config.endpoint
    if endpoint.enabled:
        findings[f"Resource::{arn}:model/{prefix}-*"] = "models are named per run; only this environment's"
    if endpoint.enabled and not endpoint.scale_to_zero:
        findings[f"Resource::{arn}:endpoint-config/{prefix}-*"] = (
            "endpoint configs are named per run; only this environment's"
        )
    acknowledge_iam5(role, findings)
