"""What starts the training pipeline by itself (`training.retrain`): EventBridge rules (a schedule, and the online-
accuracy or label-drift alarm going to ALARM) invoke a small function (functions/retrain_trigger/handler.py) that
decides whether to start an execution: nothing running, the minimum interval passed, enough new labelled feedback.

The training stack creates this unit only when `training.retrain` has a schedule or `on_alarms` (the default has
neither): with retraining off nothing of it is deployed, not even the idle function, which would cost nothing
but would still be code, a role and a queue to review, patch and pass compliance checks on for no use.

What EventBridge cannot deliver to the function, and the invocations that still fail after Lambda's two retries
(a throttled StartExecution, a denied S3 read), land in one queue; the monitoring stack alarms on it.

The function's role may list and start executions of this one state machine and describe its executions (to read
which trained on the exports), list the data bucket under the feedback exports' prefix and read those objects, and
decrypt with the data key only through S3.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from golive.contracts import retraining
from golive.contracts.feedback_exports import EXPORT_PREFIX
from infra.assets.retrain_trigger import ENTRY, HANDLER
from infra.assets.staging import build_dir, stage_code
from infra.compliance import (
    INLINE_POLICY,
    LAMBDA_CONCURRENCY,
    LAMBDA_ENV_KMS,
    LAMBDA_IN_VPC,
    LAMBDA_RUNTIME_NOT_NEWEST,
    QUEUE_DLQ,
    accept,
    finding_text,
)
from infra.config import RetrainSettings
from infra.constructs.api_function import LAMBDA_RUNTIME


class RetrainTrigger(Construct):
    """`prefix`: the environment's name prefix (`golive-prod`); `alarm_names`: the alarms that start retraining
    with `settings.on_alarms` (infra/naming.py `Names.retrain_alarms`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        settings: RetrainSettings,
        state_machine: sfn.IStateMachine,
        bucket: s3.IBucket,
        key: kms.IKey,
        alarm_names: Sequence[str],
        logs_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        if not settings.enabled:
            raise ValueError("training.retrain has neither a schedule nor on_alarms: there is nothing to trigger")
        self.undelivered = self._undelivered_queue(prefix)
        role = self._role(state_machine, bucket, key)
        self.function = self._function(prefix, settings, role, state_machine, bucket, logs_key)
        target = targets.LambdaFunction(self.function, dead_letter_queue=self.undelivered)
        self.rules = [
            events.Rule(self, rule_id, rule_name=f"{prefix}-{name}", description=why, targets=[target], **when)
            for rule_id, name, why, when in self._rule_settings(settings, alarm_names)
        ]
        self._acknowledge(role, bucket, state_machine)

    @staticmethod
    def _rule_settings(settings: RetrainSettings, alarm_names: Sequence[str]) -> list[tuple[str, str, str, dict]]:
        """(construct id, name after the prefix, description, what fires it) of each rule the settings ask for."""
        found: list[tuple[str, str, str, dict]] = []
        if settings.schedule:
            schedule: dict[str, events.Schedule] = {"schedule": events.Schedule.expression(settings.schedule)}
            why = "retrain on a schedule (training.retrain.schedule), when enough new feedback is labelled"
            found.append(("Schedule", "retrain-schedule", why, schedule))
        if settings.on_alarms:
            alarm = events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=["CloudWatch Alarm State Change"],
                detail={"alarmName": list(alarm_names), "state": {"value": ["ALARM"]}},
            )
            why = "retrain when model quality drops (training.retrain.on_alarms)"
            found.append(("OnAlarm", "retrain-on-alarm", why, {"event_pattern": alarm}))
        return found

    def _undelivered_queue(self, prefix: str) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            "Undelivered",
            queue_name=f"{prefix}-undelivered-retrain-triggers",
            encryption=sqs.QueueEncryption.SQS_MANAGED,  # EventBridge can write to it without a key policy
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        accept(
            queue,
            "this is the dead-letter queue of the retraining rules and function; a queue behind it "
            "would only move the same events again",
            *QUEUE_DLQ,
        )
        accept(
            queue,
            "encrypted at rest with SQS-managed keys (SqsManagedSseEnabled), which checkov does not read; "
            "it holds EventBridge events (a schedule tick, an alarm's state change), no data",
            "CKV_AWS_27",
        )
        return queue

    def _role(self, state_machine: sfn.IStateMachine, bucket: s3.IBucket, key: kms.IKey) -> iam.Role:
        """List, start and describe this pipeline's executions; list and read the feedback exports, decrypting through
        S3."""
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="golive retraining trigger: list and start the training pipeline, read the feedback exports",
        )
        arn = state_machine.state_machine_arn
        role.add_to_policy(
            iam.PolicyStatement(actions=["states:ListExecutions", "states:StartExecution"], resources=[arn])
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[self._executions(state_machine)])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{EXPORT_PREFIX}*"]}},
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{EXPORT_PREFIX}*")])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{cdk.Aws.REGION}.amazonaws.com"}},
            )
        )
        return role

    def _function(
        self,
        prefix: str,
        settings: RetrainSettings,
        role: iam.Role,
        state_machine: sfn.IStateMachine,
        bucket: s3.IBucket,
        logs_key: kms.IKey,
    ) -> lambda_.Function:
        """The function, with the settings it reads, created after its role's policy."""
        log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays.THREE_MONTHS,
            encryption_key=logs_key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        log_group.grant_write(role)
        code = build_dir(self) / "retrain-trigger"
        stage_code([ENTRY], code)
        function = lambda_.Function(
            self,
            "Function",
            runtime=LAMBDA_RUNTIME,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(code)),
            memory_size=256,
            timeout=cdk.Duration.seconds(60),
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            dead_letter_queue=self.undelivered,
            description=f"{prefix}: decides whether to start the training pipeline (retraining)",
            environment={
                retraining.STATE_MACHINE_ARN: state_machine.state_machine_arn,
                retraining.DATA_BUCKET: bucket.bucket_name,
                retraining.MIN_INTERVAL_HOURS: str(settings.min_interval_hours),
                retraining.MIN_NEW_LABELS: str(settings.min_new_labels),
            },
        )
        policy = cast(cdk.CfnResource, role.node.find_child("DefaultPolicy").node.default_child)
        cast(cdk.CfnResource, function.node.default_child).add_override(
            "DependsOn", [cdk.Stack.of(self).get_logical_id(policy)]
        )
        return function

    def _executions(self, state_machine: sfn.IStateMachine) -> str:
        """`arn:...:execution:<the state machine's name>:*`: its executions, no other's (as `grant_execution`)."""
        name = cdk.Arn.split(state_machine.state_machine_arn, cdk.ArnFormat.COLON_RESOURCE_NAME).resource_name
        return cdk.Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{name}:*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )

    def _acknowledge(self, role: iam.Role, bucket: s3.IBucket, state_machine: sfn.IStateMachine) -> None:
        """cdk-nag's and checkov's findings on the function and its role, each with its reason."""
        objects = finding_text(cdk.Stack.of(self).resolve(bucket.arn_for_objects(f"{EXPORT_PREFIX}*")))
        executions = finding_text(cdk.Stack.of(self).resolve(self._executions(state_machine)))
        for finding, reason in {
            f"Resource::{objects}": "the exports are one folder per day under feedback-exports/; only those",
            f"Resource::{executions}": "DescribeExecution names an execution; these are the training pipeline's "
            "executions only (to read which trained on the exports)",
            "Resource::*": "X-Ray's PutTraceSegments/PutTelemetryRecords take no resource ARN; CDK adds them for "
            "active tracing",
        }.items():
            accept(role, reason, f"AwsSolutions-IAM5[{finding}]")
        accept(
            role,
            "the role's statements name this state machine, the exports' prefix, the data key (through S3 "
            "only), the function's log group and queue (tests assert it); a managed policy would hold the same",
            *INLINE_POLICY,
        )
        accept(
            self.function,
            "the same current runtime as the API function; the handler needs only boto3, the standard "
            "library and two contracts",
            *LAMBDA_RUNTIME_NOT_NEWEST,
        )
        accept(
            self.function,
            "the function calls only AWS APIs (Step Functions, S3) over TLS with IAM; a VPC would need "
            "interface endpoints (~$7/month each per AZ) for no private resource to reach",
            *LAMBDA_IN_VPC,
        )
        accept(
            self.function,
            "it runs a few times a week at most; reserving concurrency fails on a new account (limit 10, "
            "all of it kept unreserved)",
            *LAMBDA_CONCURRENCY,
        )
        accept(
            self.function,
            "its variables are a state machine ARN, a bucket name and two numbers, no secrets; Lambda "
            "encrypts them at rest with its AWS-managed key",
            *LAMBDA_ENV_KMS,
        )
