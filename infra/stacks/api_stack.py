"""API: the FastAPI Lambda (functions/, packaged locally without Docker) behind API Gateway.

An API key and usage plan (throttle + quota) per client app on every route but health and docs
(infra/constructs/client_keys.py), an optional IAM or Cognito authorizer (api_auth.py), an optional AWS WAF
web ACL (web_acl.py), API Gateway's own errors in the app's error shape (gateway_responses.py), access
logs, X-Ray, the DynamoDB feedback table (point-in-time recovery) and the rotated prediction-id signing
key (signing_key.py). The function may read only that table and that secret, and, for the sagemaker
backend, invoke only the one endpoint it is given. Log groups are KMS-encrypted with the environment's
logs key. API Gateway's account-wide logging role is not this stack's: see account_stack.py.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from golive.contracts.routes import PUBLIC_ROUTES
from golive.contracts.telemetry import NAMESPACE, SERVICE
from infra.assets.lambda_package import LAMBDA_PYTHON_VERSION
from infra.compliance import (API_CACHE, API_CLIENT_CERT, API_OPEN_ROUTE, API_WAF, INLINE_POLICY, LAMBDA_CONCURRENCY,
                               LAMBDA_DLQ, LAMBDA_ENV_KMS, LAMBDA_IN_VPC, LAMBDA_RUNTIME_NOT_NEWEST, accept)
from infra.config import EnvironmentConfig
from infra.constructs.api_auth import ApiAuth
from infra.constructs.client_keys import ClientKeys
from infra.constructs.gateway_responses import add_gateway_responses
from infra.constructs.signing_key import SigningKey
from infra.constructs.web_acl import WebAcl

LAMBDA_TIMEOUT_S = 28  # below API Gateway's 29 s integration timeout, so the client sees our error body
LAMBDA_RUNTIME = lambda_.Runtime(f"python{LAMBDA_PYTHON_VERSION}", lambda_.RuntimeFamily.PYTHON)


class ApiStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, config: EnvironmentConfig, package_dir: Path,
                 logs_key: kms.IKey, endpoint_name: str | None = None, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if config.api.backend == "sagemaker" and not endpoint_name:
            raise ValueError("the sagemaker backend needs the endpoint's name")

        self.feedback_table = dynamodb.TableV2(
            self, "Feedback", partition_key=dynamodb.Attribute(name="prediction_id", type=dynamodb.AttributeType.STRING),
            billing=dynamodb.Billing.on_demand(), point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            removal_policy=cdk.RemovalPolicy.RETAIN if config.retain_feedback else cdk.RemovalPolicy.DESTROY,
        )

        retention = _RETENTION[config.api.log_retention_days]
        log_group = logs.LogGroup(self, "FunctionLogs", retention=retention, encryption_key=logs_key,
                                  removal_policy=cdk.RemovalPolicy.DESTROY)
        role = iam.Role(self, "FunctionRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description="golive API Lambda: its own logs, the feedback table, the endpoint")
        log_group.grant_write(role)
        # signs prediction ids, so feedback counts only for predictions this deployment made
        # (functions/api/signing_keys.py reads AWSCURRENT at cold start and AWSPREVIOUS when an id needs it)
        self.signing_key = SigningKey(
            self, "SigningKey", environment=config.name, rotation_days=config.api.signing_key_rotation_days,
            retain=config.retain_feedback, runtime=LAMBDA_RUNTIME, logs_key=logs_key, retention=retention)
        self.signing_secret = self.signing_key.secret
        self.signing_secret.grant_read(role)
        environment = {
            "GOLIVE_BACKEND": config.api.backend,
            "GOLIVE_FEEDBACK_TABLE": self.feedback_table.table_name,
            "GOLIVE_SIGNING_SECRET_ARN": self.signing_secret.secret_arn,
            "POWERTOOLS_SERVICE_NAME": SERVICE,
            "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
            "GOLIVE_ENVIRONMENT": config.name,
            # declared in the OpenAPI document (Swagger UI's "Authorize"); API Gateway is what checks them
            "GOLIVE_API_KEY_REQUIRED": "true",
            "GOLIVE_AUTHORIZER": config.api.authorizer,
        }
        if config.api.backend == "sagemaker":
            environment["GOLIVE_ENDPOINT_NAME"] = endpoint_name
            role.add_to_policy(iam.PolicyStatement(actions=["sagemaker:InvokeEndpoint"], resources=[
                cdk.Stack.of(self).format_arn(service="sagemaker", resource="endpoint", resource_name=endpoint_name.lower())]))
        self.function = lambda_.Function(
            self, "Function", runtime=LAMBDA_RUNTIME, handler="functions.lambda_handler.handler",
            code=lambda_.Code.from_asset(str(package_dir)), memory_size=config.api.lambda_memory_mb,
            architecture=lambda_.Architecture.ARM_64 if config.api.lambda_architecture == "arm64" else lambda_.Architecture.X86_64,
            timeout=cdk.Duration.seconds(LAMBDA_TIMEOUT_S), environment=environment, role=role,
            log_group=log_group, tracing=lambda_.Tracing.ACTIVE, description=f"golive API ({config.name})",
            reserved_concurrent_executions=config.api.reserved_concurrency,
        )
        accept(self.function, f"python{LAMBDA_PYTHON_VERSION} is a current Lambda runtime, chosen so the package's "
                              "bytecode is compiled, and its tests run, by the Python it runs on "
                              "(infra/assets/lambda_package.py)", *LAMBDA_RUNTIME_NOT_NEWEST)
        self.feedback_table.grant(role, "dynamodb:PutItem", "dynamodb:GetItem")
        # CDK makes the function depend on the role it already references (cfn-lint W3005); keep only the
        # dependency that matters: the policy must exist before the first invocation
        policy = role.node.find_child("DefaultPolicy").node.default_child
        self.function.node.default_child.add_override("DependsOn", [self.get_logical_id(policy)])
        accept(role, "X-Ray's PutTraceSegments/PutTelemetryRecords take no resource ARN; CDK adds them for active "
                     "tracing", "AwsSolutions-IAM5[Resource::*]")
        accept(role, "CDK's grants write the role's statements, each scoped to this stack's table, log group and "
                     "endpoint (tests assert it); a managed policy would hold the same statements", *INLINE_POLICY)
        accept(self.function, "API Gateway invokes the function synchronously and gets its error back; a "
                              "dead-letter queue only receives failed asynchronous invocations", *LAMBDA_DLQ)
        accept(self.function, "the function calls only AWS APIs (DynamoDB, SageMaker runtime, S3) over TLS with "
                              "IAM; a VPC would need NAT or interface endpoints (~$7/month each per AZ) for no "
                              "private resource to reach", *LAMBDA_IN_VPC)
        accept(self.function, "its variables are names (table, endpoint, backend), no secrets; Lambda encrypts "
                              "them at rest with its AWS-managed key", *LAMBDA_ENV_KMS)
        if config.api.reserved_concurrency is None:
            accept(self.function, f"api.reserved_concurrency is unset for {config.name}: a new account's Lambda "
                                  "limit is 10 and AWS keeps the pool unreserved, so reserving fails there; API "
                                  "Gateway's stage and usage-plan throttles bound the rate", *LAMBDA_CONCURRENCY)

        access_logs = logs.LogGroup(self, "AccessLogs", retention=retention, encryption_key=logs_key,
                                    removal_policy=cdk.RemovalPolicy.DESTROY)
        self.api = apigw.LambdaRestApi(
            self, "Api", handler=self.function, proxy=False,
            cloud_watch_role=False,  # account-wide, owned by the account stack: destroying one env must not break another's logs
            description=f"golive text classification API ({config.name})",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            deploy_options=apigw.StageOptions(
                stage_name=config.name, tracing_enabled=True, metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR, data_trace_enabled=False,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False, http_method=True, ip=True, protocol=True, request_time=True, resource_path=True,
                    response_length=True, status=True, user=False),
                throttling_rate_limit=config.api.throttle_rate_per_second,
                throttling_burst_limit=config.api.throttle_burst,
            ),
        )
        add_gateway_responses(self.api)
        validator = self.api.add_request_validator("BodyValidator", validate_request_body=False,
                                                   validate_request_parameters=True)
        v1 = self.api.root.add_resource("v1")
        # health and docs: anyone may call them (PUBLIC_ROUTES). The app answers them only to GET, and any other
        # method with its 405 and Allow (API Gateway itself would say 403 "Missing Authentication Token")
        for path in PUBLIC_ROUTES:
            resource = self.api.root.resource_for_path(path)
            method = resource.add_method("ANY", api_key_required=False, request_validator=validator,
                                         authorization_type=apigw.AuthorizationType.NONE)
            accept(method, f"{path} is public on purpose (health for load balancers and uptime checks, the docs page, "
                           "its assets and the OpenAPI document for people): read-only GETs with no model call, and "
                           "the stage throttle bounds what callers can spend", *API_OPEN_ROUTE, "AwsSolutions-APIG4",
                   "AwsSolutions-COG4")
        # everything else (predict, classify, feedback, model) needs a client's key, and the authorizer's credentials
        self.auth = ApiAuth(self, "Auth", api=self.api, settings=config.api, stage_name=config.name)
        for resource in (v1.add_resource("{proxy+}"), self.api.root.add_resource("{proxy+}")):
            self.auth.add_keyed_method(resource, "ANY", request_validator=validator)

        self.client_keys = ClientKeys(self, "ClientKeys", api=self.api, settings=config.api, environment=config.name)

        accept(self.api, "the FastAPI app validates every body against its pydantic schema and answers 422 with "
                         "what to fix; API Gateway models would duplicate that schema", "AwsSolutions-APIG2")
        if config.api.waf.enabled:
            self.web_acl = WebAcl(self, "WebAcl", name=f"golive-{config.name}-api", settings=config.api.waf,
                                  stage_arn=self.api.deployment_stage.stage_arn, logs_key=logs_key, retention=retention)
        else:
            self.web_acl = None
            accept(self.api, f"api.waf.enabled is false for {config.name}: a web ACL costs $5/month plus $1 per rule "
                             "and $0.60 per million requests (golive costs estimate); prod turns it on", *API_WAF)
        accept(self.api.deployment_stage, "predict and feedback are POSTs with bodies, which API Gateway's cache "
                                          "never keys on; a cache cluster would serve nothing and bill from "
                                          "$0.02/hour", *API_CACHE)
        accept(self.api, "client certificates authenticate API Gateway to HTTP backends; this API's only "
                         "backend is a Lambda invoked through IAM", *API_CLIENT_CERT)

        cdk.CfnOutput(self, "ApiUrl", value=self.api.url, description="POST {url}v1/predict with header x-api-key")
        cdk.CfnOutput(self, "FeedbackTable", value=self.feedback_table.table_name)


_RETENTION = {7: logs.RetentionDays.ONE_WEEK, 14: logs.RetentionDays.TWO_WEEKS, 30: logs.RetentionDays.ONE_MONTH,
              60: logs.RetentionDays.TWO_MONTHS, 90: logs.RetentionDays.THREE_MONTHS, 180: logs.RetentionDays.SIX_MONTHS,
              365: logs.RetentionDays.ONE_YEAR, 731: logs.RetentionDays.TWO_YEARS}
