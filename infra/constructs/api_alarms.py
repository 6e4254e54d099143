"""The API's alarms: client-facing (the function's errors and throttles, the stage's 5XX rate and p99 latency),
which make up the composite "service degraded" alarm, and capacity (the function's p99 duration near its
timeout, DynamoDB throttling the feedback table) with the daily feedback export failing, where there is one
(api.capture_texts)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from golive.contracts import alarms as catalog
from golive.contracts.telemetry import MODEL_WAKING_UP
from infra.constructs.alarm_kit import GT, AlarmKit
from infra.constructs.inline import Inline

# the export runs once a day (00:15 UTC, up to 15 minutes, then Lambda's two retries): an hour holds a run's errors
EXPORT_ERRORS_PERIOD = cdk.Duration.hours(1)


class ApiAlarms(Inline):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        kit: AlarmKit,
        function: lambda_.IFunction,
        timeout_s: int,
        stage: apigw.Stage,
        table_name: str,
        export_function: lambda_.IFunction | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.client_facing = self._client_facing(kit, function, stage)
        self.capacity = self._capacity(kit, function, timeout_s, table_name)
        if export_function is not None:  # the daily export exists only with api.capture_texts
            self.capacity.append(self._export_failed(kit, export_function))

    def _client_facing(self, kit: AlarmKit, function: lambda_.IFunction, stage: apigw.Stage) -> list[cloudwatch.Alarm]:
        """What clients see: the function's errors and throttles, the stage's 5XX rate and p99 latency."""
        t, period = kit.thresholds, kit.period
        # the API answers 503 + Retry-After while a scale_to_zero endpoint wakes (minutes, every request): a normal
        # wake-up, counted as ModelWakingUp, not an error
        waking_up = kit.config.api_wakes_endpoint
        return [
            kit.alarm(
                self,
                catalog.LAMBDA_ERRORS,
                f"the API function failed {t.lambda_errors}+ times a period",
                function.metric_errors(statistic="Sum", period=period),
                t.lambda_errors - 0.5,
                GT,
            ),
            kit.alarm(
                self,
                catalog.LAMBDA_THROTTLES,
                "the API function was throttled: raise its concurrency or lower API Gateway's rate",
                function.metric_throttles(statistic="Sum", period=period),
                0,
                GT,
            ),
            kit.alarm(
                self,
                catalog.API_5XX_RATE,
                f"more than {t.api_5xx_rate:.1%} of API requests answered 5XX"
                + (" (503s of a model waking up not counted)" if waking_up else ""),
                server_error_rate(kit, stage)
                if waking_up
                else stage.metric_server_error(statistic="Average", period=period),
                t.api_5xx_rate,
                GT,
            ),
            kit.alarm(
                self,
                catalog.API_LATENCY,
                f"the API's p99 latency is above {t.api_latency_p99_ms:g} ms",
                stage.metric_latency(statistic="p99", period=period),
                t.api_latency_p99_ms,
                GT,
            ),
        ]

    def _capacity(
        self, kit: AlarmKit, function: lambda_.IFunction, timeout_s: int, table_name: str
    ) -> list[cloudwatch.Alarm]:
        """Warnings before clients see anything: the function's duration near its timeout, feedback throttles."""
        t, period = kit.thresholds, kit.period
        duration_ms = round(t.lambda_duration_p99_share * timeout_s * 1000)
        dynamo = {
            name: cloudwatch.Metric(
                namespace="AWS/DynamoDB",
                metric_name=name,
                statistic="Sum",
                period=period,
                dimensions_map={"TableName": table_name},
            )
            for name in ("ReadThrottleEvents", "WriteThrottleEvents")
        }
        return [
            kit.alarm(
                self,
                catalog.LAMBDA_DURATION,
                f"the API function's p99 duration is above {duration_ms} ms, near its {timeout_s} s timeout",
                function.metric_duration(statistic="p99", period=period),
                duration_ms,
                GT,
            ),
            kit.alarm(
                self,
                catalog.FEEDBACK_THROTTLES,
                "DynamoDB throttled the feedback table",
                cloudwatch.MathExpression(
                    expression="FILL(reads, 0) + FILL(writes, 0)",
                    label="throttle events",
                    using_metrics={"reads": dynamo["ReadThrottleEvents"], "writes": dynamo["WriteThrottleEvents"]},
                    period=period,
                ),
                0,
                GT,
            ),
        ]

    def _export_failed(self, kit: AlarmKit, export_function: lambda_.IFunction) -> cloudwatch.Alarm:
        """The daily feedback export failed (a run or one of Lambda's two retries): the next run exports the missed
        window too, but only if it succeeds before the feedback table's TTL expires the captured texts."""
        return kit.alarm(
            self,
            catalog.FEEDBACK_EXPORT_ERRORS,
            "the daily feedback export failed: read its log, then run it again (the next run also exports the "
            "missed window) before the feedback table's TTL expires the texts",
            export_function.metric_errors(statistic="Sum", period=EXPORT_ERRORS_PERIOD),
            0,
            GT,
            evaluation_periods=1,
        )


def server_error_rate(kit: AlarmKit, stage: apigw.Stage) -> cloudwatch.MathExpression:
    """The share of requests answered 5XX, less the 503s the API answered because the model was waking up (its
    ModelWakingUp metric, one per such answer): API Gateway's 5XXError counts those too. Raising the threshold
    instead would hide real errors for as long as a wake-up lasts; subtracting them hides nothing else."""
    p = kit.period
    return cloudwatch.MathExpression(
        expression="IF(FILL(errors, 0) > FILL(waking, 0), FILL(errors, 0) - FILL(waking, 0), 0) / requests",
        label="5XX rate, wake-up 503s excluded",
        period=p,
        using_metrics={
            "errors": stage.metric_server_error(statistic="Sum", period=p),
            "waking": kit.api_metric(MODEL_WAKING_UP, "Sum", period=p),
            "requests": stage.metric_count(statistic="Sum", period=p),
        },
    )
