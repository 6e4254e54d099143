"""Names, tags and SageMaker settings that several stacks (and the pipeline at run time) must agree on.

Names are plain strings built from the environment, so stacks can refer to each other's resources
(the endpoint the pipeline promotes to, the alarms that roll a deployment back) without exports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from golive.contracts.alarms import ROLLBACK_ALARMS
from infra.config import EnvironmentConfig

PROJECT = "golive"
# the stages finance tracks cost by (the `Stage` tag on every resource)
STAGES = ("data", "training", "inference", "api", "monitoring")
VARIANT = "AllTraffic"
CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"
# the stack of what every environment in an account and region shares, and its Environment tag
ACCOUNT_STACK = f"{PROJECT}-account"
SHARED_ENVIRONMENT = "shared"


def stage_tags(config: EnvironmentConfig, stage: str, environment: str | None = None) -> dict[str, str]:
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; use one of {', '.join(STAGES)}")
    return {"Project": PROJECT, "Environment": environment or config.name, "Stage": stage,
            "CostCenter": config.cost_center}


def api_tags(config: EnvironmentConfig, stage: str) -> list[dict[str, str]]:
    """The same tags in the shape SageMaker's APIs take them (for what the pipeline creates at run time)."""
    return [{"Key": key, "Value": value} for key, value in stage_tags(config, stage).items()]


@dataclass(frozen=True)
class Names:
    config: EnvironmentConfig

    @property
    def prefix(self) -> str:
        return f"{PROJECT}-{self.config.name}"

    @property
    def endpoint(self) -> str:
        return f"{self.prefix}-endpoint"

    @property
    def model_package_group(self) -> str:
        return f"{self.prefix}-models"

    @property
    def rollback_alarms(self) -> list[str]:
        """Alarms that stop a blue/green deployment and roll it back (created by the inference stack)."""
        return [f"{self.prefix}-{alarm.name}" for alarm in ROLLBACK_ALARMS]


def model_properties(role_arn: str, container: dict) -> dict:
    """A SageMaker model's properties (CloudFormation's AWS::SageMaker::Model and SageMaker's CreateModel take
    the same shape): the inference stack's first model and every model the pipeline promotes."""
    return {"ExecutionRoleArn": role_arn, "PrimaryContainer": container, "EnableNetworkIsolation": True}


def endpoint_config_properties(config: EnvironmentConfig, model_name: str, capture_bucket: str, key_arn: str) -> dict:
    """An endpoint config's properties, in the shape CloudFormation's AWS::SageMaker::EndpointConfig and
    SageMaker's CreateEndpointConfig both take: the inference stack's first config and the pipeline's promote
    step are built from this one place, so a promotion never changes the fleet's type or data capture."""
    return {
        "ProductionVariants": [{"VariantName": VARIANT, "ModelName": model_name,
                                "InstanceType": config.endpoint.instance_type,
                                "InitialInstanceCount": config.endpoint.min_instances}],
        "DataCaptureConfig": data_capture_config(config, capture_bucket, key_arn),
    }


def snake_case(properties: dict) -> dict:
    """CloudFormation property names as CDK's L1 keyword arguments: InitialInstanceCount -> initial_instance_count."""
    return {re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower(): value for key, value in properties.items()}


def data_capture_config(config: EnvironmentConfig, capture_bucket: str, key_arn: str) -> dict:
    """SageMaker DataCaptureConfig (the API's and CloudFormation's shape are the same)."""
    return {
        "EnableCapture": config.endpoint.data_capture_percent > 0,
        "InitialSamplingPercentage": max(config.endpoint.data_capture_percent, 1),
        "DestinationS3Uri": f"s3://{capture_bucket}/endpoint/",
        "KmsKeyId": key_arn,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
    }


def deployment_config(config: EnvironmentConfig, names: Names) -> dict:
    """Blue/green: the new fleet takes all traffic, bakes under the rollback alarms, then the old one goes."""
    bake_s = config.endpoint.bake_minutes * 60
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": bake_s},
            "TerminationWaitInSeconds": 0,
            "MaximumExecutionTimeoutInSeconds": max(600, bake_s + 1800),
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in names.rollback_alarms]},
    }
