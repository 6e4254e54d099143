"""Training: a Step Functions state machine that trains on a SageMaker GPU instance, registers the model
in the Model Registry and promotes it to the endpoint only when its accuracy clears the configured gate.

    Name run -> Train (spot, S3 checkpoints) -> Read accuracy -> gate
      >= promote_min_accuracy: register Approved -> [create model, endpoint config, blue/green update,
                               wait until the endpoint is InService on the new config, or fail on rollback]
      below:                   register Rejected -> done (the endpoint keeps its model)

The training job runs our `training/` code (a reproducible source tarball asset) on AWS's PyTorch
training image, resolved with the sagemaker SDK at synth. CDK's SageMakerCreateTrainingJob task has
no managed-spot or checkpoint settings, so the job is a Task state with the full CreateTrainingJob
parameters; the registry and endpoint steps are CallAwsService tasks for the same reason (data
capture and DeploymentConfig are missing from CDK's endpoint tasks).
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from golive.metric_lines import SAGEMAKER_METRIC_DEFINITIONS
from golive.training_source import ENTRY_POINT
from infra.compliance import INLINE_POLICY, accept
from infra.config import EnvironmentConfig
from infra.naming import CHECKPOINT_LOCAL_PATH, VARIANT, Names, api_tags, data_capture_config, deployment_config
from infra.stacks.data_stack import DataStack
from infra.stacks.sagemaker_roles import acknowledge_iam5

GATE_METRIC = "eval_accuracy"  # logged by training as `eval_accuracy=0.91`, captured by the metric definitions


def training_image_uri(config: EnvironmentConfig) -> str:
    """AWS's PyTorch training image for this region and instance type, resolved offline by the SDK."""
    from sagemaker.core import image_uris

    return image_uris.retrieve(framework="pytorch", region=config.region, version=config.training.pytorch_version,
                               py_version=config.training.py_version, instance_type=config.training.instance_type,
                               image_scope="training")


class TrainingStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, config: EnvironmentConfig, data: DataStack,
                 training_image: str, source_tarball: Path, image_context: Path, logs_key: kms.IKey,
                 **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config, self.names, self.data = config, Names(config), data
        self.training_image = training_image

        # the endpoint's serving image: built by `cdk deploy` (Docker there, not here), used by every model
        self.endpoint_image = ecr_assets.DockerImageAsset(self, "EndpointImage", directory=str(image_context),
                                                          platform=ecr_assets.Platform.LINUX_AMD64)
        self.source = s3_assets.Asset(self, "TrainingSource", path=str(source_tarball))
        self.training_role, self.model_role = data.roles.training, data.roles.model
        self.model_group = sagemaker.CfnModelPackageGroup(
            self, "ModelPackageGroup", model_package_group_name=self.names.model_package_group,
            model_package_group_description=f"golive {config.name}: every trained model, Approved when it "
                                            f"cleared {GATE_METRIC} >= {config.training.promote_min_accuracy}")

        log_group = logs.LogGroup(self, "PipelineLogs", retention=logs.RetentionDays.THREE_MONTHS,
                                  encryption_key=logs_key, removal_policy=cdk.RemovalPolicy.DESTROY)
        self.state_machine = sfn.StateMachine(
            self, "Pipeline", state_machine_name=f"{self.names.prefix}-training",
            definition_body=sfn.DefinitionBody.from_chainable(self._definition()),
            tracing_enabled=True, timeout=cdk.Duration.hours(config.training.max_wait_hours + 2),
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        self._grant_pipeline(self.state_machine.role)
        # CDK makes the state machine depend on the role it already references (cfn-lint W3005); keep only the
        # dependency that matters: the role's policy must exist before the first execution
        policy = self.state_machine.role.node.find_child("DefaultPolicy").node.default_child
        self.state_machine.node.default_child.add_override("DependsOn", [self.get_logical_id(policy)])

        cdk.CfnOutput(self, "StateMachineArn", value=self.state_machine.state_machine_arn,
                      description="aws stepfunctions start-execution --state-machine-arn <arn>")

    # --- the state machine ------------------------------------------------------------------------------------

    def _definition(self) -> sfn.IChainable:
        config, names = self.config, self.names
        failed = sfn.Fail(self, "TrainingFailed", cause="the training job failed or was stopped; see its logs",
                          error="TrainingFailed")
        name_run = sfn.Pass(self, "NameRun", parameters={"id": sfn.JsonPath.uuid()}, result_path="$.run")
        train = self._train_state()
        train.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        # the job's final metrics, filtered to the gate metric in the Train state's ResultSelector: [value] or []
        count = sfn.Pass(self, "CountAccuracy", result_path="$.gate", parameters={
            "values": sfn.JsonPath.list_at("$.training.Accuracy"),
            "count": sfn.JsonPath.array_length(sfn.JsonPath.list_at("$.training.Accuracy"))})
        read_accuracy = sfn.Pass(self, "ReadAccuracy", result_path="$.gate", parameters={
            "accuracy": sfn.JsonPath.array_get_item(sfn.JsonPath.list_at("$.gate.values"), 0)})
        no_metric = sfn.Fail(self, "NoAccuracyMetric", error="NoAccuracyMetric",
                             cause=f"the training job reported no {GATE_METRIC}; nothing was registered")
        has_metric = sfn.Choice(self, "HasAccuracy").when(
            sfn.Condition.number_equals("$.gate.count", 0), no_metric).otherwise(read_accuracy)

        approved = self._register("RegisterApproved", "Approved")
        rejected = self._register("RegisterRejected", "Rejected").next(
            sfn.Succeed(self, "KeptCurrentModel", comment="below the accuracy gate: registered as Rejected"))
        if config.endpoint.enabled:
            approved.next(self._promote())
        else:
            approved.next(sfn.Succeed(self, "RegisteredNoEndpoint", comment="this environment has no endpoint"))
        gate = sfn.Choice(self, "AccuracyGate").when(
            sfn.Condition.number_greater_than_equals("$.gate.accuracy", config.training.promote_min_accuracy),
            approved).otherwise(rejected)
        read_accuracy.next(gate)
        return name_run.next(train).next(count).next(has_metric)

    def _train_state(self) -> sfn.CustomState:
        config, data = self.config.training, self.data
        hyperparameters = {"sagemaker_program": ENTRY_POINT, "sagemaker_submit_directory": self.source.s3_object_url,
                           "sagemaker_region": self.region, **config.hyperparameters}
        if config.instance_count > 1:  # the toolkit launches torchrun across instances; training is DDP-ready
            hyperparameters["sagemaker_torch_distributed_enabled"] = "true"
        stopping = {"MaxRuntimeInSeconds": int(config.max_run_hours * 3600)}
        if config.use_spot:
            stopping["MaxWaitTimeInSeconds"] = int(config.max_wait_hours * 3600)
        parameters = {
            "TrainingJobName.$": f"States.Format('{self.names.prefix}-{{}}', $.run.id)",
            "RoleArn": self.training_role.role_arn,
            "AlgorithmSpecification": {"TrainingImage": self.training_image, "TrainingInputMode": "File",
                                       "MetricDefinitions": SAGEMAKER_METRIC_DEFINITIONS},
            "HyperParameters": hyperparameters,
            "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": f"s3://{data.data.bucket_name}/train/",
                "S3DataDistributionType": "FullyReplicated"}}}],
            "OutputDataConfig": {"S3OutputPath": f"s3://{data.models.bucket_name}/training-output/",
                                 "KmsKeyId": data.key.key_arn},
            # GPU instances have local NVMe storage, encrypted by the hardware; SageMaker refuses a
            # VolumeKmsKeyId for them
            "ResourceConfig": {"InstanceType": config.instance_type, "InstanceCount": config.instance_count,
                               "VolumeSizeInGB": config.volume_size_gb},
            "StoppingCondition": stopping,
            "EnableManagedSpotTraining": config.use_spot,
            "CheckpointConfig": {"S3Uri.$": f"States.Format('s3://{data.models.bucket_name}/checkpoints/{{}}/', $.run.id)",
                                 "LocalPath": CHECKPOINT_LOCAL_PATH},
            "EnableInterContainerTrafficEncryption": config.instance_count > 1,
            "Tags": api_tags(self.config, "training"),
        }
        return sfn.CustomState(self, "Train", state_json={
            "Type": "Task",
            "Resource": f"arn:{self.partition}:states:::sagemaker:createTrainingJob.sync",
            "Parameters": parameters,
            "ResultSelector": {"TrainingJobName.$": "$.TrainingJobName",
                               "ModelArtifacts.$": "$.ModelArtifacts.S3ModelArtifacts",
                               "Accuracy.$": f"$.FinalMetricDataList[?(@.MetricName == '{GATE_METRIC}')].Value",
                               "BillableTimeInSeconds.$": "$.BillableTimeInSeconds"},
            "ResultPath": "$.training",
        })

    def _register(self, state_id: str, status: str) -> tasks.CallAwsService:
        return tasks.CallAwsService(
            self, state_id, service="sagemaker", action="createModelPackage", result_path="$.registered",
            iam_resources=[self.format_arn(service="sagemaker", resource="model-package",
                                           resource_name=f"{self.names.model_package_group}/*")],
            result_selector={"ModelPackageArn": sfn.JsonPath.string_at("$.ModelPackageArn")},
            parameters={
                "ModelPackageGroupName": self.names.model_package_group,
                "ModelApprovalStatus": status,
                "ModelPackageDescription": sfn.JsonPath.format(
                    f"{GATE_METRIC} {{}} from training job {{}}", sfn.JsonPath.string_at("$.gate.accuracy"),
                    sfn.JsonPath.string_at("$.training.TrainingJobName")),
                "InferenceSpecification": {
                    "Containers": [{"Image": self.endpoint_image.image_uri,
                                    "ModelDataUrl": sfn.JsonPath.string_at("$.training.ModelArtifacts")}],
                    "SupportedContentTypes": ["application/json"],
                    "SupportedResponseMIMETypes": ["application/json"],
                    "SupportedRealtimeInferenceInstanceTypes": [self.config.endpoint.instance_type],
                },
                "Tags": api_tags(self.config, "training"),
            })

    def _promote(self) -> sfn.IChainable:
        config, names = self.config, self.names
        name_model = sfn.Pass(self, "NameModel", result_path="$.model", parameters={
            "name": sfn.JsonPath.format(f"{names.prefix}-{{}}", sfn.JsonPath.string_at("$.run.id"))})
        model_name = sfn.JsonPath.string_at("$.model.name")  # the model's and its endpoint config's name
        create_model = tasks.CallAwsService(
            self, "CreateModel", service="sagemaker", action="createModel", result_path=sfn.JsonPath.DISCARD,
            iam_resources=[self._arn("model", f"{names.prefix}-*")],
            parameters={"ModelName": model_name, "ExecutionRoleArn": self.model_role.role_arn,
                        "PrimaryContainer": {"ModelPackageName": sfn.JsonPath.string_at("$.registered.ModelPackageArn")},
                        "EnableNetworkIsolation": True, "Tags": api_tags(config, "inference")})
        create_config = tasks.CallAwsService(
            self, "CreateEndpointConfig", service="sagemaker", action="createEndpointConfig",
            result_path=sfn.JsonPath.DISCARD, iam_resources=[self._arn("endpoint-config", f"{names.prefix}-*")],
            parameters={"EndpointConfigName": model_name,
                        "ProductionVariants": [{"VariantName": VARIANT, "ModelName": model_name,
                                                "InstanceType": config.endpoint.instance_type,
                                                "InitialInstanceCount": config.endpoint.min_instances}],
                        "DataCaptureConfig": data_capture_config(config, self.data.capture.bucket_name,
                                                                 self.data.key.key_arn),
                        "Tags": api_tags(config, "inference")})
        update = tasks.CallAwsService(
            self, "BlueGreenUpdate", service="sagemaker", action="updateEndpoint", result_path=sfn.JsonPath.DISCARD,
            iam_resources=[self._arn("endpoint", names.endpoint), self._arn("endpoint-config", f"{names.prefix}-*")],
            parameters={"EndpointName": names.endpoint, "EndpointConfigName": model_name,
                        "RetainAllVariantProperties": True,  # keep the instance count autoscaling has set
                        "DeploymentConfig": deployment_config(config, names)})
        wait = sfn.Wait(self, "WaitForDeployment", time=sfn.WaitTime.duration(cdk.Duration.minutes(1)))
        describe = tasks.CallAwsService(
            self, "DescribeEndpoint", service="sagemaker", action="describeEndpoint", result_path="$.endpoint",
            iam_resources=[self._arn("endpoint", names.endpoint)], parameters={"EndpointName": names.endpoint},
            result_selector={"EndpointStatus": sfn.JsonPath.string_at("$.EndpointStatus"),
                             "EndpointConfigName": sfn.JsonPath.string_at("$.EndpointConfigName")})
        live = sfn.Succeed(self, "Promoted", comment="the endpoint serves the new model")
        rolled_back = sfn.Fail(self, "RolledBack", error="DeploymentRolledBack",
                               cause="the endpoint is InService on its previous model: the deployment failed or "
                                     "a rollback alarm fired; see the endpoint's events")
        settled = sfn.Choice(self, "DeploymentSettled").when(
            sfn.Condition.or_(sfn.Condition.string_equals("$.endpoint.EndpointStatus", "Updating"),
                              sfn.Condition.string_equals("$.endpoint.EndpointStatus", "SystemUpdating"),
                              sfn.Condition.string_equals("$.endpoint.EndpointStatus", "RollingBack")), wait
        ).when(sfn.Condition.and_(sfn.Condition.string_equals("$.endpoint.EndpointStatus", "InService"),
                                  sfn.Condition.string_equals_json_path("$.endpoint.EndpointConfigName", "$.model.name")),
               live).otherwise(rolled_back)
        return name_model.next(create_model).next(create_config).next(update).next(wait).next(describe).next(settled)

    def _arn(self, resource: str, name: str) -> str:
        return self.format_arn(service="sagemaker", resource=resource, resource_name=name)

    def _grant_pipeline(self, role: iam.IRole) -> None:
        """The .sync training integration polls the job and listens for its events through this rule."""
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob",
                     "sagemaker:AddTags"],
            resources=[self._arn("training-job", f"{self.names.prefix}-*")]))
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["sagemaker:AddTags", "sagemaker:DescribeModelPackage"],
            resources=[self._arn("model-package", f"{self.names.model_package_group}/*"),
                       self._arn("model-package-group", self.names.model_package_group),
                       self._arn("model", f"{self.names.prefix}-*"),
                       self._arn("endpoint-config", f"{self.names.prefix}-*")]))
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            resources=[self.format_arn(service="events", resource="rule",
                                       resource_name="StepFunctionsGetEventsForSageMakerTrainingJobsRule")]))
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["iam:PassRole"], resources=[self.training_role.role_arn, self.model_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}))
        region = "<AWS::Region>" if cdk.Token.is_unresolved(self.region) else self.region
        arn = f"arn:<AWS::Partition>:sagemaker:{region}:<AWS::AccountId>"
        prefix, group = self.names.prefix, self.names.model_package_group
        acknowledge_iam5(role, {
            f"Resource::{arn}:training-job/{prefix}-*": "jobs are named per run ({prefix}-<uuid>); only ours",
            f"Resource::{arn}:model-package/{group}/*": "every version in this environment's model package group",
            f"Resource::{arn}:model/{prefix}-*": "models are named per run; only this environment's",
            f"Resource::{arn}:endpoint-config/{prefix}-*": "endpoint configs are named per run; only this environment's",
            "Resource::*": "X-Ray's PutTraceSegments/PutTelemetryRecords and the log delivery actions take no "
                           "resource ARN; CDK adds them for tracing and logging",
        })
        accept(role, "CDK's task integrations and these grants write the role's statements, each scoped to this "
                     "environment's jobs, models and roles (tests assert it); a managed policy would hold the "
                     "same statements", *INLINE_POLICY)
