"""Inference: the GPU endpoint serving the bundle with our container (functions/endpoint/), whose image this
stack builds: `cdk deploy` publishes it before this stack, and only environments with an endpoint need Docker.

Model -> EndpointConfig (data capture, only with endpoint.data_capture_percent) -> Endpoint with blue/green updates that
roll back when the 5XX or latency alarm fires; target tracking on invocations per instance between the
configured bounds. With endpoint.scale_to_zero the model is an inference component on the endpoint, scaling
to and from 0 copies and instances (infra/constructs/scale_to_zero.py), updated by rolling component updates
under the same alarms; with endpoint.kind "serverless" it runs on SageMaker Serverless Inference (CPU). The first model is the bundle in model_artifacts/ at deploy time; after that the
training pipeline promotes models onto this endpoint (same rollback alarms, same deployment policy).
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.compliance import ENDPOINT_KMS, accept
from infra.config import EnvironmentConfig
from infra.constructs.alarm_kit import AlarmKit
from infra.constructs.inline import StableIdStack
from infra.constructs.rollback_alarms import RollbackAlarms
from infra.constructs.scale_to_zero import ScaleToZero
from infra.naming import VARIANT, Names, deployment_config, endpoint_config_properties, model_properties, snake_case
from infra.stacks.data_stack import DataStack


class InferenceStack(StableIdStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        config: EnvironmentConfig,
        data: DataStack,
        model_tarball: Path,
        image_context: Path,
        alert_topic: sns.ITopic,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        names = Names(config)
        self.endpoint_name = names.endpoint
        # the serving image of every model on this endpoint (the pipeline registers new ones with it too)
        self.endpoint_image = ecr_assets.DockerImageAsset(
            self, "EndpointImage", directory=str(image_context), platform=ecr_assets.Platform.LINUX_AMD64
        )
        initial = s3_assets.Asset(self, "InitialModel", path=str(model_tarball))  # the model role reads assets
        model = self._model(data, initial)
        endpoint_config = self._endpoint_config(config, data, model)
        settings = config.endpoint
        self.rollback_alarms = RollbackAlarms(self, "RollbackAlarms", kit=AlarmKit(config, alert_topic)).alarms
        endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=names.endpoint,
            endpoint_config_name=endpoint_config.attr_endpoint_config_name,
        )
        self.inference_component_name: str | None = None
        if settings.scale_to_zero:  # the model is a component, updated (and rolled back) on its own
            self.inference_component_name = ScaleToZero(
                self,
                "ScaleToZero",
                config=config,
                endpoint=endpoint,
                model_name=model.attr_model_name,
                rollback_alarms=self.rollback_alarms,
            ).component_name
        else:
            endpoint.add_property_override("DeploymentConfig", deployment_config(config, names))
        for alarm in self.rollback_alarms:
            endpoint.node.add_dependency(alarm)

        if settings.kind == "instances" and not settings.scale_to_zero:
            self._autoscale(config, endpoint)

        cdk.CfnOutput(self, "EndpointName", value=names.endpoint)
        if self.inference_component_name:
            cdk.CfnOutput(self, "InferenceComponentName", value=self.inference_component_name)

    def _model(self, data: DataStack, initial: s3_assets.Asset) -> sagemaker.CfnModel:
        """The first model: the endpoint image with the deploy-time bundle."""
        model_props = model_properties(
            data.roles.model.role_arn, {"Image": self.endpoint_image.image_uri, "ModelDataUrl": initial.s3_object_url}
        )
        return sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=model_props["ExecutionRoleArn"],
            enable_network_isolation=model_props["EnableNetworkIsolation"],
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                **snake_case(model_props["PrimaryContainer"])
            ),
        )

    def _endpoint_config(
        self, config: EnvironmentConfig, data: DataStack, model: sagemaker.CfnModel
    ) -> sagemaker.CfnEndpointConfig:
        """The same properties as the pipeline's CreateEndpointConfig when it promotes a model (infra/naming.py)."""
        settings = config.endpoint
        config_props = endpoint_config_properties(
            config,
            model.attr_model_name,
            data.capture.bucket_name,
            data.key.key_arn,
            model_role_arn=data.roles.model.role_arn,
        )
        endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            production_variants=[sagemaker.CfnEndpointConfig.ProductionVariantProperty(variant_name=VARIANT)],
        )
        for key, value in config_props.items():
            endpoint_config.add_property_override(key, value)
        if settings.gpus:
            accept(
                endpoint_config,
                "GPU instances with local NVMe storage (g4dn, g5, g6, g6e, p4d, p4de, p5) encrypt "
                "it in hardware and SageMaker rejects a KmsKeyId for them; p3's EBS volume is "
                "encrypted with the AWS-managed key; captured traffic (endpoint.data_capture_percent) uses the data key",
                *ENDPOINT_KMS,
            )
        else:
            accept(
                endpoint_config,
                "SageMaker Serverless Inference takes no KmsKeyId: it has no volume of ours to "
                "encrypt and no data capture",
                *ENDPOINT_KMS,
            )
        return endpoint_config

    def _autoscale(self, config: EnvironmentConfig, endpoint: sagemaker.CfnEndpoint) -> None:
        """Instances between min_instances and max_instances, tracking invocations per instance."""
        settings, names = config.endpoint, Names(config)
        scaling = appscaling.ScalableTarget(
            self,
            "Scaling",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{names.endpoint}/variant/{VARIANT}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=settings.min_instances,
            max_capacity=settings.max_instances,
        )
        scaling.node.add_dependency(endpoint)
        scaling.scale_to_track_metric(
            "InvocationsPerInstance",
            target_value=settings.invocations_per_instance_target,
            predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
            scale_in_cooldown=cdk.Duration.minutes(10),
            scale_out_cooldown=cdk.Duration.minutes(2),
        )
