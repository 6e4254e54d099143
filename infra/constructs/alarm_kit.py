"""What the monitoring units share: the environment's metrics (the endpoint's, the API's own EMF ones) at the
configured periods, and alarms that notify the alert topic when they fire and when they clear, collected by
construct id (the composite alarm and the dashboard read them from here)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from golive.contracts import alarms as catalog
from golive.contracts.telemetry import NAMESPACE, SERVICE
from infra.config import EnvironmentConfig
from infra.naming import VARIANT, Names

INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"  # SageMaker's per-instance utilisation metrics
GT = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
LT = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD


class AlarmKit:
    def __init__(self, config: EnvironmentConfig, topic: sns.ITopic) -> None:
        self.config, self.names, self.topic, self.thresholds = config, Names(config), topic, config.monitoring
        self.period = cdk.Duration.minutes(self.thresholds.period_minutes)
        self.quality_period = cdk.Duration.minutes(self.thresholds.quality_period_minutes)
        self.alarms: dict[str, cloudwatch.AlarmBase] = {}  # every alarm made with this kit, by construct id

    def notify(self, spec: catalog.Alarm, alarm: cloudwatch.AlarmBase) -> cloudwatch.AlarmBase:
        """Send the alarm's state changes, both ways, to the alert topic and keep it."""
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        alarm.add_ok_action(cw_actions.SnsAction(self.topic))
        self.alarms[spec.construct_id] = alarm
        return alarm

    def name(self, spec: catalog.Alarm) -> str:
        return self.names.alarm(spec)

    def alarm(
        self,
        scope: Construct,
        spec: catalog.Alarm,
        description: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
        evaluation_periods: int | None = None,
    ) -> cloudwatch.Alarm:
        """A threshold alarm that fires when every one of `evaluation_periods` breaches; no data is not a breach."""
        periods = evaluation_periods or self.thresholds.evaluation_periods
        alarm = cloudwatch.Alarm(
            scope,
            spec.construct_id,
            alarm_name=self.name(spec),
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.notify(spec, alarm)
        return alarm

    def endpoint_metric(self, name: str, statistic: str, namespace: str = "AWS/SageMaker") -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=namespace,
            metric_name=name,
            statistic=statistic,
            period=self.period,
            dimensions_map={"EndpointName": self.names.endpoint, "VariantName": VARIANT},
        )

    def model_dimensions(self) -> dict[str, str]:
        """The dimensions SageMaker reports the model's invocations, errors and latency under: the inference
        component's on a scale_to_zero endpoint, else the endpoint's variant."""
        if self.config.endpoint.scale_to_zero:
            return {"InferenceComponentName": self.names.inference_component}
        return {"EndpointName": self.names.endpoint, "VariantName": VARIANT}

    def model_metric(self, name: str, statistic: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name=name,
            statistic=statistic,
            period=self.period,
            dimensions_map=self.model_dimensions(),
        )

    def instance_count(self) -> cloudwatch.MathExpression:
        """SageMaker publishes no instance count; invocations over invocations per instance is one."""
        return cloudwatch.MathExpression(
            expression="invocations / perInstance",
            label="instances serving",
            period=self.period,
            using_metrics={
                "invocations": self.endpoint_metric("Invocations", "Sum"),
                "perInstance": self.endpoint_metric("InvocationsPerInstance", "Sum"),
            },
        )

    def api_metric(
        self, name: str, statistic: str, period: cdk.Duration | None = None, **dimensions: str
    ) -> cloudwatch.Metric:
        """One of the API's own EMF metrics (golive/contracts/telemetry.py) in this environment, by default over
        the quality period."""
        return cloudwatch.Metric(
            namespace=NAMESPACE,
            metric_name=name,
            statistic=statistic,
            period=period or self.quality_period,
            dimensions_map={"service": SERVICE, "environment": self.config.name, **dimensions},
        )
