"""What a deployment on LocalStack really created, and what it did not exercise.

LocalStack creates a resource through its own resource provider (the service's real API in the emulator), or,
for a type it has no provider for, records a placeholder whose physical id is "unknown" (with
CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES). Every placeholder type needs a reason below; a new one fails the check
instead of passing unseen.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

PLACEHOLDER_ID = "unknown"  # LocalStack's physical id for a resource it has no provider for

# resource types LocalStack 2026.3.0 (free edition) cannot create, and why
NOT_EXERCISED = {
    "AWS::SageMaker::Model": "SageMaker is not in LocalStack's free edition",
    "AWS::SageMaker::EndpointConfig": "SageMaker is not in LocalStack's free edition",
    "AWS::SageMaker::Endpoint": "SageMaker is not in LocalStack's free edition",
    "AWS::SageMaker::ModelPackageGroup": "SageMaker is not in LocalStack's free edition",
    # staging's scale-to-zero endpoint; the deploy check deploys dev and prod, so it never meets one
    "AWS::SageMaker::InferenceComponent": "SageMaker is not in LocalStack's free edition (scale-to-zero endpoints; "
    "the deploy check deploys dev and prod, which have none)",
    "AWS::ApplicationAutoScaling::ScalableTarget": "Application Auto Scaling is not in LocalStack's free edition",
    "AWS::ApplicationAutoScaling::ScalingPolicy": "Application Auto Scaling is not in LocalStack's free edition",
    "AWS::Budgets::Budget": "Budgets is not in LocalStack's free edition",
    "AWS::CE::AnomalyMonitor": "Cost Explorer is not in LocalStack's free edition",
    "AWS::CE::AnomalySubscription": "Cost Explorer is not in LocalStack's free edition",
    "AWS::CloudWatch::Dashboard": "LocalStack's free edition has no CloudFormation provider for dashboards",
    "AWS::WAFv2::WebACL": "WAFv2 is not in LocalStack's free edition",
    "AWS::WAFv2::WebACLAssociation": "WAFv2 is not in LocalStack's free edition",
    "AWS::WAFv2::LoggingConfiguration": "WAFv2 is not in LocalStack's free edition",
    "Custom::AWS": "LocalStack's free edition has no provider for custom resources (nor could their Lambda run "
    "without Docker)",
}
# types LocalStack creates with its own provider, but only thanks to a shim (localstack_main.SHIMS)
SHIMMED = {
    "AWS::Lambda::Function": "created (code, role, runtime, configuration), never invoked: no Docker to run it",
    "AWS::DynamoDB::GlobalTable": "created by LocalStack's provider on moto's DynamoDB (no DynamoDB Local jar)",
}


@dataclass(frozen=True)
class Resource:
    stack: str
    logical_id: str
    type: str
    physical_id: str
    status: str

    @property
    def placeholder(self) -> bool:
        return self.physical_id in ("", PLACEHOLDER_ID)


def deployed_resources(cloudformation, stacks: list[str]) -> list[Resource]:
    resources = []
    for stack in stacks:
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack):
            resources += [
                Resource(
                    stack,
                    r["LogicalResourceId"],
                    r["ResourceType"],
                    r.get("PhysicalResourceId", ""),
                    r["ResourceStatus"],
                )
                for r in page["StackResourceSummaries"]
            ]
    return resources


def unexplained_placeholders(resources: list[Resource]) -> list[Resource]:
    return [r for r in resources if r.placeholder and r.type not in NOT_EXERCISED]


def _counts(types: list[str], notes: dict[str, str] | None = None) -> list[str]:
    counted = Counter(types)
    return [
        f"    {n:3d}  {kind}" + (f"  ({notes[kind]})" if notes and kind in notes else "")
        for kind, n in sorted(counted.items(), key=lambda item: (-item[1], item[0]))
    ]


def shims_report(shims: dict[str, str]) -> str:
    return "\n".join(["== deploy check: emulator-only shims", *[f"  - {shim}: {why}" for shim, why in shims.items()]])


def report(env: str, resources: list[Resource], stacks: list[str], images: list[str]) -> str:
    """Per environment: resource type counts really created, created through a shim, and not exercised."""
    placeholders = [r for r in resources if r.placeholder]
    shimmed = [r for r in resources if not r.placeholder and r.type in SHIMMED]
    real = [r for r in resources if not r.placeholder and r.type not in SHIMMED]
    lines = [
        f"== deploy check, {env}: {len(stacks)} stacks CREATE_COMPLETE on LocalStack, {len(resources)} resources",
        f"  really created by LocalStack's own providers: {len(real)}",
        *_counts([r.type for r in real]),
        f"  created through a shim: {len(shimmed)}",
        *_counts([r.type for r in shimmed], SHIMMED),
        f"  not exercised (placeholders, no provider in the free edition): {len(placeholders)}",
        *_counts([r.type for r in placeholders], NOT_EXERCISED),
        f"  Docker image assets not built or pushed (no Docker engine; ECR is not in the free edition): {len(images)}",
        *[f"    {image}" for image in images],
    ]
    return "\n".join(lines)


def destroy_report(env: str, deleted: int, retained_types: list[str]) -> str:
    return "\n".join(
        [
            f"== deploy check, {env}: `cdk destroy --all` deleted {deleted} stacks; kept on purpose "
            f"(RemovalPolicy RETAIN): {len(retained_types)}",
            *_counts(retained_types),
        ]
    )
