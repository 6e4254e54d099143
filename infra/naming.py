"""Names, tags and SageMaker settings that several stacks (and the pipeline at run time) must agree on.

Names are plain strings built from the environment, so stacks can refer to each other's resources
(the endpoint the pipeline promotes to, the alarms that roll a deployment back) without exports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from golive.contracts.alarms import RETRAIN_ON, ROLLBACK_ALARMS, Alarm
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
    return {
        "Project": PROJECT,
        "Environment": environment or config.name,
        "Stage": stage,
        "CostCenter": config.cost_center,
    }


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
    def data_stack(self) -> str:
        """The stack of the buckets, their key and the SageMaker roles (`golive train --sagemaker` reads its outputs)."""
        return f"{self.prefix}-data"

    @property
    def api_stack(self) -> str:
        """The API stack, whose outputs name the feedback table (`golive feedback export --env` reads them)."""
        return f"{self.prefix}-api"

    @property
    def endpoint(self) -> str:
        return f"{self.prefix}-endpoint"

    @property
    def inference_component(self) -> str:
        """The model on a scale_to_zero endpoint (an inference component; InvokeEndpoint names it)."""
        return f"{self.prefix}-model"

    @property
    def model_package_group(self) -> str:
        return f"{self.prefix}-models"

    def alarm(self, spec: Alarm) -> str:
        """An alarm's name: `golive-<env>-<its name in the catalogue>` (golive/contracts/alarms.py)."""
        return f"{self.prefix}-{spec.name}"

    @property
    def rollback_alarms(self) -> list[str]:
        """Alarms that stop a blue/green deployment and roll it back (created by the inference stack)."""
        return [self.alarm(alarm) for alarm in ROLLBACK_ALARMS]

    @property
    def retrain_alarms(self) -> list[str]:
        """Alarms that start retraining with training.retrain.on_alarms (created by the monitoring stack, which
        comes after the training stack: the trigger names them rather than reference them)."""
        return [self.alarm(alarm) for alarm in RETRAIN_ON]


def model_properties(role_arn: str, container: dict) -> dict:
    """A SageMaker model's properties (CloudFormation's AWS::SageMaker::Model and SageMaker's CreateModel take
    the same shape): the inference stack's first model and every model the pipeline promotes."""
    return {"ExecutionRoleArn": role_arn, "PrimaryContainer": container, "EnableNetworkIsolation": True}


# what a copy of the model reserves on its instance (an inference component's ComputeResourceRequirements): one
# GPU each, and memory for the ONNX model and the server, well inside the smallest GPU type's (ml.g4dn.xlarge, 16 GB)
COMPONENT_MEMORY_MB = 4096
# how an endpoint with inference components routes requests among copies (its production variant's RoutingConfig)
COMPONENT_ROUTING = "LEAST_OUTSTANDING_REQUESTS"


def endpoint_config_properties(
    config: EnvironmentConfig,
    model_name: str | None,
    capture_bucket: str,
    key_arn: str,
    model_role_arn: str | None = None,
) -> dict:
    """An endpoint config's properties, in the shape CloudFormation's AWS::SageMaker::EndpointConfig and
    SageMaker's CreateEndpointConfig both take: the inference stack's first config and the pipeline's promote
    step are built from this one place, so a promotion never changes the fleet's type or data capture.

    Three kinds: GPU instances serving `model_name`; a scale_to_zero endpoint, whose variant holds no model (the
    model is an inference component: `inference_component_specification`) and scales its instances down to 0,
    with the execution role components run with (`model_role_arn`); SageMaker Serverless Inference, which has no
    data capture."""
    endpoint = config.endpoint
    if endpoint.kind == "serverless":
        serverless = {
            "MemorySizeInMB": endpoint.serverless.memory_size_mb,
            "MaxConcurrency": endpoint.serverless.max_concurrency,
        }
        if endpoint.serverless.provisioned_concurrency:
            serverless["ProvisionedConcurrency"] = endpoint.serverless.provisioned_concurrency
        return {
            "ProductionVariants": [{"VariantName": VARIANT, "ModelName": model_name, "ServerlessConfig": serverless}]
        }
    if endpoint.scale_to_zero:
        if not model_role_arn:
            raise ValueError("a scale_to_zero endpoint config needs the role its inference components run with")
        return {
            "ProductionVariants": [
                {
                    "VariantName": VARIANT,
                    "InstanceType": endpoint.instance_type,
                    "InitialInstanceCount": 1,
                    "ManagedInstanceScaling": {
                        "Status": "ENABLED",
                        "MinInstanceCount": 0,
                        "MaxInstanceCount": endpoint.max_instances,
                    },
                    "RoutingConfig": {"RoutingStrategy": COMPONENT_ROUTING},
                }
            ],
            "ExecutionRoleArn": model_role_arn,
            **data_capture_config(config, capture_bucket, key_arn),
        }
    return {
        "ProductionVariants": [
            {
                "VariantName": VARIANT,
                "ModelName": model_name,
                "InstanceType": endpoint.instance_type,
                "InitialInstanceCount": endpoint.min_instances,
            }
        ],
        **data_capture_config(config, capture_bucket, key_arn),
    }


def inference_component_specification(model_name: str) -> dict:
    """The model's inference component (CloudFormation's Specification and UpdateInferenceComponent's take the same
    shape): the inference stack's first component and every model the pipeline promotes onto it."""
    return {
        "ModelName": model_name,
        "ComputeResourceRequirements": {
            "NumberOfAcceleratorDevicesRequired": 1,
            "MinMemoryRequiredInMb": COMPONENT_MEMORY_MB,
        },
    }


def component_deployment_config(config: EnvironmentConfig, names: Names) -> dict:
    """A component update rolls one copy at a time, waits `bake_minutes` under the rollback alarms, and rolls back
    when one fires (InferenceComponentDeploymentConfig)."""
    bake_s = config.endpoint.bake_minutes * 60
    return {
        "RollingUpdatePolicy": {
            "MaximumBatchSize": {"Type": "COPY_COUNT", "Value": 1},
            "WaitIntervalInSeconds": bake_s,
            "MaximumExecutionTimeoutInSeconds": max(600, bake_s + 1800),
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in names.rollback_alarms]},
    }


def snake_case(properties: dict) -> dict:
    """CloudFormation property names as CDK's L1 keyword arguments: InitialInstanceCount -> initial_instance_count."""
    return {re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower(): value for key, value in properties.items()}


def data_capture_config(config: EnvironmentConfig, capture_bucket: str, key_arn: str) -> dict:
    """{"DataCaptureConfig": ...} in the shape SageMaker's API and CloudFormation share, or {} with
    endpoint.data_capture_percent 0 (the default): SageMaker captures bodies raw, unredacted."""
    if not config.endpoint.data_capture_percent:
        return {}
    return {
        "DataCaptureConfig": {
            "EnableCapture": True,
            "InitialSamplingPercentage": config.endpoint.data_capture_percent,
            "DestinationS3Uri": f"s3://{capture_bucket}/endpoint/",
            "KmsKeyId": key_arn,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
        }
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
