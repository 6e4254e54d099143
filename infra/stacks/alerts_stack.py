"""Alerts: the topic every alarm, event rule, budget and anomaly monitor notifies (KMS-encrypted,
e-mail from config), and the KMS key every log group of the environment is encrypted with. A stack of
its own so that the inference stack's rollback alarms (created before the endpoint) and the monitoring
stack (created after everything it watches) can both notify it.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.compliance import SNS_REDRIVE, accept
from infra.config import EnvironmentConfig

# services that publish to the topic and so must use its key
PUBLISHERS = ("cloudwatch.amazonaws.com", "budgets.amazonaws.com", "costalerts.amazonaws.com", "events.amazonaws.com")


class AlertsStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, config: EnvironmentConfig, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.key, self.topic = self._alert_topic(config)
        self.logs_key = self._logs_key(config)
        cdk.CfnOutput(self, "AlertTopicArn", value=self.topic.topic_arn)

    def _alert_topic(self, config: EnvironmentConfig) -> tuple[kms.Key, sns.Topic]:
        """The encrypted topic every alarm and alert publishes to (PUBLISHERS, this account only), and the e-mail
        subscription where there is an alarm_email."""
        key = kms.Key(
            self,
            "AlertsKey",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
            pending_window=cdk.Duration.days(7),
            description=f"golive {config.name}: alert topic",
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                principals=[iam.ServicePrincipal(p) for p in PUBLISHERS],
            )
        )
        topic = sns.Topic(
            self,
            "Alerts",
            topic_name=f"golive-{config.name}-alerts",
            master_key=key,
            enforce_ssl=True,
            display_name=f"golive {config.name} alerts",
        )
        for publisher in PUBLISHERS:
            topic.add_to_resource_policy(
                iam.PolicyStatement(
                    actions=["sns:Publish"],
                    resources=[topic.topic_arn],
                    principals=[iam.ServicePrincipal(publisher)],
                    conditions={"StringEquals": {"aws:SourceAccount": self.account}},
                )
            )
        if config.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        accept(
            topic,
            "SNS retries e-mail delivery on its own policy and an unconfirmed address receives "
            "nothing, so a dead-letter queue would hold only messages nobody reads; the alarm itself "
            "stays in ALARM on the dashboard",
            *SNS_REDRIVE,
        )
        return key, topic

    def _logs_key(self, config: EnvironmentConfig) -> kms.Key:
        """CloudWatch Logs encrypts with it on behalf of the stacks' log groups (Lambda, API access logs, the
        pipeline, the cost-tag activation), only for log groups of this account and region."""
        key = kms.Key(
            self,
            "LogsKey",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
            pending_window=cdk.Duration.days(7),
            description=f"golive {config.name}: log groups",
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                principals=[iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com")],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": self.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )
        return key
