"""The training pipeline's alerts: EventBridge rules that tell the alert topic when a training job of this
environment fails or stops and when a pipeline execution fails, times out or is aborted; what the rules
cannot deliver after EventBridge's retries lands in a dead-letter queue, which has its own alarm. With retraining
on, the retraining trigger's dead-letter queue (infra/constructs/retrain_trigger.py) has one too."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from golive.contracts import alarms as catalog
from infra.compliance import QUEUE_DLQ, accept
from infra.constructs.alarm_kit import GT, AlarmKit
from infra.constructs.inline import Inline


class TrainingAlerts(Inline):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        kit: AlarmKit,
        state_machine: sfn.IStateMachine,
        retrain_queue: sqs.IQueue | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        prefix, topic, env = kit.names.prefix, kit.topic, kit.config.name
        undelivered = self._undelivered_queue(prefix, topic)
        job_failed = self._job_failed(prefix, env, topic, undelivered)
        pipeline_failed = events.Rule(
            self,
            "PipelineFailed",
            rule_name=f"{prefix}-pipeline-failed",
            description="the training pipeline's execution failed, timed out or was aborted",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "status": ["FAILED", "TIMED_OUT", "ABORTED"],
                    "stateMachineArn": [state_machine.state_machine_arn],
                },
            ),
        )
        pipeline_failed.add_target(
            targets.SnsTopic(
                topic,
                message=events.RuleTargetInput.from_text(
                    f"golive {env}: training pipeline execution {events.EventField.from_path('$.detail.name')} "
                    f"ended {events.EventField.from_path('$.detail.status')}; see the Step Functions console"
                ),
                dead_letter_queue=undelivered,
            )
        )
        self.rules = [job_failed, pipeline_failed]
        self.capacity: list[cloudwatch.Alarm] = [
            self._queue_alarm(
                kit,
                catalog.UNDELIVERED_ALERTS,
                f"EventBridge could not deliver a training alert to the topic: read the queue {prefix}-undelivered-alerts "
                "and check the topic's key policy",
                undelivered,
            )
        ]
        if retrain_queue is not None:
            self.capacity.append(
                self._queue_alarm(
                    kit,
                    catalog.UNDELIVERED_RETRAIN_TRIGGERS,
                    f"a retraining trigger failed or could not be delivered: read the queue {retrain_queue.queue_name} "
                    "and the retraining function's logs",
                    retrain_queue,
                )
            )

    def _queue_alarm(self, kit: AlarmKit, spec: catalog.Alarm, description: str, queue: sqs.IQueue) -> cloudwatch.Alarm:
        """Fires as soon as a message waits in `queue` (a dead-letter queue: anything there went wrong)."""
        messages = queue.metric_approximate_number_of_messages_visible(statistic="Maximum", period=kit.period)
        return kit.alarm(self, spec, description, messages, 0, GT, evaluation_periods=1)

    def _undelivered_queue(self, prefix: str, topic: sns.ITopic) -> sqs.Queue:
        """The rules' dead-letter queue, encrypted with the topic's key."""
        undelivered = sqs.Queue(
            self,
            "UndeliveredAlertsQueue",
            queue_name=f"{prefix}-undelivered-alerts",
            # the topic's key: the same messages, and EventBridge may already use it
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=topic.master_key,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        accept(
            undelivered,
            "this is the dead-letter queue of the training alert rules; a queue behind it would "
            "only move the same messages again",
            *QUEUE_DLQ,
        )
        return undelivered

    def _job_failed(self, prefix: str, env: str, topic: sns.ITopic, undelivered: sqs.Queue) -> events.Rule:
        """A training job of this environment (named `<prefix>-...`) failed or was stopped: say why."""
        job_failed = events.Rule(
            self,
            "TrainingJobFailed",
            rule_name=f"{prefix}-training-job-failed",
            description="a SageMaker training job of this environment failed or was stopped",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Training Job State Change"],
                detail={"TrainingJobStatus": ["Failed", "Stopped"], "TrainingJobName": [{"prefix": f"{prefix}-"}]},
            ),
        )
        job_failed.add_target(
            targets.SnsTopic(
                topic,
                message=events.RuleTargetInput.from_text(
                    f"golive {env}: training job {events.EventField.from_path('$.detail.TrainingJobName')} is "
                    f"{events.EventField.from_path('$.detail.TrainingJobStatus')}: "
                    f"{events.EventField.from_path('$.detail.FailureReason')}"
                ),
                dead_letter_queue=undelivered,
            )
        )
        return job_failed
