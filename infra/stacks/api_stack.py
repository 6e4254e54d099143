"""API: the FastAPI Lambda (functions/, packaged locally without Docker) behind API Gateway.

An API key and usage plan (throttle + quota) per client app on every route but health and docs
(infra/constructs/client_keys.py), an optional IAM or Cognito authorizer (api_auth.py), an optional AWS WAF
web ACL (web_acl.py), API Gateway's own errors in the app's error shape (gateway_responses.py), access
logs, X-Ray, the DynamoDB feedback table (point-in-time recovery, encrypted with the data stack's key), with
api.capture_texts its daily export into the data bucket (feedback_export.py; without captured texts an export
holds no row) and the rotated prediction-id signing key
(signing_key.py). The function may read only that table and that secret, and, for the sagemaker
backend, invoke only the one endpoint it is given. Log groups are KMS-encrypted with the environment's
logs key. API Gateway's account-wide logging role is not this stack's: see account_stack.py.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.api_function import LAMBDA_RUNTIME, LAMBDA_TIMEOUT_S, RETENTION, ApiFunction
from infra.constructs.client_keys import ClientKeys
from infra.constructs.feedback_export import FeedbackExport
from infra.constructs.feedback_table import FeedbackTable
from infra.constructs.inline import StableIdStack
from infra.constructs.rest_api import RestApi
from infra.stacks.data_stack import DataStack


class ApiStack(StableIdStack):
    timeout_s = LAMBDA_TIMEOUT_S  # the function's timeout, which its duration alarm is measured against

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        config: EnvironmentConfig,
        package_dir: Path,
        logs_key: kms.IKey,
        data: DataStack,
        endpoint_name: str | None = None,
        inference_component_name: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.feedback_table = FeedbackTable(self, "FeedbackStore", retain=config.retain_feedback, key=data.key).table
        handler = ApiFunction(
            self,
            "ApiFunction",
            config=config,
            package_dir=package_dir,
            table=self.feedback_table,
            logs_key=logs_key,
            endpoint_name=endpoint_name,
            inference_component_name=inference_component_name,
        )
        self.function, self.signing_key = handler.function, handler.signing_key
        self.signing_secret = handler.signing_key.secret
        # "Default": CDK names the Lambda permissions and usage-plan keys from the API's path, which a "Default"
        # construct stays out of; another id would rename them, and a renamed usage-plan key fails to deploy
        rest = RestApi(
            self,
            "Default",
            config=config,
            function=handler.target,
            logs_key=logs_key,
            retention=RETENTION[config.api.log_retention_days],
        )
        self.api, self.auth, self.web_acl = rest.api, rest.auth, rest.web_acl
        self.client_keys = ClientKeys(self, "ClientKeys", api=self.api, settings=config.api, environment=config.name)
        # the export joins feedback with captured texts: with capture off every row would be "no captured text"
        self.feedback_export = (
            FeedbackExport(
                self,
                "FeedbackExport",
                environment=config.name,
                table=self.feedback_table,
                bucket=data.data,
                data_key=data.key,
                runtime=LAMBDA_RUNTIME,
                logs_key=logs_key,
                retention=RETENTION[config.api.log_retention_days],
            )
            if config.api.capture_texts
            else None
        )

        cdk.CfnOutput(self, "ApiUrl", value=self.api.url, description="POST {url}v1/predict with header x-api-key")
        cdk.CfnOutput(self, "FeedbackTable", value=self.feedback_table.table_name)
