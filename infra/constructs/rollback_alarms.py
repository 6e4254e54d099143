"""The endpoint's 5XX and p99 model-latency alarms: they notify the alert topic like every alarm, and roll a
blue/green deployment back when they fire during its bake time (the endpoint's and the pipeline's
DeploymentConfig name them: infra/naming.py). One-minute datapoints, so a bad model is caught while baking. On a
scale_to_zero endpoint SageMaker reports them per inference component, which the component update watches."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from golive.contracts.alarms import ENDPOINT_5XX, ENDPOINT_LATENCY
from infra.constructs.alarm_kit import AlarmKit
from infra.constructs.inline import Inline


class RollbackAlarms(Inline):
    def __init__(self, scope: Construct, construct_id: str, *, kit: AlarmKit) -> None:
        super().__init__(scope, construct_id)
        thresholds, minute = kit.thresholds, cdk.Duration.minutes(1)
        dimensions = kit.model_dimensions()
        self.alarms: list[cloudwatch.AlarmBase] = [
            kit.notify(
                ENDPOINT_5XX,
                cloudwatch.Alarm(
                    self,
                    ENDPOINT_5XX.construct_id,
                    alarm_name=kit.name(ENDPOINT_5XX),
                    alarm_description="the endpoint's container answers 5XX; also rolls a blue/green deployment back",
                    metric=cloudwatch.Metric(
                        namespace="AWS/SageMaker",
                        metric_name="Invocation5XXErrors",
                        dimensions_map=dimensions,
                        statistic="Sum",
                        period=minute,
                    ),
                    threshold=thresholds.endpoint_5xx_per_minute,
                    evaluation_periods=2,
                    datapoints_to_alarm=2,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                ),
            ),
            kit.notify(
                ENDPOINT_LATENCY,
                cloudwatch.Alarm(
                    self,
                    ENDPOINT_LATENCY.construct_id,
                    alarm_name=kit.name(ENDPOINT_LATENCY),
                    alarm_description=f"the model's p99 latency is over {thresholds.endpoint_latency_p99_ms:g} ms; "
                    "also rolls a blue/green deployment back",
                    metric=cloudwatch.Metric(
                        namespace="AWS/SageMaker",
                        metric_name="ModelLatency",
                        dimensions_map=dimensions,
                        statistic="p99",
                        period=minute,
                    ),
                    threshold=thresholds.endpoint_latency_p99_ms * 1000,  # ModelLatency is in microseconds
                    evaluation_periods=3,
                    datapoints_to_alarm=3,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                ),
            ),
        ]
