"""What every golive Lambda function has around it: its own log group under the environment's logs key, and a
role only Lambda assumes that may write to it; once the function exists, it waits for that role's policy alone."""

from __future__ import annotations

from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct


def logged_role(
    scope: Construct,
    ids: tuple[str, str],
    *,
    logs_key: kms.IKey,
    retention: logs.RetentionDays,
    description: str,
) -> tuple[logs.LogGroup, iam.Role]:
    """The log group and the role (`ids`: their construct ids, which name their logical ids)."""
    log_group = logs.LogGroup(
        scope, ids[0], retention=retention, encryption_key=logs_key, removal_policy=cdk.RemovalPolicy.DESTROY
    )
    role = iam.Role(scope, ids[1], assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description)
    log_group.grant_write(role)
    return log_group, role


def after_its_policy(function: lambda_.Function, role: iam.Role) -> None:
    """CDK makes the function depend on the role it already references (cfn-lint W3005); keep only the dependency
    that matters: the role's policy must exist before the first invocation."""
    policy = cast(cdk.CfnResource, role.node.find_child("DefaultPolicy").node.default_child)
    cast(cdk.CfnResource, function.node.default_child).add_override(
        "DependsOn", [cdk.Stack.of(function).get_logical_id(policy)]
    )
