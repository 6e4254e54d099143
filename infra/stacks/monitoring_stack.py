"""Monitoring: alarms on every stage, event rules on training, a composite "service degraded" alarm and
one dashboard per environment. Every alarm notifies the alert topic when it fires and when it clears.

    endpoint   5XX and p99 model latency (the inference stack's rollback alarms), GPU utilisation and
               memory, instance count pinned at the autoscaling maximum
    api        Lambda errors, throttles and p99 duration near the timeout; API Gateway 5XX rate and p99
               latency; DynamoDB throttles on the feedback table
    training   EventBridge: a training job Failed/Stopped, the pipeline's execution failing; what the
               rules cannot deliver to the topic is kept in a dead-letter queue, which has its own alarm
    quality    from the API's EMF metrics: online accuracy from feedback, mean confidence (against the
               bundle's baseline, and CloudWatch anomaly detection where no fixed floor fits), the
               predicted-label share's distance from the baseline, the mean input length's drift

The quality formulas are those of `golive.monitoring.conditions`, which `golive monitor` applies locally; the
baseline is the deploy-time bundle's (`metrics.json`): redeploy after a promotion to move it.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from golive.contracts.telemetry import (CONFIDENCE, FEEDBACK, FEEDBACK_CORRECT, INPUT_CHARS, NAMESPACE,
                                       PREDICTED_LABEL, PREDICTIONS, SERVICE)
from golive.contracts import alarms as catalog
from golive.monitoring.conditions import Baseline
from infra.compliance import QUEUE_DLQ, accept
from infra.config import EnvironmentConfig
from infra.naming import VARIANT, Names
from infra.stacks.api_stack import LAMBDA_TIMEOUT_S, ApiStack
from infra.stacks.inference_stack import InferenceStack
from infra.stacks.training_stack import TrainingStack

# a CloudWatch alarm's metric math may use at most 10 metrics: the prediction count plus 9 labels
MAX_DRIFT_LABELS = 9
INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"  # SageMaker's per-instance utilisation metrics
GT = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
LT = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD


class MonitoringStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, config: EnvironmentConfig, alert_topic: sns.ITopic,
                 api: ApiStack, training: TrainingStack, inference: InferenceStack | None,
                 baseline: Baseline | None, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config, self.names, self.topic = config, Names(config), alert_topic
        self.thresholds = config.monitoring
        self.period = cdk.Duration.minutes(self.thresholds.period_minutes)
        self.quality_period = cdk.Duration.minutes(self.thresholds.quality_period_minutes)
        self.alarms: dict[str, cloudwatch.AlarmBase] = {}  # what this stack creates, by construct id

        # client-facing: what the composite "service degraded" alarm is made of; the rest warn of capacity
        client_facing: list[cloudwatch.IAlarm] = []
        capacity: list[cloudwatch.IAlarm] = []
        if inference is not None:
            client_facing += inference.rollback_alarms
            capacity += self._endpoint_alarms()
        api_client_facing, api_capacity = self._api_alarms(api)
        client_facing += api_client_facing
        capacity += api_capacity
        quality = self._quality_alarms(baseline)
        capacity += self._training_rules(training)

        degraded = cloudwatch.CompositeAlarm(
            self, catalog.SERVICE_DEGRADED.construct_id,
            composite_alarm_name=f"{self.names.prefix}-{catalog.SERVICE_DEGRADED.name}",
            alarm_description="clients see errors or delays: an error, throttle or latency alarm of the API or the "
                              "endpoint is firing",
            alarm_rule=cloudwatch.AlarmRule.any_of(*(cloudwatch.AlarmRule.from_alarm(a, cloudwatch.AlarmState.ALARM)
                                                     for a in client_facing)))
        self._notify(degraded)
        self.alarms[catalog.SERVICE_DEGRADED.construct_id] = degraded
        self.dashboard = self._dashboard(api, training, inference, baseline, [degraded, *client_facing, *capacity, *quality])
        cdk.CfnOutput(self, "DashboardName", value=self.dashboard.dashboard_name)

    # --- alarms ---------------------------------------------------------------------------------------------

    def _notify(self, alarm: cloudwatch.AlarmBase) -> None:
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        alarm.add_ok_action(cw_actions.SnsAction(self.topic))

    def _alarm(self, spec: catalog.Alarm, description: str, metric: cloudwatch.IMetric, threshold: float,
               comparison: cloudwatch.ComparisonOperator, evaluation_periods: int | None = None) -> cloudwatch.Alarm:
        periods = evaluation_periods or self.thresholds.evaluation_periods
        alarm = cloudwatch.Alarm(
            self, spec.construct_id, alarm_name=f"{self.names.prefix}-{spec.name}", alarm_description=description,
            metric=metric, threshold=threshold, comparison_operator=comparison, evaluation_periods=periods,
            datapoints_to_alarm=periods, treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)
        self._notify(alarm)
        self.alarms[spec.construct_id] = alarm
        return alarm

    def _endpoint_alarms(self) -> list[cloudwatch.Alarm]:
        t, endpoint = self.thresholds, self.config.endpoint
        alarms = [
            self._alarm(catalog.GPU_UTILIZATION,
                        f"GPU utilisation above {t.gpu_utilization_percent:g}%: the fleet is saturated",
                        self._endpoint_metric("GPUUtilization", "Average", INSTANCE_NAMESPACE),
                        t.gpu_utilization_percent, GT),
            self._alarm(catalog.GPU_MEMORY,
                        f"GPU memory above {t.gpu_memory_percent:g}%: out-of-memory errors are near",
                        self._endpoint_metric("GPUMemoryUtilization", "Average", INSTANCE_NAMESPACE),
                        t.gpu_memory_percent, GT),
        ]
        if endpoint.max_instances > endpoint.min_instances:
            alarms.append(self._alarm(
                catalog.AT_MAX_INSTANCES,
                f"the endpoint runs at its autoscaling maximum ({endpoint.max_instances} instances): raise "
                "endpoint.max_instances or expect queueing", self._instance_count(), endpoint.max_instances - 0.5, GT))
        return alarms

    def _endpoint_metric(self, name: str, statistic: str, namespace: str = "AWS/SageMaker") -> cloudwatch.Metric:
        return cloudwatch.Metric(namespace=namespace, metric_name=name, statistic=statistic, period=self.period,
                                 dimensions_map={"EndpointName": self.names.endpoint, "VariantName": VARIANT})

    def _instance_count(self) -> cloudwatch.MathExpression:
        """SageMaker publishes no instance count; invocations over invocations per instance is one."""
        return cloudwatch.MathExpression(
            expression="invocations / perInstance", label="instances serving", period=self.period,
            using_metrics={"invocations": self._endpoint_metric("Invocations", "Sum"),
                           "perInstance": self._endpoint_metric("InvocationsPerInstance", "Sum")})

    def _api_alarms(self, api: ApiStack) -> tuple[list[cloudwatch.Alarm], list[cloudwatch.Alarm]]:
        """(client-facing, capacity) alarms of the API function, its stage and the feedback table."""
        t, fn, stage = self.thresholds, api.function, api.api.deployment_stage
        dynamo = {name: cloudwatch.Metric(namespace="AWS/DynamoDB", metric_name=name, statistic="Sum", period=self.period,
                                          dimensions_map={"TableName": api.feedback_table.table_name})
                  for name in ("ReadThrottleEvents", "WriteThrottleEvents")}
        duration_ms = round(t.lambda_duration_p99_share * LAMBDA_TIMEOUT_S * 1000)
        client_facing = [
            self._alarm(catalog.LAMBDA_ERRORS, f"the API function failed {t.lambda_errors}+ times a period",
                        fn.metric_errors(statistic="Sum", period=self.period), t.lambda_errors - 0.5, GT),
            self._alarm(catalog.LAMBDA_THROTTLES,
                        "the API function was throttled: raise its concurrency or lower API Gateway's rate",
                        fn.metric_throttles(statistic="Sum", period=self.period), 0, GT),
            self._alarm(catalog.API_5XX_RATE, f"more than {t.api_5xx_rate:.1%} of API requests answered 5XX",
                        stage.metric_server_error(statistic="Average", period=self.period), t.api_5xx_rate, GT),
            self._alarm(catalog.API_LATENCY, f"the API's p99 latency is above {t.api_latency_p99_ms:g} ms",
                        stage.metric_latency(statistic="p99", period=self.period), t.api_latency_p99_ms, GT),
        ]
        capacity = [
            self._alarm(catalog.LAMBDA_DURATION,
                        f"the API function's p99 duration is above {duration_ms} ms, near its {LAMBDA_TIMEOUT_S} s "
                        "timeout", fn.metric_duration(statistic="p99", period=self.period), duration_ms, GT),
            self._alarm(catalog.FEEDBACK_THROTTLES, "DynamoDB throttled the feedback table",
                        cloudwatch.MathExpression(expression="FILL(reads, 0) + FILL(writes, 0)", label="throttle events",
                                                  using_metrics={"reads": dynamo["ReadThrottleEvents"],
                                                                 "writes": dynamo["WriteThrottleEvents"]},
                                                  period=self.period), 0, GT),
        ]
        return client_facing, capacity

    def _api_metric(self, name: str, statistic: str, **dimensions: str) -> cloudwatch.Metric:
        """One of the API's own EMF metrics (golive/contracts/telemetry.py) in this environment."""
        return cloudwatch.Metric(namespace=NAMESPACE, metric_name=name, statistic=statistic, period=self.quality_period,
                                 dimensions_map={"service": SERVICE, "environment": self.config.name, **dimensions})

    def _quality_alarms(self, baseline: Baseline | None) -> list[cloudwatch.AlarmBase]:
        t = self.thresholds
        accuracy = cloudwatch.MathExpression(
            expression=f"IF(feedback >= {t.min_feedback}, correct / feedback, 1)", label="online accuracy",
            using_metrics={"feedback": self._api_metric(FEEDBACK, "Sum"),
                           "correct": self._api_metric(FEEDBACK_CORRECT, "Sum")}, period=self.quality_period)
        alarms: list[cloudwatch.AlarmBase] = [self._alarm(
            catalog.ONLINE_ACCURACY,
            f"accuracy from client feedback is below {t.min_online_accuracy:.0%} (with {t.min_feedback}+ feedback "
            "an hour): retrain or roll back", accuracy, t.min_online_accuracy, LT, evaluation_periods=1)]

        confidence = self._api_metric(CONFIDENCE, "Average")  # percent
        spec = catalog.CONFIDENCE_ANOMALY
        anomaly = cloudwatch.AnomalyDetectionAlarm(
            self, spec.construct_id, alarm_name=f"{self.names.prefix}-{spec.name}",
            alarm_description="mean confidence fell below the band CloudWatch learned from its own history",
            metric=confidence, std_devs=t.confidence_anomaly_band, evaluation_periods=2, datapoints_to_alarm=2,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_LOWER_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)
        self._notify(anomaly)
        self.alarms[spec.construct_id] = anomaly
        alarms.append(anomaly)
        if baseline is None:
            return alarms  # a bundle without a baseline: the fixed-threshold drift alarms have nothing to compare

        count = self._api_metric(CONFIDENCE, "SampleCount")
        floor = baseline.mean_confidence - t.max_confidence_drop
        alarms.append(self._alarm(
            catalog.CONFIDENCE_DROP,
            f"mean confidence is below the bundle's {baseline.mean_confidence:.3f} minus {t.max_confidence_drop}",
            cloudwatch.MathExpression(expression=f"IF(n >= {t.min_predictions}, confidence / 100, 1)",
                                      label="mean confidence", using_metrics={"n": count, "confidence": confidence},
                                      period=self.quality_period), floor, LT, evaluation_periods=1))

        shares = sorted(baseline.label_share.items(), key=lambda item: -item[1])[:MAX_DRIFT_LABELS]
        terms = " + ".join(f"ABS(FILL(l{i}, 0) / n - {share:.6f})" for i, (_, share) in enumerate(shares))
        label_metrics = {f"l{i}": self._api_metric(PREDICTED_LABEL, "Sum", label=label)
                         for i, (label, _) in enumerate(shares)}
        alarms.append(self._alarm(
            catalog.LABEL_SHARE_DRIFT,
            f"the predicted-label share is more than {t.max_label_share_drift} (total variation distance) away "
            "from the bundle's baseline: the traffic or the model changed",
            cloudwatch.MathExpression(expression=f"IF(n >= {t.min_predictions}, 0.5 * ({terms}), 0)",
                                      label="label share drift", period=self.quality_period,
                                      using_metrics={"n": self._api_metric(PREDICTIONS, "Sum"), **label_metrics}),
            t.max_label_share_drift, GT, evaluation_periods=1))

        if baseline.mean_input_chars:
            alarms.append(self._alarm(
                catalog.INPUT_LENGTH_DRIFT,
                f"the mean input length is more than {t.max_input_length_drift:.0%} away from the bundle's "
                f"{baseline.mean_input_chars:.0f} characters: clients send text the model was not trained on",
                cloudwatch.MathExpression(
                    expression=f"IF(n >= {t.min_predictions}, ABS(chars / {baseline.mean_input_chars:.6f} - 1), 0)",
                    label="input length drift", period=self.quality_period,
                    using_metrics={"n": self._api_metric(INPUT_CHARS, "SampleCount"),
                                   "chars": self._api_metric(INPUT_CHARS, "Average")}),
                t.max_input_length_drift, GT, evaluation_periods=1))
        return alarms

    # --- training events ----------------------------------------------------------------------------------

    def _training_rules(self, training: TrainingStack) -> list[cloudwatch.Alarm]:
        """The rules, and the alarm on what they could not deliver to the topic after EventBridge's retries."""
        prefix = self.names.prefix
        undelivered = sqs.Queue(self, "UndeliveredAlertsQueue", queue_name=f"{prefix}-undelivered-alerts",
                                # the topic's key: the same messages, and EventBridge may already use it
                                encryption=sqs.QueueEncryption.KMS, encryption_master_key=self.topic.master_key,
                                enforce_ssl=True,
                                retention_period=cdk.Duration.days(14))
        accept(undelivered, "this is the dead-letter queue of the training alert rules; a queue behind it would "
                            "only move the same messages again", *QUEUE_DLQ)
        job_failed = events.Rule(
            self, "TrainingJobFailed", rule_name=f"{prefix}-training-job-failed",
            description="a SageMaker training job of this environment failed or was stopped",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"], detail_type=["SageMaker Training Job State Change"],
                detail={"TrainingJobStatus": ["Failed", "Stopped"], "TrainingJobName": [{"prefix": f"{prefix}-"}]}))
        job_failed.add_target(targets.SnsTopic(self.topic, message=events.RuleTargetInput.from_text(
            f"golive {self.config.name}: training job {events.EventField.from_path('$.detail.TrainingJobName')} is "
            f"{events.EventField.from_path('$.detail.TrainingJobStatus')}: "
            f"{events.EventField.from_path('$.detail.FailureReason')}"), dead_letter_queue=undelivered))
        pipeline_failed = events.Rule(
            self, "PipelineFailed", rule_name=f"{prefix}-pipeline-failed",
            description="the training pipeline's execution failed, timed out or was aborted",
            event_pattern=events.EventPattern(
                source=["aws.states"], detail_type=["Step Functions Execution Status Change"],
                detail={"status": ["FAILED", "TIMED_OUT", "ABORTED"],
                        "stateMachineArn": [training.state_machine.state_machine_arn]}))
        pipeline_failed.add_target(targets.SnsTopic(self.topic, message=events.RuleTargetInput.from_text(
            f"golive {self.config.name}: training pipeline execution {events.EventField.from_path('$.detail.name')} "
            f"ended {events.EventField.from_path('$.detail.status')}; see the Step Functions console"),
            dead_letter_queue=undelivered))
        self.rules = [job_failed, pipeline_failed]
        return [self._alarm(
            catalog.UNDELIVERED_ALERTS,
            f"EventBridge could not deliver a training alert to the topic: read the queue {prefix}-undelivered-alerts "
            "and check the topic's key policy", undelivered.metric_approximate_number_of_messages_visible(
                statistic="Maximum", period=self.period), 0, GT, evaluation_periods=1)]

    # --- dashboard --------------------------------------------------------------------------------------------

    def _dashboard(self, api: ApiStack, training: TrainingStack, inference: InferenceStack | None,
                   baseline: Baseline | None, alarms: list[cloudwatch.IAlarm]) -> cloudwatch.Dashboard:
        p, q = self.period, self.quality_period
        board = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=self.names.prefix,
                                     default_interval=cdk.Duration.days(1))

        def graph(title: str, metrics: list[cloudwatch.IMetric], right: list[cloudwatch.IMetric] | None = None,
                  width: int = 8, **kwargs) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(title=title, left=metrics, right=right or [], width=width, height=6, **kwargs)

        board.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=alarms, width=24, height=4))

        sm = training.state_machine
        board.add_widgets(
            cloudwatch.TextWidget(markdown=f"## Training\nPipeline `{sm.state_machine_name}`; failed jobs and "
                                           "executions notify the alert topic.", width=8, height=6),
            graph("Pipeline executions", [sm.metric_started(period=cdk.Duration.days(1)),
                                          sm.metric_succeeded(period=cdk.Duration.days(1)),
                                          sm.metric_failed(period=cdk.Duration.days(1))], width=16))

        if inference is not None:
            metric = self._endpoint_metric
            board.add_widgets(
                graph("Endpoint traffic and errors", [metric("Invocations", "Sum")],
                      [metric("Invocation5XXErrors", "Sum"), metric("Invocation4XXErrors", "Sum")]),
                graph("Endpoint model latency (µs)", [metric("ModelLatency", "p50"), metric("ModelLatency", "p99"),
                                                      metric("OverheadLatency", "p99")]),
                graph("Endpoint GPU (%) and instances",
                      [metric(n, "Average", INSTANCE_NAMESPACE) for n in ("GPUUtilization", "GPUMemoryUtilization")],
                      [self._instance_count()]))

        fn, stage = api.function, api.api.deployment_stage
        board.add_widgets(
            graph("API requests and errors", [stage.metric_count(statistic="Sum", period=p)],
                  [stage.metric_client_error(statistic="Sum", period=p), stage.metric_server_error(statistic="Sum", period=p)]),
            graph("API latency (ms)", [stage.metric_latency(statistic=s, period=p) for s in ("p50", "p99")]
                  + [stage.metric_integration_latency(statistic="p99", period=p)]),
            graph("Lambda", [fn.metric_duration(statistic="p99", period=p)],
                  [fn.metric_errors(statistic="Sum", period=p), fn.metric_throttles(statistic="Sum", period=p)]))

        shares = [cloudwatch.MathExpression(expression=f"FILL(l{i}, 0) / n", label=label, period=q, using_metrics={
            f"l{i}": self._api_metric(PREDICTED_LABEL, "Sum", label=label), "n": self._api_metric(PREDICTIONS, "Sum")})
            for i, label in enumerate(baseline.label_share if baseline else {})]
        confidence_note = (f"baseline {baseline.mean_confidence:.3f}; " if baseline else "") + "anomaly band shaded"
        board.add_widgets(
            graph("Online accuracy (from feedback)", [cloudwatch.MathExpression(
                expression="correct / feedback", label="accuracy", period=q,
                using_metrics={"feedback": self._api_metric(FEEDBACK, "Sum"),
                               "correct": self._api_metric(FEEDBACK_CORRECT, "Sum")})],
                [self._api_metric(FEEDBACK, "Sum")], width=6,
                left_annotations=[cloudwatch.HorizontalAnnotation(value=self.thresholds.min_online_accuracy,
                                                                  label="alarm below")]),
            graph(f"Mean confidence (%): {confidence_note}", [cloudwatch.MathExpression(
                expression=f"ANOMALY_DETECTION_BAND(c, {self.thresholds.confidence_anomaly_band})", label="band",
                period=q, using_metrics={"c": self._api_metric(CONFIDENCE, "Average")}),
                self._api_metric(CONFIDENCE, "Average")], width=6),
            graph("Predicted-label share", shares or [self._api_metric(PREDICTIONS, "Sum")], width=6,
                  stacked=bool(shares)),
            graph("Input length (characters)", [self._api_metric(INPUT_CHARS, "Average"),
                                                self._api_metric(INPUT_CHARS, "p99")], width=6,
                  left_annotations=[cloudwatch.HorizontalAnnotation(value=baseline.mean_input_chars, label="baseline")]
                  if baseline and baseline.mean_input_chars else None))

        billing = cloudwatch.Metric(namespace="AWS/Billing", metric_name="EstimatedCharges", region="us-east-1",
                                    dimensions_map={"Currency": "USD"}, statistic="Maximum", period=cdk.Duration.hours(6))
        board.add_widgets(
            graph("Account estimated charges, month to date (USD)", [billing], width=12),
            cloudwatch.TextWidget(width=12, height=6, markdown=(
                "## Cost per stage\nResources carry `Stage` and `Environment` tags; per-stage budgets notify the "
                f"alert topic at 80% actual and 100% forecast. Actual spend per stage: `golive costs report --env "
                f"{self.config.name} --start YYYY-MM-01 --end YYYY-MM-DD`. Estimated charges need billing alerts "
                "turned on in the account's billing preferences.")))
        return board
