"""Costs: what finance needs to follow this environment's spend by stage.

- the cost-allocation tags activated in Billing (CloudFormation can't; a custom resource calls Cost
  Explorer's UpdateCostAllocationTagsStatus, which reports tag keys not yet seen in billing data, up to
  24 h after first use, as per-key errors rather than failing, so a fresh account deploys fine);
- a monthly AWS Budget per stage, filtered on the Stage and Environment tags, alerting the alert topic
  (and the e-mail in config) at 80% of actual and 100% of forecast spend;
- a Cost Anomaly Detection monitor on this environment's tagged spend, alerting the topic at once.
"""

from __future__ import annotations

import json
from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_ce as ce
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import custom_resources as cr
from constructs import Construct, IConstruct

from infra.compliance import INLINE_POLICY, LAMBDA_CONCURRENCY, LAMBDA_DLQ, LAMBDA_IN_VPC, LAMBDA_TRACING, accept
from infra.config import EnvironmentConfig
from infra.naming import PROJECT

COST_TAG_KEYS = ("Project", "Environment", "Stage", "CostCenter")

ALERTS = (("ACTUAL", 80), ("FORECASTED", 100))


class CostsStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        config: EnvironmentConfig,
        alert_topic: sns.ITopic,
        logs_key: kms.IKey,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self._budgets(config, alert_topic)
        self._activate_cost_tags(logs_key)
        self._anomaly_alerts(config, alert_topic)

    def _budgets(self, config: EnvironmentConfig, alert_topic: sns.ITopic) -> None:
        """A monthly budget per stage (its Stage and Environment tags), alerting the topic and the alarm email."""
        subscribers = [budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=alert_topic.topic_arn)]
        if config.alarm_email:
            subscribers.append(
                budgets.CfnBudget.SubscriberProperty(subscription_type="EMAIL", address=config.alarm_email)
            )
        for stage, amount in config.costs.monthly_budget_usd.items():
            budgets.CfnBudget(
                self,
                f"Budget{stage.title()}",
                budget=budgets.CfnBudget.BudgetDataProperty(
                    budget_name=f"{PROJECT}-{config.name}-{stage}",
                    budget_type="COST",
                    time_unit="MONTHLY",
                    budget_limit=budgets.CfnBudget.SpendProperty(amount=amount, unit="USD"),
                    filter_expression=budgets.CfnBudget.ExpressionProperty(
                        and_=[
                            budgets.CfnBudget.ExpressionProperty(
                                tags=budgets.CfnBudget.TagValuesProperty(
                                    key="Stage", values=[stage], match_options=["EQUALS"]
                                )
                            ),
                            budgets.CfnBudget.ExpressionProperty(
                                tags=budgets.CfnBudget.TagValuesProperty(
                                    key="Environment", values=[config.name], match_options=["EQUALS"]
                                )
                            ),
                        ]
                    ),
                ),
                notifications_with_subscribers=[
                    budgets.CfnBudget.NotificationWithSubscribersProperty(
                        notification=budgets.CfnBudget.NotificationProperty(
                            notification_type=kind,
                            comparison_operator="GREATER_THAN",
                            threshold=percent,
                            threshold_type="PERCENTAGE",
                        ),
                        subscribers=subscribers,
                    )
                    for kind, percent in ALERTS
                ],
            )

    def _anomaly_alerts(self, config: EnvironmentConfig, alert_topic: sns.ITopic) -> None:
        """Cost Explorer's anomaly detection on this environment's tags, alerting the topic past the threshold."""
        monitor = ce.CfnAnomalyMonitor(
            self,
            "AnomalyMonitor",
            monitor_name=f"{PROJECT}-{config.name}",
            monitor_type="CUSTOM",
            monitor_specification=json.dumps(
                {
                    "And": [
                        {"Tags": {"Key": "Project", "Values": [PROJECT], "MatchOptions": ["EQUALS"]}},
                        {"Tags": {"Key": "Environment", "Values": [config.name], "MatchOptions": ["EQUALS"]}},
                    ]
                }
            ),
        )
        ce.CfnAnomalySubscription(
            self,
            "AnomalyAlerts",
            subscription_name=f"{PROJECT}-{config.name}-anomalies",
            frequency="IMMEDIATE",
            monitor_arn_list=[monitor.attr_monitor_arn],
            subscribers=[ce.CfnAnomalySubscription.SubscriberProperty(type="SNS", address=alert_topic.topic_arn)],
            threshold_expression=json.dumps(
                {
                    "Dimensions": {
                        "Key": "ANOMALY_TOTAL_IMPACT_ABSOLUTE",
                        "MatchOptions": ["GREATER_THAN_OR_EQUAL"],
                        "Values": [str(config.costs.anomaly_threshold_usd)],
                    }
                }
            ),
        )

    def _activate_cost_tags(self, logs_key: kms.IKey) -> None:
        call = cr.AwsSdkCall(
            service="CostExplorer",
            action="updateCostAllocationTagsStatus",
            parameters={"CostAllocationTagsStatus": [{"TagKey": key, "Status": "Active"} for key in COST_TAG_KEYS]},
            physical_resource_id=cr.PhysicalResourceId.of(f"{PROJECT}-cost-allocation-tags"),
        )
        activate = cr.AwsCustomResource(
            self,
            "ActivateCostTags",
            on_create=call,
            on_update=call,
            install_latest_aws_sdk=False,
            memory_size=256,  # one SDK call per deploy; explicit rather than Lambda's 128 MB default
            log_group=logs.LogGroup(
                self,
                "ActivateCostTagsLogs",
                retention=logs.RetentionDays.ONE_MONTH,
                encryption_key=logs_key,
                removal_policy=cdk.RemovalPolicy.DESTROY,
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["ce:UpdateCostAllocationTagsStatus"], resources=["*"])]
            ),
        )
        # CDK adds DependsOn entries that references already imply (cfn-lint W3005); keep the one that
        # matters: the call waits for its policy
        provider = self.node.find_child("AWS679f53fac002430cb0da5b7982bd2287")
        cast(cdk.CfnResource, provider.node.default_child).add_deletion_override("DependsOn")
        policy = cast(cdk.CfnResource, activate.node.find_child("CustomResourcePolicy").node.default_child)
        policy.add_deletion_override("DependsOn")
        cast(cdk.CfnResource, activate.node.find_child("Resource").node.default_child).add_override(
            "DependsOn", [self.get_logical_id(policy)]
        )
        self._acknowledge_cost_tags(activate, provider)

    def _acknowledge_cost_tags(self, activate: cr.AwsCustomResource, provider: IConstruct) -> None:
        """cdk-nag's findings on the tag activation and CDK's provider function, each with its reason."""
        accept(
            activate,
            "ce:UpdateCostAllocationTagsStatus is account-wide and takes no resource ARN",
            "AwsSolutions-IAM5[Resource::*]",
        )
        accept(
            activate,
            "AwsCustomResource writes the one ce:UpdateCostAllocationTagsStatus statement inline; "
            "a managed policy would hold the same statement",
            *INLINE_POLICY,
        )
        # the provider is aws-cdk-lib's singleton function, run by CloudFormation once per deploy
        accept(provider, "the runtime of CDK's AwsCustomResource provider is chosen by aws-cdk-lib", "AwsSolutions-L1")
        accept(
            provider,
            "CDK's AwsCustomResource provider function logs with AWS's basic execution policy",
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        )
        accept(
            provider,
            "CloudFormation invokes it and gets a FAILED response when the call fails: the deploy "
            "stops with the error, so nothing is left for a dead-letter queue",
            *LAMBDA_DLQ,
        )
        accept(
            provider,
            "it calls only Cost Explorer's public API, once per deploy; a VPC would need a NAT "
            "gateway for that one call",
            *LAMBDA_IN_VPC,
        )
        accept(
            provider,
            "it runs once per deploy; reserving concurrency would take from the account's pool, "
            "which a new account cannot spare",
            *LAMBDA_CONCURRENCY,
        )
        accept(
            provider,
            "one SDK call per deploy: its result is in CloudFormation's events and its encrypted "
            "log group, and tracing would need X-Ray rights on CDK's role",
            *LAMBDA_TRACING,
        )
