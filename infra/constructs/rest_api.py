"""The API Gateway REST API in front of the function: a regional stage with access logs, X-Ray and the
environment's throttle; API Gateway's own errors in the app's error shape (gateway_responses.py); health and
docs open to anyone (PUBLIC_ROUTES); every other route behind a client's key and the authorizer (api_auth.py);
an AWS WAF web ACL on the stage where the environment turns it on (web_acl.py)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from golive.contracts.routes import PUBLIC_ROUTES
from infra.compliance import API_CACHE, API_CLIENT_CERT, API_OPEN_ROUTE, API_WAF, accept
from infra.config import EnvironmentConfig
from infra.constructs.api_auth import ApiAuth
from infra.constructs.gateway_responses import add_gateway_responses
from infra.constructs.inline import Inline
from infra.constructs.web_acl import WebAcl


class RestApi(Inline):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        function: lambda_.IFunction,
        logs_key: kms.IKey,
        retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.api = self._rest_api(config, function, logs_key, retention)
        add_gateway_responses(self.api)
        validator = self.api.add_request_validator(
            "BodyValidator", validate_request_body=False, validate_request_parameters=True
        )
        v1 = self.api.root.add_resource("v1")
        self._public_routes(validator)
        # everything else (predict, classify, feedback, model) needs a client's key, and the authorizer's credentials
        self.auth = ApiAuth(self, "Auth", api=self.api, settings=config.api, stage_name=config.name)
        for resource in (v1.add_resource("{proxy+}"), self.api.root.add_resource("{proxy+}")):
            self.auth.add_keyed_method(resource, "ANY", request_validator=validator)

        accept(
            self.api,
            "the FastAPI app validates every body against its pydantic schema and answers 422 with "
            "what to fix; API Gateway models would duplicate that schema",
            "AwsSolutions-APIG2",
        )
        self.web_acl = self._web_acl(config, logs_key, retention)
        accept(
            self.api.deployment_stage,
            "predict and feedback are POSTs with bodies, which API Gateway's cache "
            "never keys on; a cache cluster would serve nothing and bill from "
            "$0.02/hour",
            *API_CACHE,
        )
        accept(
            self.api,
            "client certificates authenticate API Gateway to HTTP backends; this API's only "
            "backend is a Lambda invoked through IAM",
            *API_CLIENT_CERT,
        )

    def _rest_api(
        self, config: EnvironmentConfig, function: lambda_.IFunction, logs_key: kms.IKey, retention: logs.RetentionDays
    ) -> apigw.LambdaRestApi:
        """The regional REST API in front of the function: its stage traced, throttled and access-logged (JSON)."""
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=retention, encryption_key=logs_key, removal_policy=cdk.RemovalPolicy.DESTROY
        )
        return apigw.LambdaRestApi(
            self,
            "Api",
            handler=function,
            proxy=False,
            cloud_watch_role=False,  # account-wide, owned by the account stack: destroying one env must not break another's logs
            description=f"golive text classification API ({config.name})",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            deploy_options=apigw.StageOptions(
                stage_name=config.name,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
                throttling_rate_limit=config.api.throttle_rate_per_second,
                throttling_burst_limit=config.api.throttle_burst,
            ),
        )

    def _public_routes(self, validator: apigw.RequestValidator) -> None:
        """Health and docs: anyone may call them (PUBLIC_ROUTES). The app answers them only to GET, and any other
        method with its 405 and Allow (API Gateway itself would say 403 "Missing Authentication Token")."""
        for path in PUBLIC_ROUTES:
            resource = self.api.root.resource_for_path(path)
            method = resource.add_method(
                "ANY",
                api_key_required=False,
                request_validator=validator,
                authorization_type=apigw.AuthorizationType.NONE,
            )
            accept(
                method,
                f"{path} is public on purpose (health for load balancers and uptime checks, the docs page, "
                "its assets and the OpenAPI document for people): read-only GETs with no model call, and "
                "the stage throttle bounds what callers can spend",
                *API_OPEN_ROUTE,
                "AwsSolutions-APIG4",
                "AwsSolutions-COG4",
            )

    def _web_acl(self, config: EnvironmentConfig, logs_key: kms.IKey, retention: logs.RetentionDays) -> WebAcl | None:
        """The stage's web ACL where api.waf.enabled; without one, the reason on record."""
        if config.api.waf.enabled:
            return WebAcl(
                self,
                "WebAcl",
                name=f"golive-{config.name}-api",
                settings=config.api.waf,
                stage_arn=self.api.deployment_stage.stage_arn,
                logs_key=logs_key,
                retention=retention,
            )
        accept(
            self.api,
            f"api.waf.enabled is false for {config.name}: a web ACL costs $5/month plus $1 per rule "
            "and $0.60 per million requests (golive costs estimate); prod turns it on",
            *API_WAF,
        )
        return None
