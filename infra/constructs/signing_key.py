"""The key that signs the API's prediction ids: a Secrets Manager secret, rotated on a schedule.

The secret starts as 64 random characters. Every `api.signing_key_rotation_days` Secrets Manager calls the
rotation function (functions/rotation/handler.py: four steps, a new random key), which makes the new key
AWSCURRENT and the old one AWSPREVIOUS. The API signs with AWSCURRENT and still verifies AWSPREVIOUS
(functions/api/signing_keys.py), so an id stays valid until the second rotation after it was issued: at least
one full rotation period. The first rotation waits a full period (no rotation at deploy time).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from golive.contracts.signing_keys import KEY_CHARS
from infra.assets.rotation import HANDLER, stage_rotation_code
from infra.assets.staging import build_dir
from infra.compliance import (
    INLINE_POLICY,
    LAMBDA_CONCURRENCY,
    LAMBDA_DLQ,
    LAMBDA_IN_VPC,
    LAMBDA_RUNTIME_NOT_NEWEST,
    SECRET_KMS,
    accept,
)
from infra.constructs.function_role import after_its_policy, logged_role


class SigningKey(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: str,
        rotation_days: int,
        retain: bool,
        runtime: lambda_.Runtime,
        logs_key: kms.IKey,
        retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        # "Default": the secret's logical id stays the one it had as the API stack's own "SigningKey"
        self.secret = secretsmanager.Secret(
            self,
            "Default",
            description=f"golive {environment}: HMAC key that signs the API's prediction ids",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=KEY_CHARS, exclude_punctuation=True
            ),
            removal_policy=cdk.RemovalPolicy.RETAIN if retain else cdk.RemovalPolicy.DESTROY,
        )
        accept(
            self.secret,
            "encrypted with Secrets Manager's AWS-managed key; only the API function's role may read "
            "it and only the rotation function's role may write it (their ARN statements name this "
            "secret alone)",
            *SECRET_KMS,
        )

        role = self._rotation_function(environment, runtime, logs_key, retention)
        # the schedule grants the function what the four steps call on this secret (Describe, Get, Put,
        # UpdateSecretVersionStage) and GetRandomPassword, and lets Secrets Manager invoke it
        self.schedule = self.secret.add_rotation_schedule(
            "Schedule",
            rotation_lambda=self.rotation_function,
            automatically_after=cdk.Duration.days(rotation_days),
            rotate_immediately_on_update=False,
        )
        # only Secrets Manager acting for this account may invoke it (no other account's secret, confused deputy)
        (permission,) = [c for c in self.rotation_function.node.children if isinstance(c, lambda_.CfnPermission)]
        permission.source_account = cdk.Aws.ACCOUNT_ID

        self._acknowledge_rotation(role)

    def _rotation_function(
        self, environment: str, runtime: lambda_.Runtime, logs_key: kms.IKey, retention: logs.RetentionDays
    ) -> iam.Role:
        """The rotation function (`self.rotation_function`), created after its role's policy; returns the role."""
        log_group, role = logged_role(
            self,
            ("RotationLogs", "RotationRole"),
            logs_key=logs_key,
            retention=retention,
            description="golive signing-key rotation: its own logs and this one secret",
        )
        self.rotation_function = lambda_.Function(
            self,
            "Rotation",
            runtime=runtime,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(stage_rotation_code(build_dir(self) / "rotation"))),
            memory_size=256,
            timeout=cdk.Duration.seconds(30),
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            description=f"golive {environment}: rotates the prediction-id signing key",
        )
        after_its_policy(self.rotation_function, role)
        return role

    def _acknowledge_rotation(self, role: iam.Role) -> None:
        """cdk-nag's findings on the rotation function and its role, each with its reason."""
        accept(
            role,
            "GetRandomPassword (draws the new key; CDK grants it with the rotation schedule) and X-Ray's "
            "PutTraceSegments/PutTelemetryRecords (active tracing) take no resource ARN",
            "AwsSolutions-IAM5[Resource::*]",
        )
        accept(
            role,
            "the role's statements name this secret and the function's log group only (tests assert it); a "
            "managed policy would hold the same statements",
            *INLINE_POLICY,
        )
        accept(
            self.rotation_function,
            "the same current runtime as the API function (python3.13); the handler "
            "needs only boto3, the standard library and the key's contract",
            *LAMBDA_RUNTIME_NOT_NEWEST,
        )
        accept(
            self.rotation_function,
            "Secrets Manager calls each rotation step synchronously and records a failed "
            "rotation itself (the old key stays AWSCURRENT); a dead-letter queue only "
            "receives failed asynchronous invocations",
            *LAMBDA_DLQ,
        )
        accept(
            self.rotation_function,
            "the function calls only Secrets Manager over TLS with IAM; a VPC would need "
            "an interface endpoint (~$7/month per AZ) for no private resource to reach",
            *LAMBDA_IN_VPC,
        )
        accept(
            self.rotation_function,
            "it runs four times per rotation, a few times a year; reserving concurrency "
            "fails on a new account (limit 10, all of it kept unreserved)",
            *LAMBDA_CONCURRENCY,
        )
