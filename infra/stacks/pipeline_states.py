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

The Train state: infra/stacks/pipeline_training_job.py; the promote step: infra/stacks/pipeline_promote.py;
the permissions beyond what CDK's tasks grant themselves: infra/stacks/pipeline_grants.py.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from infra.naming import api_tags
from infra.stacks.pipeline_grants import grant_pipeline
from infra.stacks.pipeline_promote import promote
from infra.stacks.pipeline_scope import PipelineScope
from infra.stacks.pipeline_training_job import train_state

GATE_METRIC = "eval_accuracy"  # logged by training as `eval_accuracy=0.91`, captured by the metric definitions


class PipelineStates(PipelineScope):
    """The state machine's states; `start` is the first (NameRun)."""

    def _definition(self) -> sfn.IChainable:
        failed = sfn.Fail(
            self, "TrainingFailed", cause="the training job failed or was stopped; see its logs", error="TrainingFailed"
        )
        name_run = sfn.Pass(self, "NameRun", parameters={"id": sfn.JsonPath.uuid()}, result_path="$.run")
        train = train_state(self)
        train.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        no_metric = sfn.Fail(
            self,
            "NoAccuracyMetric",
            error="NoAccuracyMetric",
            cause=f"the training job reported no {GATE_METRIC}; nothing was registered",
        )
        has_metrics, read_accuracy = self._read_accuracy(no_metric)
        read_accuracy.next(self._gate())
        return name_run.next(train).next(has_metrics)

    def _read_accuracy(self, no_metric: sfn.Fail) -> tuple[sfn.Choice, sfn.Pass]:
        """HasMetrics -> ReadTraining -> CountAccuracy -> HasAccuracy -> ReadAccuracy (`$.gate.accuracy`); a job
        with no metrics, or none named GATE_METRIC, goes to `no_metric`."""
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
        read_training.next(count).next(has_accuracy)
        return has_metrics, read_accuracy

    def _gate(self) -> sfn.Choice:
        """AccuracyGate: at or above promote_min_accuracy, register Approved and promote (where there is an
        endpoint); below, register Rejected and keep the current model."""
        approved = self._register("RegisterApproved", "Approved")
        rejected = self._register("RegisterRejected", "Rejected").next(
            sfn.Succeed(self, "KeptCurrentModel", comment="below the accuracy gate: registered as Rejected")
        )
        if self.config.endpoint.enabled:
            approved.next(promote(self))
        else:
            approved.next(sfn.Succeed(self, "RegisteredNoEndpoint", comment="this environment has no endpoint"))
        return (
            sfn.Choice(self, "AccuracyGate")
            .when(
                sfn.Condition.number_greater_than_equals("$.gate.accuracy", self.config.training.promote_min_accuracy),
                approved,
            )
            .otherwise(rejected)
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
            iam_resources=[self.arn("model-package", f"{self.names.model_package_group}/*")],
            result_selector={"ModelPackageArn": sfn.JsonPath.string_at("$.ModelPackageArn")},
            parameters=parameters,
        )

    def grant(self, role: iam.IRole) -> None:
        """What the states need beyond what CDK's tasks grant themselves (infra/stacks/pipeline_grants.py)."""
        grant_pipeline(self, role)
