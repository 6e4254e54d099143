"""The training pipeline's states and the permissions each one needs (the training stack owns the state machine).

    NameRun -> Train (spot, S3 checkpoints; the .sync result is the job's description)
      -> HasMetrics: no FinalMetricDataList at all -> NoAccuracyMetric
      -> ReadTraining -> CountAccuracy -> HasAccuracy: no eval_accuracy among them -> NoAccuracyMetric
      -> AccuracyGate
           >= promote_min_accuracy: register Approved -> [create model, endpoint config, blue/green update,
                                    wait until the endpoint is InService on the new config, or fail on rollback;
                                    scale_to_zero: create model, rolling update of the inference component, wait
                                    until it is InService with the new model, or fail on rollback]
           below:                   register Rejected -> done (the endpoint keeps its model)

Why the metric is read in two steps: DescribeTrainingJob has no FinalMetricDataList when the job logged no
metric, and in Step Functions a JSONPath through a missing field is a `States.Runtime` error, which no Catch
sees. `IsPresent` is tested first; the filter then runs on a list that exists, where no match gives [].

CDK's SageMakerCreateTrainingJob task has no managed-spot or checkpoint settings, so the job is a Task state
with the full CreateTrainingJob parameters; the registry and endpoint steps are CallAwsService tasks for the
same reason (data capture and DeploymentConfig are missing from CDK's endpoint tasks).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from golive.contracts.training_metrics import SAGEMAKER_METRIC_DEFINITIONS
from infra.assets.training_source import ENTRY_POINT
from infra.config import EnvironmentConfig
from infra.naming import (
    CHECKPOINT_LOCAL_PATH,
    Names,
    api_tags,
    component_deployment_config,
    deployment_config,
    endpoint_config_properties,
    inference_component_specification,
    model_properties,
)
from infra.stacks.data_stack import DataStack
from infra.stacks.sagemaker_roles import acknowledge_iam5

GATE_METRIC = "eval_accuracy"  # logged by training as `eval_accuracy=0.91`, captured by the metric definitions
# the .sync integration follows the job through this EventBridge rule, which Step Functions manages
SYNC_RULE = "StepFunctionsGetEventsForSageMakerTrainingJobsRule"


class PipelineStates(Construct):
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
        config = self.config
        failed = sfn.Fail(
            self, "TrainingFailed", cause="the training job failed or was stopped; see its logs", error="TrainingFailed"
        )
        name_run = sfn.Pass(self, "NameRun", parameters={"id": sfn.JsonPath.uuid()}, result_path="$.run")
        train = self._train_state()
        train.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        no_metric = sfn.Fail(
            self,
            "NoAccuracyMetric",
            error="NoAccuracyMetric",
            cause=f"the training job reported no {GATE_METRIC}; nothing was registered",
        )
        # keep only what later states use (the job's description is large); Accuracy is [value] or []
        read_training = sfn.Pass(
            self,
            "ReadTraining",
            parameters={
                "run": sfn.JsonPath.object_at("$.run"),
                "training": {
                    "TrainingJobName": sfn.JsonPath.string_at("$.job.TrainingJobName"),
                    "ModelArtifacts": sfn.JsonPath.string_at("$.job.ModelArtifacts.S3ModelArtifacts"),
                    "Accuracy": sfn.JsonPath.list_at(
                        f"$.job.FinalMetricDataList[?(@.MetricName == '{GATE_METRIC}')].Value"
                    ),
                    "BillableTimeInSeconds": sfn.JsonPath.number_at("$.job.BillableTimeInSeconds"),
                },
            },
        )
        has_metrics = (
            sfn.Choice(self, "HasMetrics")
            .when(sfn.Condition.is_present("$.job.FinalMetricDataList"), read_training)
            .otherwise(no_metric)
        )
        count = sfn.Pass(
            self,
            "CountAccuracy",
            result_path="$.gate",
            parameters={
                "values": sfn.JsonPath.list_at("$.training.Accuracy"),
                "count": sfn.JsonPath.array_length(sfn.JsonPath.list_at("$.training.Accuracy")),
            },
        )
        read_accuracy = sfn.Pass(
            self,
            "ReadAccuracy",
            result_path="$.gate",
            parameters={"accuracy": sfn.JsonPath.array_get_item(sfn.JsonPath.list_at("$.gate.values"), 0)},
        )
        has_accuracy = (
            sfn.Choice(self, "HasAccuracy")
            .when(sfn.Condition.number_equals("$.gate.count", 0), no_metric)
            .otherwise(read_accuracy)
        )

        approved = self._register("RegisterApproved", "Approved")
        rejected = self._register("RegisterRejected", "Rejected").next(
            sfn.Succeed(self, "KeptCurrentModel", comment="below the accuracy gate: registered as Rejected")
        )
        if config.endpoint.enabled:
            approved.next(self._promote())
        else:
            approved.next(sfn.Succeed(self, "RegisteredNoEndpoint", comment="this environment has no endpoint"))
        gate = (
            sfn.Choice(self, "AccuracyGate")
            .when(
                sfn.Condition.number_greater_than_equals("$.gate.accuracy", config.training.promote_min_accuracy),
                approved,
            )
            .otherwise(rejected)
        )
        read_training.next(count).next(has_accuracy)
        read_accuracy.next(gate)
        return name_run.next(train).next(has_metrics)

    def _train_state(self) -> sfn.CustomState:
        config, data = self.config.training, self.data
        hyperparameters = {
            "sagemaker_program": ENTRY_POINT,
            "sagemaker_submit_directory": self.source_url,
            "sagemaker_region": self.stack.region,
            **config.hyperparameters,
        }
        if config.distributed:  # the toolkit launches torchrun, one process per GPU on every instance
            hyperparameters["sagemaker_torch_distributed_enabled"] = "true"
        stopping = {"MaxRuntimeInSeconds": int(config.max_run_hours * 3600)}
        if config.use_spot:
            stopping["MaxWaitTimeInSeconds"] = int(config.max_wait_hours * 3600)
        parameters = {
            "TrainingJobName.$": f"States.Format('{self.names.prefix}-{{}}', $.run.id)",
            "RoleArn": data.roles.training.role_arn,
            "AlgorithmSpecification": {
                "TrainingImage": self.training_image,
                "TrainingInputMode": "File",
                "MetricDefinitions": SAGEMAKER_METRIC_DEFINITIONS,
            },
            "HyperParameters": hyperparameters,
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": f"s3://{data.data.bucket_name}/train/",
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                }
            ],
            "OutputDataConfig": {
                "S3OutputPath": f"s3://{data.models.bucket_name}/training-output/",
                "KmsKeyId": data.key.key_arn,
            },
            # GPU instances have local NVMe storage, encrypted by the hardware; SageMaker refuses a
            # VolumeKmsKeyId for them
            "ResourceConfig": {
                "InstanceType": config.instance_type,
                "InstanceCount": config.instance_count,
                "VolumeSizeInGB": config.volume_size_gb,
            },
            "StoppingCondition": stopping,
            "EnableManagedSpotTraining": config.use_spot,
            "CheckpointConfig": {
                "S3Uri.$": f"States.Format('s3://{data.models.bucket_name}/checkpoints/{{}}/', $.run.id)",
                "LocalPath": CHECKPOINT_LOCAL_PATH,
            },
            "EnableInterContainerTrafficEncryption": config.instance_count > 1,
            "Tags": api_tags(self.config, "training"),
        }
        return sfn.CustomState(
            self,
            "Train",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{self.stack.partition}:states:::sagemaker:createTrainingJob.sync",
                "Parameters": parameters,
                "ResultPath": "$.job",
            },
        )

    def _register(self, state_id: str, status: str) -> tasks.CallAwsService:
        parameters = {
            "ModelPackageGroupName": self.names.model_package_group,
            "ModelApprovalStatus": status,
            "ModelPackageDescription": sfn.JsonPath.format(
                f"{GATE_METRIC} {{}} from training job {{}}",
                sfn.JsonPath.string_at("$.gate.accuracy"),
                sfn.JsonPath.string_at("$.training.TrainingJobName"),
            ),
            # where the model is, whether or not an InferenceSpecification names it too
            "CustomerMetadataProperties": {
                "TrainingJobName": sfn.JsonPath.string_at("$.training.TrainingJobName"),
                "ModelDataUrl": sfn.JsonPath.string_at("$.training.ModelArtifacts"),
            },
            "Tags": api_tags(self.config, "training"),
        }
        if self.serving_image:  # no endpoint, no serving image: UpdateModelPackage can add one later
            parameters["InferenceSpecification"] = {
                "Containers": [
                    {"Image": self.serving_image, "ModelDataUrl": sfn.JsonPath.string_at("$.training.ModelArtifacts")}
                ],
                "SupportedContentTypes": ["application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
                "SupportedRealtimeInferenceInstanceTypes": [self.config.endpoint.instance_type],
            }
        return tasks.CallAwsService(
            self,
            state_id,
            service="sagemaker",
            action="createModelPackage",
            result_path="$.registered",
            iam_resources=[self._arn("model-package", f"{self.names.model_package_group}/*")],
            result_selector={"ModelPackageArn": sfn.JsonPath.string_at("$.ModelPackageArn")},
            parameters=parameters,
        )

    def _promote(self) -> sfn.IChainable:
        config, names = self.config, self.names
        name_model = sfn.Pass(
            self,
            "NameModel",
            result_path="$.model",
            parameters={"name": sfn.JsonPath.format(f"{names.prefix}-{{}}", sfn.JsonPath.string_at("$.run.id"))},
        )
        model_name = sfn.JsonPath.string_at("$.model.name")  # the model's and its endpoint config's name
        create_model = tasks.CallAwsService(
            self,
            "CreateModel",
            service="sagemaker",
            action="createModel",
            result_path=sfn.JsonPath.DISCARD,
            iam_resources=[self._arn("model", f"{names.prefix}-*")],
            parameters={
                "ModelName": model_name,
                **model_properties(
                    self.data.roles.model.role_arn,
                    {"ModelPackageName": sfn.JsonPath.string_at("$.registered.ModelPackageArn")},
                ),
                "Tags": api_tags(config, "inference"),
            },
        )
        if config.endpoint.scale_to_zero:
            return name_model.next(create_model).next(self._update_component())
        create_config = tasks.CallAwsService(
            self,
            "CreateEndpointConfig",
            service="sagemaker",
            action="createEndpointConfig",
            result_path=sfn.JsonPath.DISCARD,
            iam_resources=[self._arn("endpoint-config", f"{names.prefix}-*")],
            # the same properties as the inference stack's first endpoint config (infra/naming.py)
            parameters={
                "EndpointConfigName": model_name,
                **endpoint_config_properties(config, model_name, self.data.capture.bucket_name, self.data.key.key_arn),
                "Tags": api_tags(config, "inference"),
            },
        )
        update = tasks.CallAwsService(
            self,
            "BlueGreenUpdate",
            service="sagemaker",
            action="updateEndpoint",
            result_path=sfn.JsonPath.DISCARD,
            iam_resources=[self._arn("endpoint", names.endpoint), self._arn("endpoint-config", f"{names.prefix}-*")],
            parameters={
                "EndpointName": names.endpoint,
                "EndpointConfigName": model_name,
                "RetainAllVariantProperties": True,  # keep the instance count autoscaling has set
                "DeploymentConfig": deployment_config(config, names),
            },
        )
        wait = sfn.Wait(self, "WaitForDeployment", time=sfn.WaitTime.duration(cdk.Duration.minutes(1)))
        describe = tasks.CallAwsService(
            self,
            "DescribeEndpoint",
            service="sagemaker",
            action="describeEndpoint",
            result_path="$.endpoint",
            iam_resources=[self._arn("endpoint", names.endpoint)],
            parameters={"EndpointName": names.endpoint},
            result_selector={
                "EndpointStatus": sfn.JsonPath.string_at("$.EndpointStatus"),
                "EndpointConfigName": sfn.JsonPath.string_at("$.EndpointConfigName"),
            },
        )
        settled = self._settled(
            "DeploymentSettled",
            wait,
            status="$.endpoint.EndpointStatus",
            busy=("Updating", "SystemUpdating", "RollingBack"),
            serving="$.endpoint.EndpointConfigName",
            what="the endpoint",
            rolled_back="the endpoint is InService on its previous model: the deployment failed "
            "or a rollback alarm fired; see the endpoint's events",
        )
        return name_model.next(create_model).next(create_config).next(update).next(wait).next(describe).next(settled)

    def _update_component(self) -> sfn.IChainable:
        """A scale_to_zero endpoint serves its model as an inference component: the new model replaces the
        component's (a rolling update, one copy at a time, under the rollback alarms), and the endpoint and its
        config stay. Settled: InService with the new model; InService with the old one is a rollback. A component
        at 0 copies takes the new model at once; its next wake-up serves it."""
        config, names = self.config, self.names
        component = names.inference_component
        update = tasks.CallAwsService(
            self,
            "UpdateComponent",
            service="sagemaker",
            action="updateInferenceComponent",
            result_path=sfn.JsonPath.DISCARD,
            iam_resources=[self._arn("inference-component", component)],
            parameters={
                "InferenceComponentName": component,
                "Specification": inference_component_specification(sfn.JsonPath.string_at("$.model.name")),
                "DeploymentConfig": component_deployment_config(config, names),
            },
        )
        wait = sfn.Wait(self, "WaitForComponent", time=sfn.WaitTime.duration(cdk.Duration.minutes(1)))
        describe = tasks.CallAwsService(
            self,
            "DescribeComponent",
            service="sagemaker",
            action="describeInferenceComponent",
            result_path="$.component",
            iam_resources=[self._arn("inference-component", component)],
            parameters={"InferenceComponentName": component},
            result_selector={
                "Status": sfn.JsonPath.string_at("$.InferenceComponentStatus"),
                "ModelName": sfn.JsonPath.string_at("$.Specification.ModelName"),
            },
        )
        settled = self._settled(
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
        self,
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
        Promoted; anything else -> RolledBack."""
        return (
            sfn.Choice(self, choice_id)
            .when(sfn.Condition.or_(*(sfn.Condition.string_equals(status, state) for state in busy)), wait)
            .when(
                sfn.Condition.and_(
                    sfn.Condition.string_equals(status, "InService"),
                    sfn.Condition.string_equals_json_path(serving, "$.model.name"),
                ),
                sfn.Succeed(self, "Promoted", comment=f"{what} serves the new model"),
            )
            .otherwise(sfn.Fail(self, "RolledBack", error="DeploymentRolledBack", cause=rolled_back))
        )

    def _arn(self, resource: str, name: str) -> str:
        return self.stack.format_arn(service="sagemaker", resource=resource, resource_name=name)

    def grant(self, role: iam.IRole) -> None:
        """What the states need beyond the actions CDK's CallAwsService tasks grant themselves, per AWS's documented
        policies: the .sync training integration (Step Functions' policy for createTrainingJob.sync, ListTags held
        to our jobs), AddTags for the tags given at creation, the model role passed to CreateModel and
        DescribeModelPackage for the package it is created from, and DescribeAlarms on the rollback alarms that
        the blue/green (or component) update passes (SageMaker deployment guardrails read them as the caller)."""
        names, stack, prefix, group = self.names, self.stack, self.names.prefix, self.names.model_package_group
        job = self._arn("training-job", f"{prefix}-*")
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:ListTags",
                    "sagemaker:AddTags",
                ],
                resources=[job],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[stack.format_arn(service="events", resource="rule", resource_name=SYNC_RULE)],
            )
        )
        package = self._arn("model-package", f"{group}/*")
        passed = [self.data.roles.training.role_arn]
        tagged = [package]
        if self.config.endpoint.enabled:
            passed.append(self.data.roles.model.role_arn)
            tagged.append(self._arn("model", f"{prefix}-*"))
            if not self.config.endpoint.scale_to_zero:  # a component update creates no endpoint config
                tagged.append(self._arn("endpoint-config", f"{prefix}-*"))
            role.add_to_principal_policy(
                iam.PolicyStatement(actions=["sagemaker:DescribeModelPackage"], resources=[package])
            )
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["cloudwatch:DescribeAlarms"],
                    resources=[
                        stack.format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name=alarm,
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                        for alarm in names.rollback_alarms
                    ],
                )
            )
        role.add_to_principal_policy(iam.PolicyStatement(actions=["sagemaker:AddTags"], resources=tagged))
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=passed,
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        region = "<AWS::Region>" if cdk.Token.is_unresolved(stack.region) else stack.region
        arn = f"arn:<AWS::Partition>:sagemaker:{region}:<AWS::AccountId>"
        findings = {
            f"Resource::{arn}:training-job/{prefix}-*": "jobs are named per run ({prefix}-<uuid>); only ours",
            f"Resource::{arn}:model-package/{group}/*": "every version in this environment's model package group",
            "Resource::*": "X-Ray's PutTraceSegments/PutTelemetryRecords and the log delivery actions take no "
            "resource ARN; CDK adds them for tracing and logging",
        }
        if self.config.endpoint.enabled:
            findings[f"Resource::{arn}:model/{prefix}-*"] = "models are named per run; only this environment's"
        if self.config.endpoint.enabled and not self.config.endpoint.scale_to_zero:
            findings[f"Resource::{arn}:endpoint-config/{prefix}-*"] = (
                "endpoint configs are named per run; only this environment's"
            )
        acknowledge_iam5(role, findings)
