"""The daily feedback export (functions/feedback_export/handler.py): a Lambda that an EventBridge schedule runs
every day shortly after midnight UTC, writing the previous day's labelled feedback into the data bucket under
`feedback-exports/<day>/` (golive/contracts/feedback_exports.py).

Its role may read the feedback table (Scan, BatchGetItem), list, read and write that one prefix of the bucket, and
use the data key only through DynamoDB and S3 (the table and the bucket are both encrypted with it)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from golive.contracts.feedback_exports import EXPORT_PREFIX
from infra.assets.feedback_export import HANDLER, stage_export_code
from infra.assets.staging import build_dir
from infra.compliance import (
    INLINE_POLICY,
    LAMBDA_CONCURRENCY,
    LAMBDA_DLQ,
    LAMBDA_ENV_KMS,
    LAMBDA_IN_VPC,
    LAMBDA_RUNTIME_NOT_NEWEST,
    accept,
)
from infra.constructs.function_role import after_its_policy, logged_role

# 00:15 UTC: the window closes at midnight, and a quarter of an hour lets the last feedback writes settle
SCHEDULE = events.Schedule.cron(minute="15", hour="0")
TIMEOUT = cdk.Duration.minutes(15)  # Lambda's longest: each run Scans the whole table, which only grows
MEMORY_MB = 1024  # the window's rows are joined in memory


class FeedbackExport(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: str,
        table: dynamodb.ITableV2,
        bucket: s3.IBucket,
        data_key: kms.IKey,
        runtime: lambda_.Runtime,
        logs_key: kms.IKey,
        retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        log_group, self.role = logged_role(
            self,
            ("Logs", "Role"),
            logs_key=logs_key,
            retention=retention,
            description="golive feedback export: reads the feedback table, writes feedback-exports/ in the data bucket",
        )
        objects = self._grant(table, bucket, data_key)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=runtime,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(stage_export_code(build_dir(self) / "feedback-export"))),
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            environment={"GOLIVE_FEEDBACK_TABLE": table.table_name, "GOLIVE_EXPORT_BUCKET": bucket.bucket_name},
            role=self.role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            description=f"golive {environment}: exports the day's labelled feedback to the data bucket",
        )
        after_its_policy(self.function, self.role)
        self.rule = events.Rule(
            self,
            "Daily",
            schedule=SCHEDULE,
            description=f"golive {environment}: the daily feedback export",
            targets=[targets.LambdaFunction(self.function, retry_attempts=2)],
        )
        self._acknowledge(objects)

    def _grant(self, table: dynamodb.ITableV2, bucket: s3.IBucket, data_key: kms.IKey) -> str:
        """The role's statements; returns cdk-nag's name for the export prefix's wildcard (IAM5)."""
        table.grant(self.role, "dynamodb:Scan", "dynamodb:BatchGetItem")
        prefix = f"{EXPORT_PREFIX}*"
        bucket_arn, shown = self._bucket_arn(bucket)
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"], resources=[bucket_arn], conditions={"StringLike": {"s3:prefix": prefix}}
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[f"{bucket_arn}/{prefix}"])
        )
        region = cdk.Stack.of(self).region
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"],
                resources=[data_key.key_arn],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": [f"dynamodb.{region}.amazonaws.com", f"s3.{region}.amazonaws.com"]
                    }
                },
            )
        )
        return f"Resource::{shown}/{prefix}"

    def _bucket_arn(self, bucket: s3.IBucket) -> tuple[str, str]:
        """The bucket's ARN here (from another stack: its export, made now so its name is known) and how cdk-nag
        prints it in a finding."""
        here, there = cdk.Stack.of(self), cdk.Stack.of(bucket)
        arn = bucket.bucket_arn if there is here else there.export_value(bucket.bucket_arn)
        resolved = here.resolve(arn)
        if "Fn::ImportValue" in resolved:
            return arn, resolved["Fn::ImportValue"]
        logical_id, attribute = resolved["Fn::GetAtt"]
        return arn, f"<{logical_id}.{attribute}>"

    def _acknowledge(self, objects: str) -> None:
        """cdk-nag's findings on the function, its role and its schedule, each with its reason."""
        accept(
            self.role,
            f"the objects under {EXPORT_PREFIX} are the export's own: one folder a day, named by the day",
            f"AwsSolutions-IAM5[{objects}]",
        )
        accept(
            self.role,
            "X-Ray's PutTraceSegments/PutTelemetryRecords take no resource ARN; CDK adds them for active tracing",
            "AwsSolutions-IAM5[Resource::*]",
        )
        accept(
            self.rule,
            "a run that never starts loses nothing: the next day's run starts where the newest finished export "
            "ended, so it exports the missed window too",
            "Serverless-EventBusDLQ",
        )
        accept(
            self.role,
            "the role's statements name the feedback table, the export prefix, the data key (through DynamoDB "
            "and S3 only) and the function's log group (tests assert it); a managed policy would hold the same",
            *INLINE_POLICY,
        )
        accept(
            self.function,
            "the same current runtime as the API function (python3.13), whose bytecode and tests use it",
            *LAMBDA_RUNTIME_NOT_NEWEST,
        )
        accept(
            self.function,
            "a failed run loses nothing: each run starts where the newest finished export ended (its summary "
            "in S3), so the next day's run exports the missed window too; Lambda retries a failed run twice first",
            *LAMBDA_DLQ,
        )
        accept(
            self.function,
            "the function calls only DynamoDB and S3 over TLS with IAM; a VPC would need gateway or "
            "interface endpoints for no private resource to reach",
            *LAMBDA_IN_VPC,
        )
        accept(
            self.function,
            "its variables are a table's and a bucket's names, no secrets; Lambda encrypts them at rest "
            "with its AWS-managed key",
            *LAMBDA_ENV_KMS,
        )
        accept(
            self.function,
            "it runs once a day; reserving concurrency fails on a new account (limit 10, all of it kept "
            "unreserved), and two runs at once write the same window's same files",
            *LAMBDA_CONCURRENCY,
        )
