"""The environment's CloudWatch dashboard: every alarm's state, then training, the endpoint (when there is
one), the API, model quality against the bundle's baseline, and the account's estimated charges."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from golive.contracts.telemetry import (
    CONFIDENCE,
    FEEDBACK,
    FEEDBACK_CORRECT,
    INPUT_CHARS,
    MODEL_WAKING_UP,
    PREDICTED_LABEL,
    PREDICTIONS,
    WAKE_UP_SECONDS,
)
from golive.monitoring.conditions import Baseline
from infra.constructs.alarm_kit import INSTANCE_NAMESPACE, AlarmKit
from infra.constructs.inline import Inline


def graph(
    title: str,
    metrics: Sequence[cloudwatch.IMetric],
    right: Sequence[cloudwatch.IMetric] | None = None,
    width: int = 8,
    **kwargs,
) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=metrics, right=right or [], width=width, height=6, **kwargs)


class MonitoringDashboard(Inline):
    """`endpoint`: whether the environment has a GPU endpoint to show."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        kit: AlarmKit,
        alarms: list[cloudwatch.IAlarm],
        state_machine: sfn.StateMachine,
        function: lambda_.IFunction,
        stage: apigw.Stage,
        endpoint: bool,
        baseline: Baseline | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.kit = kit
        self.board = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=kit.names.prefix, default_interval=cdk.Duration.days(1)
        )
        self.board.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=alarms, width=24, height=4))
        self._training(state_machine)
        if endpoint:
            self._endpoint()
        self._api(function, stage)
        self._quality(baseline)
        self._costs()

    def _training(self, sm: sfn.StateMachine) -> None:
        day = cdk.Duration.days(1)
        self.board.add_widgets(
            cloudwatch.TextWidget(
                markdown=f"## Training\nPipeline `{sm.state_machine_name}`; failed jobs and "
                "executions notify the alert topic.",
                width=8,
                height=6,
            ),
            graph(
                "Pipeline executions",
                [sm.metric_started(period=day), sm.metric_succeeded(period=day), sm.metric_failed(period=day)],
                width=16,
            ),
        )

    def _endpoint(self) -> None:
        kit, settings = self.kit, self.kit.config.endpoint
        if settings.scale_to_zero:
            self._waking_up()
        model = kit.model_metric  # the variant's, or the inference component's on a scale_to_zero endpoint
        widgets = [
            graph(
                "Endpoint traffic and errors",
                [model("Invocations", "Sum")],
                [model("Invocation5XXErrors", "Sum"), model("Invocation4XXErrors", "Sum")],
            ),
            graph(
                "Endpoint model latency (µs)",
                [model("ModelLatency", "p50"), model("ModelLatency", "p99"), model("OverheadLatency", "p99")],
            ),
        ]
        if settings.gpus:
            widgets.append(
                graph(
                    "Endpoint GPU (%)" + ("" if settings.scale_to_zero else " and instances"),
                    [
                        kit.endpoint_metric(n, "Average", INSTANCE_NAMESPACE)
                        for n in ("GPUUtilization", "GPUMemoryUtilization")
                    ],
                    None if settings.scale_to_zero else [kit.instance_count()],
                )
            )
        self.board.add_widgets(*widgets)

    def _waking_up(self) -> None:
        """A scale_to_zero endpoint: calls refused while it had no copy (what wakes it), the API's 503s while it woke
        (ModelWakingUp), and how long each wake-up took until the first answer (WakeUpSeconds)."""
        p, kit = self.kit.period, self.kit
        expected = kit.config.endpoint.expected_warmup_seconds
        refused = cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name="NoCapacityInvocationFailures",
            period=p,
            statistic="Sum",
            dimensions_map=kit.model_dimensions(),
        )
        self.board.add_widgets(
            cloudwatch.TextWidget(
                width=8,
                height=6,
                markdown=(
                    f"## Scale to zero\nThe model scales to 0 copies after {kit.config.endpoint.scale_in_idle_minutes} idle "
                    f"minutes; a call refused for lack of capacity wakes it (~{kit.config.endpoint.expected_warmup_seconds} "
                    "s). While it wakes the API answers 503 + Retry-After (`ModelWakingUp`), not counted as errors."
                ),
            ),
            graph(
                "503s while waking, and the calls that woke it",
                [kit.api_metric(MODEL_WAKING_UP, "Sum", period=p)],
                [refused],
            ),
            graph(
                "Time to first answer after idle (s)",
                [kit.api_metric(WAKE_UP_SECONDS, s, period=p) for s in ("Maximum", "Average")],
                left_annotations=[cloudwatch.HorizontalAnnotation(value=expected, label="expected")]
                + (
                    [
                        cloudwatch.HorizontalAnnotation(
                            value=expected * kit.thresholds.wake_up_too_slow_factor, label="alarm above"
                        )
                    ]
                    if kit.config.api_wakes_endpoint
                    else []
                ),
            ),
        )

    def _api(self, fn: lambda_.IFunction, stage: apigw.Stage) -> None:
        p = self.kit.period
        self.board.add_widgets(
            graph(
                "API requests and errors",
                [stage.metric_count(statistic="Sum", period=p)],
                [
                    stage.metric_client_error(statistic="Sum", period=p),
                    stage.metric_server_error(statistic="Sum", period=p),
                ],
            ),
            graph(
                "API latency (ms)",
                [stage.metric_latency(statistic=s, period=p) for s in ("p50", "p99")]
                + [stage.metric_integration_latency(statistic="p99", period=p)],
            ),
            graph(
                "Lambda",
                [fn.metric_duration(statistic="p99", period=p)],
                [fn.metric_errors(statistic="Sum", period=p), fn.metric_throttles(statistic="Sum", period=p)],
            ),
        )

    def _quality(self, baseline: Baseline | None) -> None:
        q, metric, t = self.kit.quality_period, self.kit.api_metric, self.kit.thresholds
        shares = [
            cloudwatch.MathExpression(
                expression=f"FILL(l{i}, 0) / n",
                label=label,
                period=q,
                using_metrics={f"l{i}": metric(PREDICTED_LABEL, "Sum", label=label), "n": metric(PREDICTIONS, "Sum")},
            )
            for i, label in enumerate(baseline.label_share if baseline else {})
        ]
        confidence_note = (f"baseline {baseline.mean_confidence:.3f}; " if baseline else "") + "anomaly band shaded"
        self.board.add_widgets(
            graph(
                "Online accuracy (from feedback)",
                [
                    cloudwatch.MathExpression(
                        expression="correct / feedback",
                        label="accuracy",
                        period=q,
                        using_metrics={"feedback": metric(FEEDBACK, "Sum"), "correct": metric(FEEDBACK_CORRECT, "Sum")},
                    )
                ],
                [metric(FEEDBACK, "Sum")],
                width=6,
                left_annotations=[cloudwatch.HorizontalAnnotation(value=t.min_online_accuracy, label="alarm below")],
            ),
            graph(
                f"Mean confidence (%): {confidence_note}",
                [
                    cloudwatch.MathExpression(
                        expression=f"ANOMALY_DETECTION_BAND(c, {t.confidence_anomaly_band})",
                        label="band",
                        period=q,
                        using_metrics={"c": metric(CONFIDENCE, "Average")},
                    ),
                    metric(CONFIDENCE, "Average"),
                ],
                width=6,
            ),
            graph("Predicted-label share", shares or [metric(PREDICTIONS, "Sum")], width=6, stacked=bool(shares)),
            graph(
                "Input length (characters)",
                [metric(INPUT_CHARS, "Average"), metric(INPUT_CHARS, "p99")],
                width=6,
                left_annotations=[cloudwatch.HorizontalAnnotation(value=baseline.mean_input_chars, label="baseline")]
                if baseline and baseline.mean_input_chars
                else None,
            ),
        )

    def _costs(self) -> None:
        billing = cloudwatch.Metric(
            namespace="AWS/Billing",
            metric_name="EstimatedCharges",
            region="us-east-1",
            dimensions_map={"Currency": "USD"},
            statistic="Maximum",
            period=cdk.Duration.hours(6),
        )
        self.board.add_widgets(
            graph("Account estimated charges, month to date (USD)", [billing], width=12),
            cloudwatch.TextWidget(
                width=12,
                height=6,
                markdown=(
                    "## Cost per stage\nResources carry `Stage` and `Environment` tags; per-stage budgets notify the "
                    f"alert topic at 80% actual and 100% forecast. Actual spend per stage: `golive costs report --env "
                    f"{self.kit.config.name} --start YYYY-MM-01 --end YYYY-MM-DD`. Estimated charges need billing alerts "
                    "turned on in the account's billing preferences."
                ),
            ),
        )
