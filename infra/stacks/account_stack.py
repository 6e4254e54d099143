"""Account: what golive needs from the AWS account and region that no single environment may own.

API Gateway delivers every REST API's execution logs in a region through one role, set account-wide
(`AWS::ApiGateway::Account`). When an environment's API stack created it (CDK's `cloud_watch_role=True`),
every environment overwrote the setting with a role of its own, deleted with that environment's stack:
destroying dev left prod's API logging through a role that no longer existed. So the role and the
setting live here, in one stack per account and region (`golive-account`) that every environment's API
stack depends on, and both are retained: `cdk destroy` (even of this stack) leaves them in place, for
every API in the region that logs through them. They cost nothing.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.compliance import accept

PUSH_TO_LOGS = "service-role/AmazonAPIGatewayPushToCloudWatchLogs"


class AccountStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(
            scope, construct_id, description="golive: account-wide settings shared by every environment", **kwargs
        )
        self.api_logs_role = iam.Role(
            self,
            "ApiGatewayLogsRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(PUSH_TO_LOGS)],
            description="API Gateway writes REST API execution logs of this account and region to CloudWatch",
        )
        self.api_logs_role.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        setting = apigw.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=self.api_logs_role.role_arn)
        setting.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        accept(
            self.api_logs_role,
            "API Gateway's account-level logging role: AWS's own managed policy is the documented one",
            f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{PUSH_TO_LOGS}]",
        )
        cdk.CfnOutput(self, "ApiGatewayLogsRoleArn", value=self.api_logs_role.role_arn)
