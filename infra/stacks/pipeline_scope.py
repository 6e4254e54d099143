"""The construct the training pipeline's states are made in, and what every part of the pipeline reads: the
environment, its names, the data stack, the images. `PipelineStates` builds the states in it; the Train state,
the promote step and the grants (their own modules) take it, and import nothing back: no import cycle."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.naming import Names
from infra.stacks.data_stack import DataStack


class PipelineScope(Construct):
    """`serving_image`: the endpoint image models are registered with; None when the environment has no
    endpoint (nothing builds one): models are then registered without an InferenceSpecification."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        data: DataStack,
        training_image: str,
        source_url: str,
        serving_image: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config, self.names, self.data = config, Names(config), data
        self.training_image, self.source_url, self.serving_image = training_image, source_url, serving_image
        self.stack = cdk.Stack.of(self)
        self.start = self._definition()

    def _definition(self) -> sfn.IChainable:
        """The states, made in this construct; the first is `start`. PipelineStates defines them."""
        raise NotImplementedError

    def arn(self, resource: str, name: str) -> str:
        """A SageMaker ARN in this stack's account and region."""
        return self.stack.format_arn(service="sagemaker", resource=resource, resource_name=name)
