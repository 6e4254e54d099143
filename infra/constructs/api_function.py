"""The API's Lambda function (functions/lambda_handler.py, from a package built without Docker): its log group,
its role (its own logs, the feedback table and its key, the signing key, for the sagemaker backend the one
endpoint) and the rotated prediction-id signing key (signing_key.py)."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from golive.contracts.feedback_table import TEXT_KEY_PREFIX
from golive.contracts.telemetry import NAMESPACE, SERVICE
from infra.assets.lambda_package import HANDLER_MODULE, LAMBDA_PYTHON_VERSION
from infra.compliance import (
    INLINE_POLICY,
    LAMBDA_CONCURRENCY,
    LAMBDA_DLQ,
    LAMBDA_ENV_KMS,
    LAMBDA_IN_VPC,
    LAMBDA_RUNTIME_NOT_NEWEST,
    accept,
)
from infra.config import EnvironmentConfig
from infra.config.api import LAMBDA_TIMEOUT_S
from infra.constructs.function_role import after_its_policy, logged_role
from infra.constructs.inline import Inline
from infra.constructs.signing_key import SigningKey

# SnapStart takes Python 3.12 and later (AWS Lambda's documentation); the runtime is named by version, so say so
LAMBDA_RUNTIME = lambda_.Runtime(
    f"python{LAMBDA_PYTHON_VERSION}",
    lambda_.RuntimeFamily.PYTHON,
    supports_snap_start=tuple(map(int, LAMBDA_PYTHON_VERSION.split("."))) >= (3, 12),
)
RETENTION = {
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
}


class ApiFunction(Inline):
    """`endpoint_name`: the endpoint the sagemaker backend may invoke (None for the onnx backend);
    `inference_component_name`: the model on it when the endpoint scales to zero (InvokeEndpoint names it).

    `target` is what API Gateway invokes: the function, or with api.snapstart the alias of its published version
    (SnapStart snapshots published versions only)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        package_dir: Path,
        table: dynamodb.ITableV2,
        logs_key: kms.IKey,
        endpoint_name: str | None = None,
        inference_component_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if config.api.backend == "sagemaker" and not endpoint_name:
            raise ValueError("the sagemaker backend needs the endpoint's name")
        retention = RETENTION[config.api.log_retention_days]
        log_group, self.role = logged_role(
            self,
            ("FunctionLogs", "FunctionRole"),
            logs_key=logs_key,
            retention=retention,
            description="golive API Lambda: its own logs, the feedback table, the endpoint",
        )
        # signs prediction ids, so feedback counts only for predictions this deployment made
        # (functions/api/signing_keys.py reads AWSCURRENT at cold start and AWSPREVIOUS when an id needs it)
        self.signing_key = SigningKey(
            self,
            "SigningKey",
            environment=config.name,
            rotation_days=config.api.signing_key_rotation_days,
            retain=config.retain_feedback,
            runtime=LAMBDA_RUNTIME,
            logs_key=logs_key,
            retention=retention,
        )
        self.signing_key.secret.grant_read(self.role)
        environment = self._environment(config, table)
        if config.api.backend == "sagemaker" and endpoint_name:  # (checked above: sagemaker has one)
            environment.update(self._invoke_endpoint(config, endpoint_name, inference_component_name))
        self.function = self._function(config, package_dir, environment, log_group)
        self.target: lambda_.IFunction = self.function
        if config.api.snapstart:  # the runtime hooks: functions/api/snapstart.py
            self.target = lambda_.Alias(
                self,
                "Live",
                alias_name="live",
                version=self.function.current_version,
                description="the published version API Gateway invokes (SnapStart)",
            )
        self._grant_table(config, table)
        after_its_policy(self.function, self.role)
        self._acknowledge(config)

    def _environment(self, config: EnvironmentConfig, table: dynamodb.ITableV2) -> dict[str, str]:
        environment = {
            "GOLIVE_BACKEND": config.api.backend,
            "GOLIVE_FEEDBACK_TABLE": table.table_name,
            "GOLIVE_SIGNING_SECRET_ARN": self.signing_key.secret.secret_arn,
            "POWERTOOLS_SERVICE_NAME": SERVICE,
            "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
            "GOLIVE_ENVIRONMENT": config.name,
            # declared in the OpenAPI document (Swagger UI's "Authorize"); API Gateway is what checks them
            "GOLIVE_API_KEY_REQUIRED": "true",
            "GOLIVE_AUTHORIZER": config.api.authorizer,
        }
        if config.api.capture_texts:  # functions/api/capture.py
            environment["GOLIVE_CAPTURE_TEXTS"] = "true"
            environment["GOLIVE_CAPTURE_TTL_DAYS"] = str(config.api.capture_ttl_days)
        return environment

    def _invoke_endpoint(
        self, config: EnvironmentConfig, endpoint_name: str, inference_component_name: str | None
    ) -> dict[str, str]:
        """The sagemaker backend's permission to invoke its one endpoint (and component); its variables."""
        environment = {"GOLIVE_ENDPOINT_NAME": endpoint_name}
        stack = cdk.Stack.of(self)
        invoked = [stack.format_arn(service="sagemaker", resource="endpoint", resource_name=endpoint_name.lower())]
        if config.endpoint.scale_to_zero:
            if not inference_component_name:
                raise ValueError("a scale_to_zero endpoint needs its inference component's name")
            # functions/api/warmup.py: the 503 + Retry-After while the model wakes, and the optional wait
            environment.update(
                {
                    "GOLIVE_INFERENCE_COMPONENT_NAME": inference_component_name,
                    "GOLIVE_EXPECTED_WARMUP_SECONDS": str(config.endpoint.expected_warmup_seconds),
                    "GOLIVE_WAIT_FOR_WARMUP_SECONDS": f"{config.api.wait_for_warmup_seconds:g}",
                }
            )
            # an InvokeEndpoint naming a component is authorised on the endpoint and on the component
            invoked.append(
                stack.format_arn(
                    service="sagemaker", resource="inference-component", resource_name=inference_component_name.lower()
                )
            )
        self.role.add_to_policy(iam.PolicyStatement(actions=["sagemaker:InvokeEndpoint"], resources=invoked))
        return environment

    def _function(
        self, config: EnvironmentConfig, package_dir: Path, environment: dict[str, str], log_group: logs.ILogGroup
    ) -> lambda_.Function:
        return lambda_.Function(
            self,
            "Function",
            runtime=LAMBDA_RUNTIME,
            handler=f"{HANDLER_MODULE}.handler",
            code=lambda_.Code.from_asset(str(package_dir)),
            memory_size=config.api.lambda_memory_mb,
            architecture=lambda_.Architecture.ARM_64
            if config.api.lambda_architecture == "arm64"
            else lambda_.Architecture.X86_64,
            timeout=cdk.Duration.seconds(LAMBDA_TIMEOUT_S),
            environment=environment,
            role=self.role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            description=f"golive API ({config.name})",
            reserved_concurrent_executions=config.api.reserved_concurrency,
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if config.api.snapstart else None,
        )

    def _grant_table(self, config: EnvironmentConfig, table: dynamodb.ITableV2) -> None:
        table.grant(self.role, "dynamodb:PutItem", "dynamodb:GetItem")
        # the table's own key, only through DynamoDB: the same key guards the data bucket
        if table.encryption_key:
            region = cdk.Stack.of(self).region
            self.role.add_to_policy(
                iam.PolicyStatement(
                    actions=["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
                    resources=[table.encryption_key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{region}.amazonaws.com"}},
                )
            )
        if config.api.capture_texts:
            # captured texts go in batches, and only as `text#<id>` items: a batch can never overwrite feedback
            self.role.add_to_policy(
                iam.PolicyStatement(
                    actions=["dynamodb:BatchWriteItem"],
                    resources=[table.table_arn],
                    conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{TEXT_KEY_PREFIX}*"]}},
                )
            )

    def _acknowledge(self, config: EnvironmentConfig) -> None:
        """The cdk-nag findings this function and its role have on purpose, with the reasons."""
        accept(
            self.function,
            f"python{LAMBDA_PYTHON_VERSION} is a current Lambda runtime, chosen so the package's "
            "bytecode is compiled, and its tests run, by the Python it runs on "
            "(infra/assets/lambda_package.py)",
            *LAMBDA_RUNTIME_NOT_NEWEST,
        )
        accept(
            self.role,
            "X-Ray's PutTraceSegments/PutTelemetryRecords take no resource ARN; CDK adds them for active tracing",
            "AwsSolutions-IAM5[Resource::*]",
        )
        accept(
            self.role,
            "the actions DynamoDB's documentation lists for a table under a customer managed key, on the "
            "table's key and only through DynamoDB (kms:ViaService)",
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
        )
        accept(
            self.role,
            "CDK's grants write the role's statements, each scoped to this stack's table, log group and "
            "endpoint (tests assert it); a managed policy would hold the same statements",
            *INLINE_POLICY,
        )
        accept(
            self.function,
            "API Gateway invokes the function synchronously and gets its error back; a "
            "dead-letter queue only receives failed asynchronous invocations",
            *LAMBDA_DLQ,
        )
        accept(
            self.function,
            "the function calls only AWS APIs (DynamoDB, SageMaker runtime, S3) over TLS with "
            "IAM; a VPC would need NAT or interface endpoints (~$7/month each per AZ) for no "
            "private resource to reach",
            *LAMBDA_IN_VPC,
        )
        accept(
            self.function,
            "its variables are names (table, endpoint, backend), no secrets; Lambda encrypts "
            "them at rest with its AWS-managed key",
            *LAMBDA_ENV_KMS,
        )
        if config.api.reserved_concurrency is None:
            accept(
                self.function,
                f"api.reserved_concurrency is unset for {config.name}: a new account's Lambda "
                "limit is 10 and AWS keeps the pool unreserved, so reserving fails there; API "
                "Gateway's stage and usage-plan throttles bound the rate",
                *LAMBDA_CONCURRENCY,
            )
