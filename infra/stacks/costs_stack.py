"""Costs: a monthly AWS Budget per stage of this environment, filtered on the Stage and Environment
tags, alerting the alert topic (and the e-mail in config) at 80% of actual and 100% of forecast spend.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.naming import PROJECT

ALERTS = (("ACTUAL", 80), ("FORECASTED", 100))


class CostsStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, config: EnvironmentConfig, alert_topic: sns.ITopic,
                 **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        subscribers = [budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=alert_topic.topic_arn)]
        if config.alarm_email:
            subscribers.append(budgets.CfnBudget.SubscriberProperty(subscription_type="EMAIL", address=config.alarm_email))
        for stage, amount in config.costs.monthly_budget_usd.items():
            budgets.CfnBudget(
                self, f"Budget{stage.title()}",
                budget=budgets.CfnBudget.BudgetDataProperty(
                    budget_name=f"{PROJECT}-{config.name}-{stage}", budget_type="COST", time_unit="MONTHLY",
                    budget_limit=budgets.CfnBudget.SpendProperty(amount=amount, unit="USD"),
                    filter_expression=budgets.CfnBudget.ExpressionProperty(and_=[
                        budgets.CfnBudget.ExpressionProperty(tags=budgets.CfnBudget.TagValuesProperty(
                            key="Stage", values=[stage], match_options=["EQUALS"])),
                        budgets.CfnBudget.ExpressionProperty(tags=budgets.CfnBudget.TagValuesProperty(
                            key="Environment", values=[config.name], match_options=["EQUALS"])),
                    ])),
                notifications_with_subscribers=[
                    budgets.CfnBudget.NotificationWithSubscribersProperty(
                        notification=budgets.CfnBudget.NotificationProperty(
                            notification_type=kind, comparison_operator="GREATER_THAN", threshold=percent,
                            threshold_type="PERCENTAGE"),
                        subscribers=subscribers)
                    for kind, percent in ALERTS])
