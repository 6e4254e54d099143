"""Monitoring: alarms on every stage, event rules on training, a composite "service degraded" alarm and
one dashboard per environment. Every alarm notifies the alert topic when it fires and when it clears.

    endpoint   5XX and p99 model latency (the inference stack's rollback alarms), GPU utilisation and
               memory, instance count pinned at the autoscaling maximum
    api        Lambda errors, throttles and p99 duration near the timeout; API Gateway 5XX rate and p99
               latency; DynamoDB throttles on the feedback table; with api.capture_texts, the daily feedback
               export failing
    training   EventBridge: a training job Failed/Stopped, the pipeline's execution failing; what the
               rules cannot deliver to the topic is kept in a dead-letter queue, which has its own alarm
               (and, with retraining on, so has the retraining trigger's)
    quality    from the API's EMF metrics: online accuracy from feedback, mean confidence (against the
               bundle's baseline, and CloudWatch anomaly detection where no fixed floor fits), the
               predicted-label share's distance from the baseline, the mean input length's drift

The quality formulas are those of `golive.monitoring.conditions`, which `golive monitor` applies locally; the
baseline is the deploy-time bundle's (`metrics.json`): redeploy after a promotion to move it.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sns as sns
from constructs import Construct

from golive.contracts import alarms as catalog
from golive.monitoring.conditions import Baseline
from infra.config import EnvironmentConfig
from infra.constructs.alarm_kit import AlarmKit
from infra.constructs.api_alarms import ApiAlarms
from infra.constructs.dashboard import MonitoringDashboard
from infra.constructs.endpoint_alarms import EndpointAlarms
from infra.constructs.inline import StableIdStack
from infra.constructs.quality_alarms import QualityAlarms
from infra.constructs.training_alerts import TrainingAlerts
from infra.stacks.api_stack import ApiStack
from infra.stacks.inference_stack import InferenceStack
from infra.stacks.training_stack import TrainingStack


class MonitoringStack(StableIdStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        config: EnvironmentConfig,
        alert_topic: sns.ITopic,
        api: ApiStack,
        training: TrainingStack,
        inference: InferenceStack | None,
        baseline: Baseline | None,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        kit = AlarmKit(config, alert_topic)
        self.alarms = kit.alarms  # what this stack creates, by construct id

        # client-facing: what the composite "service degraded" alarm is made of; the rest warn of capacity
        client_facing: list[cloudwatch.IAlarm] = []
        capacity: list[cloudwatch.IAlarm] = []
        if inference is not None:
            client_facing += inference.rollback_alarms
            capacity += EndpointAlarms(self, "EndpointAlarms", kit=kit).capacity
        api_alarms = ApiAlarms(
            self,
            "ApiAlarms",
            kit=kit,
            function=api.function,
            timeout_s=api.timeout_s,
            stage=api.api.deployment_stage,
            table_name=api.feedback_table.table_name,
            export_function=api.feedback_export.function if api.feedback_export else None,
        )
        client_facing += api_alarms.client_facing
        capacity += api_alarms.capacity
        quality = QualityAlarms(self, "QualityAlarms", kit=kit, baseline=baseline).alarms
        # "Default": the queue policy's statement ids are made from the rules' paths, which it stays out of
        training_alerts = TrainingAlerts(
            self,
            "Default",
            kit=kit,
            state_machine=training.state_machine,
            retrain_queue=training.retrain_trigger.undelivered if training.retrain_trigger else None,
        )
        self.rules = training_alerts.rules
        capacity += training_alerts.capacity

        degraded = self._service_degraded(kit, client_facing)
        self.dashboard = MonitoringDashboard(
            self,
            "MonitoringDashboard",
            kit=kit,
            alarms=[degraded, *client_facing, *capacity, *quality],
            state_machine=training.state_machine,
            function=api.function,
            stage=api.api.deployment_stage,
            endpoint=inference is not None,
            baseline=baseline,
        ).board
        cdk.CfnOutput(self, "DashboardName", value=self.dashboard.dashboard_name)

    def _service_degraded(self, kit: AlarmKit, client_facing: list[cloudwatch.IAlarm]) -> cloudwatch.IAlarm:
        """The composite alarm that notifies when any client-facing alarm fires."""
        return kit.notify(
            catalog.SERVICE_DEGRADED,
            cloudwatch.CompositeAlarm(
                self,
                catalog.SERVICE_DEGRADED.construct_id,
                composite_alarm_name=kit.name(catalog.SERVICE_DEGRADED),
                alarm_description="clients see errors or delays: an error, throttle or latency alarm of the API or the "
                "endpoint is firing",
                alarm_rule=cloudwatch.AlarmRule.any_of(
                    *(cloudwatch.AlarmRule.from_alarm(a, cloudwatch.AlarmState.ALARM) for a in client_facing)
                ),
            ),
        )
