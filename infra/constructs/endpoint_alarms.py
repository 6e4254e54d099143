"""The GPU endpoint's capacity alarms: GPU utilisation and memory, and the fleet pinned at its autoscaling
maximum (its 5XX and latency alarms roll deployments back and belong to the inference stack). A serverless
endpoint has neither; a scale_to_zero endpoint's instances follow its model copies (managed instance scaling),
whose count SageMaker does not publish as the invocations-per-instance ratio the at-maximum alarm reads; when the
API invokes such an endpoint, a wake-up it measured (WakeUpSeconds) far longer than expected pages instead."""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from golive.contracts import alarms as catalog
from golive.contracts.telemetry import WAKE_UP_SECONDS
from infra.constructs.alarm_kit import GT, INSTANCE_NAMESPACE, AlarmKit
from infra.constructs.inline import Inline


class EndpointAlarms(Inline):
    def __init__(self, scope: Construct, construct_id: str, *, kit: AlarmKit) -> None:
        super().__init__(scope, construct_id)
        t, endpoint = kit.thresholds, kit.config.endpoint
        self.capacity: list[cloudwatch.Alarm] = []
        if not endpoint.gpus:  # serverless: SageMaker scales it and reports no GPU
            return
        self.capacity += [
            kit.alarm(
                self,
                catalog.GPU_UTILIZATION,
                f"GPU utilisation above {t.gpu_utilization_percent:g}%: the fleet is saturated",
                kit.endpoint_metric("GPUUtilization", "Average", INSTANCE_NAMESPACE),
                t.gpu_utilization_percent,
                GT,
            ),
            kit.alarm(
                self,
                catalog.GPU_MEMORY,
                f"GPU memory above {t.gpu_memory_percent:g}%: out-of-memory errors are near",
                kit.endpoint_metric("GPUMemoryUtilization", "Average", INSTANCE_NAMESPACE),
                t.gpu_memory_percent,
                GT,
            ),
        ]
        if endpoint.max_instances > endpoint.min_instances and not endpoint.scale_to_zero:
            self.capacity.append(
                kit.alarm(
                    self,
                    catalog.AT_MAX_INSTANCES,
                    f"the endpoint runs at its autoscaling maximum ({endpoint.max_instances} instances): raise "
                    "endpoint.max_instances or expect queueing",
                    kit.instance_count(),
                    endpoint.max_instances - 0.5,
                    GT,
                )
            )
        if kit.config.api_wakes_endpoint:
            self.capacity.append(wake_up_too_slow(self, kit))


def wake_up_too_slow(scope: Construct, kit: AlarmKit) -> cloudwatch.Alarm:
    """One datapoint per wake-up an API instance measured; one far above the expectation pages. A normal wake-up
    (up to monitoring.wake_up_too_slow_factor times endpoint.expected_warmup_seconds) does not, and no wake-up is
    no data, not a breach."""
    expected, factor = kit.config.endpoint.expected_warmup_seconds, kit.thresholds.wake_up_too_slow_factor
    limit = factor * expected
    return kit.alarm(
        scope,
        catalog.WAKE_UP_TOO_SLOW,
        f"a wake-up from zero took over {limit:g} s ({factor:g} x the expected {expected} s) before the "
        "first answer: check the endpoint's events and the model's load time, or raise "
        "endpoint.expected_warmup_seconds",
        kit.api_metric(WAKE_UP_SECONDS, "Maximum", period=kit.period),
        limit,
        GT,
        evaluation_periods=1,
    )
