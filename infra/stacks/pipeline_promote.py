"""The pipeline's promote step, after a model is registered Approved: create the model from its package, then
either a blue/green update of the endpoint to a new endpoint config, or (scale_to_zero) a rolling update of the
inference component; wait until it serves the new model, or mark the package Rejected and fail on rollback. The
registry and endpoint steps are CallAwsService tasks: data capture and DeploymentConfig are missing from CDK's
endpoint tasks."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from infra.naming import (
    api_tags,
    component_deployment_config,
    deployment_config,
    endpoint_config_properties,
    inference_component_specification,
    model_properties,
)
from infra.stacks.pipeline_scope import PipelineScope

MODEL_NAME = sfn.JsonPath.string_at("$.model.name")  # the model's and its endpoint config's name


def promote(states: PipelineScope) -> sfn.IChainable:
    """NameModel -> CreateModel -> the endpoint's update (blue/green, or the inference component's)."""
    name_model = sfn.Pass(
        states,
        "NameModel",
        result_path="$.model",
        parameters={"name": sfn.JsonPath.format(f"{states.names.prefix}-{{}}", sfn.JsonPath.string_at("$.run.id"))},
    )
    create_model = _create_model(states)
    if states.config.endpoint.scale_to_zero:
        return name_model.next(create_model).next(_update_component(states))
    return name_model.next(create_model).next(_update_endpoint(states))


def _create_model(states: PipelineScope) -> tasks.CallAwsService:
    return tasks.CallAwsService(
        states,
        "CreateModel",
        service="sagemaker",
        action="createModel",
        result_path=sfn.JsonPath.DISCARD,
        iam_resources=[states.arn("model", f"{states.names.prefix}-*")],
        parameters={
            "ModelName": MODEL_NAME,
            **model_properties(
                states.data.roles.model.role_arn,
                {"ModelPackageName": sfn.JsonPath.string_at("$.registered.ModelPackageArn")},
            ),
            "Tags": api_tags(states.config, "inference"),
        },
    )


def _update_endpoint(states: PipelineScope) -> sfn.IChainable:
    """A new endpoint config named after the model, a blue/green update to it under the rollback alarms, and a
    wait until the endpoint is InService on it."""
    config, names, data = states.config, states.names, states.data
    create_config = tasks.CallAwsService(
        states,
        "CreateEndpointConfig",
        service="sagemaker",
        action="createEndpointConfig",
        result_path=sfn.JsonPath.DISCARD,
        iam_resources=[states.arn("endpoint-config", f"{names.prefix}-*")],
        # the same properties as the inference stack's first endpoint config (infra/naming.py)
        parameters={
            "EndpointConfigName": MODEL_NAME,
            **endpoint_config_properties(config, MODEL_NAME, data.capture.bucket_name, data.key.key_arn),
            "Tags": api_tags(config, "inference"),
        },
    )
    update = tasks.CallAwsService(
        states,
        "BlueGreenUpdate",
        service="sagemaker",
        action="updateEndpoint",
        result_path=sfn.JsonPath.DISCARD,
        iam_resources=[states.arn("endpoint", names.endpoint), states.arn("endpoint-config", f"{names.prefix}-*")],
        parameters={
            "EndpointName": names.endpoint,
            "EndpointConfigName": MODEL_NAME,
            "RetainAllVariantProperties": True,  # keep the instance count autoscaling has set
            "DeploymentConfig": deployment_config(config, names),
        },
    )
    wait = sfn.Wait(states, "WaitForDeployment", time=sfn.WaitTime.duration(cdk.Duration.minutes(1)))
    describe = tasks.CallAwsService(
        states,
        "DescribeEndpoint",
        service="sagemaker",
        action="describeEndpoint",
        result_path="$.endpoint",
        iam_resources=[states.arn("endpoint", names.endpoint)],
        parameters={"EndpointName": names.endpoint},
        result_selector={
            "EndpointStatus": sfn.JsonPath.string_at("$.EndpointStatus"),
            "EndpointConfigName": sfn.JsonPath.string_at("$.EndpointConfigName"),
        },
    )
    settled = _settled(
        states,
        "DeploymentSettled",
        wait,
        status="$.endpoint.EndpointStatus",
        busy=("Updating", "SystemUpdating", "RollingBack"),
        serving="$.endpoint.EndpointConfigName",
        what="the endpoint",
        rolled_back="the endpoint is InService on its previous model: the deployment failed "
        "or a rollback alarm fired; see the endpoint's events",
    )
    return create_config.next(update).next(wait).next(describe).next(settled)


def _update_component(states: PipelineScope) -> sfn.IChainable:
    """A scale_to_zero endpoint serves its model as an inference component: the new model replaces the
    component's (a rolling update, one copy at a time, under the rollback alarms), and the endpoint and its
    config stay. Settled: InService with the new model; InService with the old one is a rollback. A component
    at 0 copies takes the new model at once; its next wake-up serves it."""
    config, names = states.config, states.names
    component = names.inference_component
    update = tasks.CallAwsService(
        states,
        "UpdateComponent",
        service="sagemaker",
        action="updateInferenceComponent",
        result_path=sfn.JsonPath.DISCARD,
        iam_resources=[states.arn("inference-component", component)],
        parameters={
            "InferenceComponentName": component,
            "Specification": inference_component_specification(MODEL_NAME),
            "DeploymentConfig": component_deployment_config(config, names),
        },
    )
    wait = sfn.Wait(states, "WaitForComponent", time=sfn.WaitTime.duration(cdk.Duration.minutes(1)))
    describe = tasks.CallAwsService(
        states,
        "DescribeComponent",
        service="sagemaker",
        action="describeInferenceComponent",
        result_path="$.component",
        iam_resources=[states.arn("inference-component", component)],
        parameters={"InferenceComponentName": component},
        result_selector={
            "Status": sfn.JsonPath.string_at("$.InferenceComponentStatus"),
            "ModelName": sfn.JsonPath.string_at("$.Specification.ModelName"),
        },
    )
    settled = _settled(
        states,
        "ComponentSettled",
        wait,
        status="$.component.Status",
        busy=("Updating",),
        serving="$.component.ModelName",
        what="the inference component",
        rolled_back="the inference component is not serving the new model: the update failed "
        "or a rollback alarm fired; see the component's FailureReason",
    )
    return update.next(wait).next(describe).next(settled)


def _settled(
    states: PipelineScope,
    choice_id: str,
    wait: sfn.Wait,
    *,
    status: str,
    busy: tuple[str, ...],
    serving: str,
    what: str,
    rolled_back: str,
) -> sfn.Choice:
    """After an update: still `busy` -> wait again; InService with `serving` equal to the new model's name ->
    Promoted; anything else -> MarkRolledBack -> RolledBack."""
    return (
        sfn.Choice(states, choice_id)
        .when(sfn.Condition.or_(*(sfn.Condition.string_equals(status, state) for state in busy)), wait)
        .when(
            sfn.Condition.and_(
                sfn.Condition.string_equals(status, "InService"),
                sfn.Condition.string_equals_json_path(serving, "$.model.name"),
            ),
            sfn.Succeed(states, "Promoted", comment=f"{what} serves the new model"),
        )
        .otherwise(_rolled_back(states, rolled_back))
    )


def _rolled_back(states: PipelineScope, cause: str) -> sfn.IChainable:
    """The package that did not deploy is marked Rejected: the next run's champion (the newest Approved package,
    infra/stacks/pipeline_inputs.py) is then the model the endpoint still serves."""
    mark = tasks.CallAwsService(
        states,
        "MarkRolledBack",
        service="sagemaker",
        action="updateModelPackage",
        result_path=sfn.JsonPath.DISCARD,
        iam_resources=[states.arn("model-package", f"{states.names.model_package_group}/*")],
        parameters={
            "ModelPackageArn": sfn.JsonPath.string_at("$.registered.ModelPackageArn"),
            "ModelApprovalStatus": "Rejected",
            "ApprovalDescription": f"deployment rolled back: {cause}",
        },
    )
    return mark.next(sfn.Fail(states, "RolledBack", error="DeploymentRolledBack", cause=cause))
