"""The model as an inference component on an endpoint whose instances scale down to 0 (endpoint.scale_to_zero).

    copies (DesiredCopyCount, 0..max)  target tracking on invocations per copy, between 1 and the maximum
    wake from zero                     a call refused for lack of capacity (SageMaker's NoCapacityInvocationFailures
                                       on the component) -> +1 copy; the endpoint's managed instance scaling
                                       then starts an instance for it (minutes: the API answers 503 + Retry-After)
    idle                               no call, served or refused, for endpoint.scale_in_idle_minutes -> 0 copies;
                                       managed instance scaling then releases the instances

Why the idle alarm: SageMaker publishes no datapoint for a minute without calls, so target tracking never sees
"no traffic" and would keep the last copy forever. The idle alarm treats those missing datapoints as idle, and
counts refused calls as traffic, so a model waking up is not emptied again while callers wait.
Neither alarm notifies anyone: they scale, and a normal wake-up pages nobody.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from golive.contracts import alarms as catalog
from infra.config import EndpointSettings, EnvironmentConfig
from infra.constructs.inline import Inline
from infra.naming import VARIANT, Names, component_deployment_config, inference_component_specification

COMPONENT_NAMESPACE = "AWS/SageMaker"  # the component's invocation metrics, by InferenceComponentName
MINUTE = cdk.Duration.minutes(1)


class ScaleToZero(Inline):
    """`endpoint`: the endpoint the component is placed on; `model_name`: its first model; `rollback_alarms`: the
    alarms a component update waits under and rolls back on."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        endpoint: sagemaker.CfnEndpoint,
        model_name: str,
        rollback_alarms: Sequence[cloudwatch.IAlarm],
    ) -> None:
        super().__init__(scope, construct_id)
        names, settings = Names(config), config.endpoint
        self.component_name = names.inference_component
        self.component = self._component(config, names, endpoint, model_name, rollback_alarms)
        self.copies = self._copies(settings)
        refused, served = self._component_metrics()
        self.wake_alarm = self._wake_on_refusal(names, settings, refused)
        self.idle_alarm = self._empty_when_idle(names, settings, served, refused)

    def _component(
        self,
        config: EnvironmentConfig,
        names: Names,
        endpoint: sagemaker.CfnEndpoint,
        model_name: str,
        rollback_alarms: Sequence[cloudwatch.IAlarm],
    ) -> sagemaker.CfnInferenceComponent:
        """The model as an inference component of the endpoint, one copy to start, updated under the rollback
        alarms (which it waits for)."""
        component = sagemaker.CfnInferenceComponent(
            self,
            "Component",
            inference_component_name=self.component_name,
            endpoint_name=endpoint.attr_endpoint_name,
            variant_name=VARIANT,
            specification=sagemaker.CfnInferenceComponent.InferenceComponentSpecificationProperty(
                model_name=model_name
            ),
            runtime_config=sagemaker.CfnInferenceComponent.InferenceComponentRuntimeConfigProperty(copy_count=1),
        )
        component.add_property_override("Specification", inference_component_specification(model_name))
        component.add_property_override("RuntimeConfig", {"CopyCount": 1})
        component.add_property_override("DeploymentConfig", component_deployment_config(config, names))
        for alarm in rollback_alarms:
            component.node.add_dependency(alarm)
        return component

    def _copies(self, settings: EndpointSettings) -> appscaling.ScalableTarget:
        """The component's copy count, 0 to max_copies, tracking invocations per copy."""
        copies = appscaling.ScalableTarget(
            self,
            "Copies",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"inference-component/{self.component_name}",
            scalable_dimension="sagemaker:inference-component:DesiredCopyCount",
            min_capacity=0,
            max_capacity=settings.max_copies,
        )
        copies.node.add_dependency(self.component)
        copies.scale_to_track_metric(
            "InvocationsPerCopy",
            target_value=settings.invocations_per_instance_target,
            predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_INFERENCE_COMPONENT_INVOCATIONS_PER_COPY,
            scale_in_cooldown=cdk.Duration.minutes(10),
            scale_out_cooldown=cdk.Duration.minutes(2),
        )
        return copies

    def _component_metrics(self) -> tuple[cloudwatch.Metric, cloudwatch.Metric]:
        """Per minute: calls refused for want of a copy (Maximum), calls served (Sum)."""
        dimensions = {"InferenceComponentName": self.component_name}
        refused = cloudwatch.Metric(
            namespace=COMPONENT_NAMESPACE,
            metric_name="NoCapacityInvocationFailures",
            dimensions_map=dimensions,
            statistic="Maximum",
            period=MINUTE,
        )
        served = cloudwatch.Metric(
            namespace=COMPONENT_NAMESPACE,
            metric_name="Invocations",
            dimensions_map=dimensions,
            statistic="Sum",
            period=MINUTE,
        )
        return refused, served

    def _wake_on_refusal(
        self, names: Names, settings: EndpointSettings, refused: cloudwatch.Metric
    ) -> cloudwatch.Alarm:
        """An alarm on the first refused call, whose action adds one copy."""
        alarm = cloudwatch.Alarm(
            self,
            catalog.WAKE_FROM_ZERO.construct_id,
            alarm_name=f"{names.prefix}-{catalog.WAKE_FROM_ZERO.name}",
            alarm_description="a call found the model with no copy: add one (scale-to-zero wake-up; notifies nobody)",
            metric=refused,
            threshold=1,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        # the cooldown spans a wake-up, so callers retrying while the first copy starts do not add more copies
        wake = appscaling.StepScalingAction(
            self,
            "WakePolicy",
            scaling_target=self.copies,
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            cooldown=cdk.Duration.seconds(settings.expected_warmup_seconds),
            metric_aggregation_type=appscaling.MetricAggregationType.MAXIMUM,
        )
        wake.add_adjustment(adjustment=1, lower_bound=0)
        alarm.add_alarm_action(cw_actions.ApplicationScalingAction(wake))

        return alarm

    def _empty_when_idle(
        self, names: Names, settings: EndpointSettings, served: cloudwatch.Metric, refused: cloudwatch.Metric
    ) -> cloudwatch.Alarm:
        """An alarm on scale_in_idle_minutes without a call, whose action sets the copies to 0."""
        idle_minutes = settings.scale_in_idle_minutes
        alarm = cloudwatch.Alarm(
            self,
            catalog.IDLE.construct_id,
            alarm_name=f"{names.prefix}-{catalog.IDLE.name}",
            alarm_description=f"no call, served or refused, for {idle_minutes} minutes: scale the model to 0 copies "
            "(notifies nobody)",
            metric=cloudwatch.MathExpression(
                expression="FILL(served, 0) + FILL(refused, 0)",
                label="calls, served or refused",
                period=MINUTE,
                using_metrics={"served": served, "refused": refused},
            ),
            threshold=1,
            evaluation_periods=idle_minutes,
            datapoints_to_alarm=idle_minutes,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )  # SageMaker sends nothing for a quiet minute
        empty = appscaling.StepScalingAction(
            self,
            "IdlePolicy",
            scaling_target=self.copies,
            adjustment_type=appscaling.AdjustmentType.EXACT_CAPACITY,
            metric_aggregation_type=appscaling.MetricAggregationType.AVERAGE,
        )
        empty.add_adjustment(adjustment=0, upper_bound=0)
        alarm.add_alarm_action(cw_actions.ApplicationScalingAction(empty))
        return alarm
